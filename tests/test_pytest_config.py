"""The test run is strict: own warnings are errors, xfails must fail, Qt exceptions fail tests."""

from __future__ import annotations

import warnings

import pytest


def test_a_warning_raised_in_project_code_is_an_error() -> None:
    with pytest.raises(DeprecationWarning, match="old API"):
        warnings.warn("old API", DeprecationWarning, stacklevel=1)  # attributed to tests.*


def test_a_third_party_warning_stays_a_warning() -> None:
    with warnings.catch_warnings(record=True) as seen:
        warnings.warn_explicit("their old API", DeprecationWarning, "somelib.py", 1, module="somelib")
    assert [str(w.message) for w in seen] == ["their old API"]


def test_xfail_is_strict_and_qt_exceptions_are_captured(request: pytest.FixtureRequest) -> None:
    from pytestqt.exceptions import _is_exception_capture_enabled

    assert request.config.getini("xfail_strict") is True
    # pytest-qt reads the ini value as a string: "false" would switch capture off.
    assert _is_exception_capture_enabled(request.node)


def test_an_exception_in_a_queued_gui_callback_is_captured_and_the_next_callback_still_runs(
    qtbot, tmp_path
) -> None:
    from core.store import open_store
    from desktop.taskman import TaskManager

    open_store(tmp_path / "ws").close()
    taskman = TaskManager(tmp_path / "ws")
    ran: list[str] = []

    def boom() -> None:
        raise RuntimeError("a broken callback")

    try:
        with qtbot.capture_exceptions() as caught:
            taskman.run_on_main(boom)
            taskman.run_on_main(lambda: ran.append("next"))
            qtbot.waitUntil(lambda: ran == ["next"])
        assert [str(exc) for _, exc, _ in caught] == ["a broken callback"]
    finally:
        taskman.shutdown()
