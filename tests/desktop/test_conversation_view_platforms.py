"""test_conversation_view.py again on other screens: a QApplication's screen is fixed
for its life, so each runs in its own process.

Fractional pixel ratios and a 144 dpi font on the offscreen platform (its
``configfile`` option describes the screen), and real X11 under Xvfb at 96 dpi
and at 1.5x, where the clipped last lines were reported. The inner tests
assert the ratio and DPI they were promised (``ATTUNE_EXPECT_*``), so a
setting Qt ignored fails instead of testing the default screen twice.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.display_libs import missing_xcb_packages
from tests.conftest import REPO

pytestmark = pytest.mark.slow  # subprocesses: seconds each

INNER = "tests/desktop/test_conversation_view.py"
# The cheapest subset that still covers both point and pixel fonts, the AnnoMI turn and painting.
SUBSET = "fits_at_every_width and (pt-9.0 or px-17) or impression or painted and 1.0"


def _offscreen(tmp_path: Path, logical_dpi: int) -> str:
    config = tmp_path / f"screen-{logical_dpi}.json"
    screen = {"name": "S", "x": 0, "y": 0, "width": 1600, "height": 1000, "logicalDpi": logical_dpi, "logicalBaseDpi": 96}
    config.write_text(json.dumps({"screens": [screen]}))
    return f"offscreen:configfile={config}"


@pytest.fixture(scope="module")
def x_display(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("the Xvfb binary is not installed (Debian/Ubuntu: apt-get install xvfb); offscreen runs still cover this")
    if not sys.platform.startswith("linux"):
        pytest.skip("X11 under Xvfb is checked on Linux only")
    missing = missing_xcb_packages()
    if missing:
        pytest.skip(f"Qt's xcb plugin cannot load here; missing system packages: {' '.join(missing)}")
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        [xvfb, "-displayfd", str(write_fd), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        # Xvfb writes its display number once it accepts connections.
        with os.fdopen(read_fd) as f:
            number = f.readline().strip()
        if not number:
            pytest.skip("Xvfb did not start")
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def _run_inner(env_changes: dict[str, str], expect_dpr: float, expect_dpi: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QT_", "ATTUNE_EXPECT"))}
    env.update(env_changes)
    env.update(ATTUNE_EXPECT_DPR=str(expect_dpr), ATTUNE_EXPECT_DPI=str(expect_dpi))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", INNER, "-k", SUBSET],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout, result.stdout[-2000:]


@pytest.mark.parametrize(
    ("logical_dpi", "extra", "dpr", "dpi"),
    [
        (120, {}, 1.25, 96),  # a 125% desktop: Qt scales by 1.25
        (96, {"QT_ENABLE_HIGHDPI_SCALING": "0", "QT_FONT_DPI": "144"}, 1.0, 144),  # fonts at 144 dpi, unscaled
    ],
    ids=["ratio-1.25", "font-dpi-144"],
)
def test_offscreen_screens(tmp_path: Path, logical_dpi: int, extra: dict[str, str], dpr: float, dpi: int) -> None:
    _run_inner({"QT_QPA_PLATFORM": _offscreen(tmp_path, logical_dpi), **extra}, dpr, dpi)


@pytest.mark.parametrize(("extra", "dpr"), [({}, 1.0), ({"QT_SCALE_FACTOR": "1.5"}, 1.5)], ids=["x11-96dpi", "x11-scale-1.5"])
def test_x11_under_xvfb(x_display: str, extra: dict[str, str], dpr: float) -> None:
    _run_inner({"QT_QPA_PLATFORM": "xcb", "DISPLAY": x_display, **extra}, dpr, 96)
