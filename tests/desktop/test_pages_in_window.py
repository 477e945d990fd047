"""The Dataset and Evaluate pages inside the real main window, not only standalone."""

from __future__ import annotations

from pathlib import Path


def test_dataset_page_shows_live_counts_in_the_main_window(qtbot, tmp_path: Path) -> None:
    from desktop.app import create_main_window

    win = create_main_window(home=tmp_path / "ws")  # first start: the demos are imported
    qtbot.addWidget(win)
    win.show()
    # the first-start rater dialog is up, as a new user sees it
    qtbot.waitUntil(lambda: win.rater_dialog is not None and win.rater_dialog.isVisible(), timeout=10_000)
    page = win.pages["Dataset"]
    win.show_page("Dataset")
    qtbot.waitUntil(lambda: page.preview is not None, timeout=10_000)
    # the demos are tagged: a default dataset leaves them out, a visible rule brings them in
    assert page.preview.targets == 0 and page.preview.removed["demo"] > 0
    assert "demonstration transcript" in page.removed_label.text()
    before = page.preview
    page.include_demo.setChecked(True)
    qtbot.waitUntil(lambda: page.preview is not before, timeout=10_000)
    assert page.preview.targets > 0
    assert page.counts_label.text().startswith(f"{page.preview.targets} targets")
    win.close()
    win.taskman.shutdown()
