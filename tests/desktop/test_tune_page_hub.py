"""The Tune page's Download…: a hub model fetched by the real core function from the fake hub, then used.

The fake hub is the one ``tests/core/test_models_hub.py`` serves on
127.0.0.1. huggingface_hub reads ``HF_ENDPOINT`` once, when first imported
(and another test may have imported it already), so these tests point its
already-read constants at the server instead; the download itself is
``core.models_hub.download`` unchanged, run by the page's operation.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QInputDialog, QMessageBox, QProgressDialog, QPushButton

from core import models_local
from core.store import jobs as job_store
from core.store import open_store
from tests.core.test_models_hub import COMMIT, FakeHub, _hidden, fake_repo
from tests.desktop.tune_helpers import open_page, workspace_with_dataset

pytestmark = pytest.mark.skipif(
    __import__("importlib").util.find_spec("huggingface_hub") is None,
    reason="huggingface_hub (local-tuning extra) not installed")
needs_extra = pytest.mark.skipif(models_local.missing_extra() is not None,
                                 reason=f"local tuning extra absent: {models_local.missing_extra()}")
SLOW_PIECE = 64 * 1024


class _Trickle:
    """A socket writer that sends the weights in small pieces, slowly, so Cancel lands mid-file."""

    def __init__(self, raw) -> None:
        self.raw = raw

    def write(self, data: bytes) -> int:
        for i in range(0, len(data), SLOW_PIECE):
            self.raw.write(data[i:i + SLOW_PIECE])
            self.raw.flush()
            time.sleep(0.02)
        return len(data)

    def flush(self) -> None:
        self.raw.flush()


class SlowHub(FakeHub):
    def _file(self, h, repo_id: str, revision: str, name: str, body: bool) -> None:
        if body and name == "model.safetensors":
            h.wfile = _Trickle(h.wfile)
        super()._file(h, repo_id, revision, name, body)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return workspace_with_dataset(tmp_path)


def _point_at(hub: FakeHub, monkeypatch, tmp_path: Path) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", hub.url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", hub.url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", SLOW_PIECE)  # progress (and Cancel) per 64 KiB
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")


@pytest.fixture
def hub(monkeypatch, tmp_path: Path) -> Iterator[FakeHub]:
    with SlowHub() as h:
        h.add("org/tiny", fake_repo())
        _point_at(h, monkeypatch, tmp_path)
        yield h


@pytest.fixture
def page(qtbot, home: Path):
    page, taskman = open_page(qtbot, home, vertex=False)
    yield page
    page.close()
    taskman.shutdown()


def _shown_errors(page) -> list[QMessageBox]:
    return [b for b in page.findChildren(QMessageBox, "errorDialog") if b.isVisible()]


def _error_text(qtbot, page) -> str:
    """The one error dialog now shown (then closed)."""
    qtbot.waitUntil(lambda: bool(_shown_errors(page)), timeout=30_000)
    (box,) = _shown_errors(page)
    text = box.text()
    box.close()
    return text


def _type_base(page, text: str) -> None:
    page.base_edit.setText(text)
    page.base_edit.editingFinished.emit()


@needs_extra
def test_download_then_describe_then_start_uses_the_cached_folder(qtbot, page, hub: FakeHub, home: Path,
                                                                   monkeypatch) -> None:
    from core.tuning import local_lora

    _type_base(page, "org/tiny")
    assert "not downloaded" in page.base_info.text() and "Download" in page.base_info.text()

    page.download_button.click()  # takes the id typed in the field
    assert not page.download_button.isEnabled()
    qtbot.waitUntil(lambda: "licence apache-2.0" in page.base_info.text(), timeout=60_000)
    assert page.download_button.isEnabled() and page.base_edit.text() == "org/tiny"
    folder = home / "models" / "org--tiny"
    info = page.base_info.text()
    assert info.startswith(f"org/tiny (Hugging Face, commit {COMMIT[:8]})") and " MB on disk" in info
    assert "memory" in info
    assert (folder / "model.safetensors").read_bytes() == hub.repos["org/tiny"]["files"]["model.safetensors"]
    assert _hidden(home) == [] and hub.requests and all(body == 0 for _, _, body in hub.requests)

    # Start: the job records the cached folder, not the id, and asks the hub nothing. The training
    # process itself is not started (the fake weights are random bytes; test_local_tune_page trains).
    asked = len(hub.requests)
    spawned: list[Path] = []
    monkeypatch.setattr(local_lora, "_spawn", lambda jobdir: spawned.append(jobdir))
    page.start_button.click()
    qtbot.waitUntil(lambda: page.table.rowCount() == 1, timeout=30_000)
    with open_store(home, create=False) as store:
        (job,) = job_store.list_jobs(store)
    assert job.base_model == str(folder.resolve()) and job.settings["base"]["hub_id"] == "org/tiny"
    assert len(spawned) == 1 and len(hub.requests) == asked


@needs_extra
def test_generate_base_passes_the_cached_folder(qtbot, page, hub: FakeHub, home: Path, monkeypatch) -> None:
    from core.errors import UsageError
    from core.generation import local

    _type_base(page, "org/tiny")
    page.download_button.click()
    qtbot.waitUntil(lambda: "licence apache-2.0" in page.base_info.text(), timeout=60_000)
    seen: list[str | None] = []

    def resolve_target(store, spec, *, base=None, name=None):
        seen.append(base)
        raise UsageError("stopped here by the test")  # loading random weights is not the point

    monkeypatch.setattr(local, "resolve_target", resolve_target)
    page.generate_base_button.click()
    assert "stopped here by the test" in _error_text(qtbot, page)  # shown, not swallowed
    assert seen == [str((home / "models" / "org--tiny").resolve())]


def test_cancel_mid_file_leaves_nothing(qtbot, page, hub: FakeHub, home: Path) -> None:
    _type_base(page, "org/tiny")
    page.download_button.click()

    def mid_weights() -> bool:
        dialog = page.findChild(QProgressDialog, "progressDialog")
        return (dialog is not None and dialog.isVisible() and "model.safetensors" in dialog.labelText()
                and dialog.value() > 0)

    qtbot.waitUntil(mid_weights, timeout=60_000)
    dialog = page.findChild(QProgressDialog, "progressDialog")
    assert " of " in dialog.labelText() and " MB)" in dialog.labelText()
    dialog.findChild(QPushButton).click()
    qtbot.waitUntil(lambda: "download cancelled" in page.base_info.text(), timeout=30_000)
    assert page.download_button.isEnabled()
    assert not (home / "models" / "org--tiny").exists() and _hidden(home) == []
    assert _shown_errors(page) == []
    _type_base(page, "org/tiny")
    assert "not downloaded" in page.base_info.text()


def test_errors_are_shown_in_one_line_and_leave_nothing(qtbot, page, hub: FakeHub, home: Path,
                                                         monkeypatch) -> None:
    tip = page.base_edit.toolTip()
    assert "default" in tip and "PATH" in tip and "ORG/NAME" in tip and "Download" in tip
    # A field that holds no hub id: the page asks for one.
    _type_base(page, "default")
    page.download_button.click()
    qtbot.waitUntil(lambda: page.findChild(QInputDialog, "hubIdDialog") is not None)
    ask = page.findChild(QInputDialog, "hubIdDialog")
    ask.setTextValue("nobody/nothing")
    ask.accept()
    text = _error_text(qtbot, page)
    assert "nobody/nothing: no such model on the Hugging Face hub" in text and "\n" not in text
    qtbot.waitUntil(page.download_button.isEnabled)
    assert page.base_edit.text() == "default"
    assert not (home / "models").exists() or list((home / "models").iterdir()) == []

    # HF_HUB_OFFLINE in the app's environment refuses the download before any request.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    asked = len(hub.requests)
    _type_base(page, "org/tiny")
    page.download_button.click()
    text = _error_text(qtbot, page)
    assert "HF_HUB_OFFLINE" in text and "org/tiny" in text and "\n" not in text
    assert len(hub.requests) == asked and not (home / "models" / "org--tiny").exists()
