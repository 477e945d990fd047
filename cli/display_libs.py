"""Will Qt's X11 (xcb) plugin load? Checked before Qt gets the chance to abort.

When a system library of the xcb plugin is missing, Qt aborts with a
multi-line message that names ``libxcb-cursor0`` even when that one is
installed and another is what is missing (seen on Debian 12: cursor present,
``libxcb-icccm4`` and ``libxcb-keysyms1`` absent). So we try to load each
library the plugin links against and name the packages ourselves.

Pure Python (ctypes): ``core`` never imports Qt.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

# soname -> Debian/Ubuntu package. The sonames are the DT_NEEDED entries of
# PySide6 6.11's plugins/platforms/libqxcb.so and lib/libQt6XcbQpa.so.6
# (`readelf -d`), less Qt's own libraries and the C/C++ runtime.
XCB_LIBRARIES: dict[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb.so.1": "libxcb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libGL.so.1": "libgl1",
}


def xcb_would_be_used(environ: Mapping[str, str] | None = None, platform: str | None = None) -> bool:
    """True where Qt would pick the xcb plugin: Linux, an X display, no other platform asked for."""
    env = os.environ if environ is None else environ
    if not (platform or sys.platform).startswith("linux") or not env.get("DISPLAY"):
        return False
    requested = env.get("QT_QPA_PLATFORM", "")
    if requested:
        # "xcb", or a fallback list such as "wayland;xcb" that starts with it.
        return requested.split(";")[0].split(":")[0] == "xcb"
    # Qt 6 takes Wayland first in a Wayland session, X11 (via XWayland) only as a fallback.
    return not (env.get("WAYLAND_DISPLAY") and env.get("XDG_SESSION_TYPE") == "wayland")


def can_load(soname: str) -> bool:
    """dlopen the library the way the plugin would: system search path, then an installer bundle."""
    try:
        ctypes.CDLL(soname, mode=os.RTLD_LAZY)
        return True
    except OSError:
        pass
    bundle = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and bundle:
        for folder in (Path(bundle), Path(bundle) / "PySide6" / "Qt" / "lib"):
            candidate = folder / soname
            if candidate.exists():
                try:
                    ctypes.CDLL(str(candidate), mode=os.RTLD_LAZY)
                    return True
                except OSError:
                    pass
    return False


def missing_xcb_packages(loadable: Callable[[str], bool] | None = None) -> list[str]:
    """Packages to install, in the order of XCB_LIBRARIES, each named once."""
    loadable = loadable or can_load
    missing: list[str] = []
    for soname, package in XCB_LIBRARIES.items():
        if package not in missing and not loadable(soname):
            missing.append(package)
    return missing


def missing_display_libraries_message(
    environ: Mapping[str, str] | None = None,
    platform: str | None = None,
    loadable: Callable[[str], bool] | None = None,
) -> str | None:
    """One line for the terminal when the window could not open, else None."""
    if not xcb_would_be_used(environ, platform):
        return None
    packages = missing_xcb_packages(loadable)
    if not packages:
        return None
    names = " ".join(packages)
    return (
        f"attune: the window cannot open: Qt's X11 (xcb) plugin needs system packages that are missing: "
        f"{', '.join(packages)}; install them with `sudo apt-get install {names}` "
        "(Debian/Ubuntu names), or use the command line (`attune --help`)"
    )
