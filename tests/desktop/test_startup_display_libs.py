"""`attune gui` on a Linux desktop missing the xcb plugin's system libraries.

Qt aborts the whole process from inside QApplication when a library of its
xcb plugin is missing, so the check runs first, from the command line, with
the library lookup faked here.
"""

from __future__ import annotations

import sys

import pytest

from cli import display_libs, main

X11 = {"DISPLAY": ":0"}


@pytest.mark.parametrize(
    ("environ", "platform", "expected"),
    [
        (X11, "linux", True),
        ({**X11, "QT_QPA_PLATFORM": "xcb"}, "linux", True),
        ({**X11, "QT_QPA_PLATFORM": "xcb;wayland"}, "linux", True),
        ({**X11, "QT_QPA_PLATFORM": "offscreen"}, "linux", False),
        ({**X11, "QT_QPA_PLATFORM": "wayland;xcb"}, "linux", False),
        ({**X11, "WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"}, "linux", False),
        ({**X11, "WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "x11"}, "linux", True),
        ({}, "linux", False),
        (X11, "darwin", False),
        (X11, "win32", False),
    ],
)
def test_only_checked_where_qt_would_use_xcb(environ, platform, expected) -> None:
    assert display_libs.xcb_would_be_used(environ, platform) is expected


def test_message_names_each_missing_package_once_and_the_install_command() -> None:
    absent = {"libxcb-icccm.so.4", "libxcb-keysyms.so.1"}
    message = display_libs.missing_display_libraries_message(X11, "linux", lambda so: so not in absent)
    assert message is not None and "\n" not in message
    assert "libxcb-icccm4, libxcb-keysyms1" in message
    assert "sudo apt-get install libxcb-icccm4 libxcb-keysyms1`" in message
    # Present libraries are not named.
    assert "libxcb-cursor0" not in message


def test_nothing_said_when_every_library_loads_or_xcb_is_not_used() -> None:
    assert display_libs.missing_display_libraries_message(X11, "linux", lambda so: True) is None
    assert display_libs.missing_display_libraries_message({**X11, "QT_QPA_PLATFORM": "offscreen"}, "linux", lambda so: False) is None


def test_a_package_shipping_two_libraries_is_named_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(display_libs.XCB_LIBRARIES, "libxcb-extra.so.9", "libxcb-icccm4")
    assert display_libs.missing_xcb_packages(lambda so: "icccm" not in so and "extra" not in so) == ["libxcb-icccm4"]


def test_real_lookup_tells_present_from_absent() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("sonames are a Linux thing")
    assert display_libs.can_load("libc.so.6")
    assert not display_libs.can_load("libattune-no-such-library.so.7")


def test_attune_gui_exits_with_one_line_before_loading_qt(monkeypatch, capsys, tmp_path) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(display_libs, "can_load", lambda so: so != "libxcb-cursor.so.0")
    import types

    import desktop

    def window_must_not_open(**_kwargs):
        raise AssertionError("desktop.app.main called although the window cannot open")

    # A tripwire in place of the app: reaching it means run_gui went past the library check.
    tripwire = types.ModuleType("desktop.app")
    tripwire.main = window_must_not_open
    monkeypatch.setitem(sys.modules, "desktop.app", tripwire)
    monkeypatch.setattr(desktop, "app", tripwire, raising=False)
    code = main(["--home", str(tmp_path / "ws"), "gui"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1
    assert "sudo apt-get install libxcb-cursor0`" in err
    assert not (tmp_path / "ws").exists()
