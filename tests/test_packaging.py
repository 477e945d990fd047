"""Packaging: the PyInstaller spec, the desktop entry, the icons, ``--self-test``, no network.

These are the fast checks; the slow one (building the bundle and running its
self-test) is ``make dist-smoke``, which ``make test`` runs after pytest.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
import types
from pathlib import Path

import pytest

from cli import selftest
from core.errors import AttuneError

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO / "build_scripts" / "attune.spec"
DESKTOP_ENTRY = REPO / "build_scripts" / "linux" / "attune.desktop"
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]

# Registered main categories of the freedesktop menu specification.
MAIN_CATEGORIES = {
    "AudioVideo", "Audio", "Video", "Development", "Education", "Game", "Graphics",
    "Network", "Office", "Science", "Settings", "System", "Utility",
}


# The spec ####################################################################


def _source_submodules(package: str) -> list[str]:
    """What collect_submodules would find, read from the tree without importing it."""
    names = []
    for path in sorted((REPO / package).rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names


def run_spec(monkeypatch: pytest.MonkeyPatch, platform: str) -> dict:
    """Execute the spec as PyInstaller would, with its build functions recorded."""
    calls: dict[str, list] = {"Analysis": [], "EXE": [], "COLLECT": [], "BUNDLE": [], "PYZ": []}

    def recorder(kind):
        def record(*args, **kwargs):
            obj = types.SimpleNamespace(args=args, kwargs=kwargs, binaries=[], datas=[],
                                        pure=[], scripts=[])
            calls[kind].append(obj)
            return obj

        return record

    hooks = types.ModuleType("PyInstaller.utils.hooks")
    hooks.collect_submodules = _source_submodules
    hooks.copy_metadata = lambda dist: [(f"{dist}.dist-info", f"{dist}.dist-info")]
    for name in ("PyInstaller", "PyInstaller.utils"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "PyInstaller.utils.hooks", hooks)
    monkeypatch.setattr(sys, "platform", platform)
    namespace = {"SPECPATH": str(SPEC.parent), "__file__": str(SPEC), "__name__": "__main__"}
    namespace.update({kind: recorder(kind) for kind in calls})
    exec(compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec"), namespace)
    namespace["calls"] = calls
    return namespace


def test_spec_reads_the_version_from_pyproject(monkeypatch):
    ns = run_spec(monkeypatch, "darwin")
    assert ns["VERSION"] == PROJECT["version"]
    (bundle,) = ns["calls"]["BUNDLE"]
    assert bundle.kwargs["version"] == PROJECT["version"]
    assert bundle.kwargs["info_plist"]["CFBundleShortVersionString"] == PROJECT["version"]
    assert bundle.kwargs["name"] == "Attune.app"


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        ("linux", {"attune": True}),
        ("win32", {"Attune": False, "attune-cli": True}),
        ("darwin", {"attune": False}),
    ],
)
def test_spec_makes_one_folder_programs_per_platform(monkeypatch, platform, expected):
    ns = run_spec(monkeypatch, platform)
    exes = {e.kwargs["name"]: e.kwargs["console"] for e in ns["calls"]["EXE"]}
    assert exes == expected
    # One folder: binaries are collected next to the program, never packed into it.
    assert all(e.kwargs["exclude_binaries"] for e in ns["calls"]["EXE"])
    assert all(not e.kwargs["upx"] for e in ns["calls"]["EXE"])
    assert len(ns["calls"]["COLLECT"]) == 1
    assert bool(ns["calls"]["BUNDLE"]) == (platform == "darwin")


def test_spec_ships_resources_and_nothing_from_outside_the_tree(monkeypatch):
    ns = run_spec(monkeypatch, "linux")
    (analysis,) = ns["calls"]["Analysis"]
    datas = analysis.kwargs["datas"]
    shipped = {(Path(src).resolve(), dest) for src, dest in datas if Path(src).is_absolute()}
    assert (REPO / "resources" / "icons" / "attune.svg", "resources/icons") in shipped
    for demo in (REPO / "resources" / "demo").glob("*.txt"):
        assert (demo, "resources/demo") in shipped
    for src, _dest in shipped:
        assert src.is_relative_to(REPO / "resources"), f"{src} is not under resources/"
        assert "__pycache__" not in src.parts and src.suffix not in (".py", ".pyc", ".csv")
    assert ("attune-studio.dist-info", "attune-studio.dist-info") in datas
    assert ("keyring.dist-info", "keyring.dist-info") in datas


def test_spec_names_the_modules_loaded_by_name(monkeypatch):
    from cli import COMMAND_MODULES

    ns = run_spec(monkeypatch, "linux")
    hidden = set(ns["calls"]["Analysis"][0].kwargs["hiddenimports"])
    assert set(COMMAND_MODULES) <= hidden
    assert {"desktop.app", "cli.selftest", "keyring.backends.SecretService"} <= hidden
    assert not any(name.startswith("keyrings") for name in hidden)


def test_spec_excludes_unused_qt_and_the_plaintext_keyring(monkeypatch):
    ns = run_spec(monkeypatch, "linux")
    excludes = set(ns["calls"]["Analysis"][0].kwargs["excludes"])
    for heavy in ("QtWebEngineCore", "QtWebEngineWidgets", "Qt3DCore", "QtMultimedia",
                  "QtQuick", "QtQml", "QtNetwork"):
        assert f"PySide6.{heavy}" in excludes
    for kept in ("QtCore", "QtGui", "QtWidgets", "QtCharts", "QtSvg", "QtOpenGL"):
        assert f"PySide6.{kept}" not in excludes
    assert "keyrings" in excludes


@pytest.mark.parametrize(
    ("dest", "kept"),
    [
        ("PySide6/Qt/plugins/platforms/libqoffscreen.so", True),
        ("PySide6/Qt/plugins/platforms/libqxcb.so", True),
        ("PySide6/Qt/plugins/platforms/libqwayland.so", True),
        ("PySide6/plugins/platforms/qwindows.dll", True),
        ("PySide6/Qt/plugins/platforms/libqcocoa.dylib", True),
        ("PySide6/Qt/plugins/imageformats/libqsvg.so", True),
        ("PySide6/Qt/plugins/iconengines/libqsvgicon.so", True),
        ("PySide6/Qt/lib/libQt6Charts.so.6", True),
        ("PySide6/Qt/lib/libQt6Svg.so.6", True),
        ("PySide6/Qt/lib/libQt6OpenGL.so.6", True),
        ("PySide6/Qt6Widgets.dll", True),
        ("PySide6/Qt/plugins/platforms/libqeglfs.so", False),
        ("PySide6/Qt/plugins/platforms/libqvnc.so", False),
        ("PySide6/Qt/plugins/platforminputcontexts/libqtvirtualkeyboardplugin.so", False),
        ("PySide6/Qt/plugins/imageformats/libqpdf.so", False),
        ("PySide6/Qt/plugins/tls/libqopensslbackend.so", False),
        ("PySide6/Qt/lib/libQt6Quick.so.6", False),
        ("PySide6/Qt/lib/libQt6QmlModels.so.6", False),
        ("PySide6/Qt6Quick.dll", False),
        ("PySide6/Qt/lib/QtQml.framework/Versions/A/QtQml", False),
    ],
)
def test_spec_trims_qt_plugins_and_libraries(monkeypatch, dest, kept):
    ns = run_spec(monkeypatch, "linux")
    assert ns["_keep"](dest) is kept


# Desktop entry and icons ######################################################


def test_desktop_entry_is_valid():
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # keys are case-sensitive
    entry.read(DESKTOP_ENTRY, encoding="utf-8")
    assert entry.sections() == ["Desktop Entry"]
    group = entry["Desktop Entry"]
    assert group["Type"] == "Application"
    assert group["Name"] == "Attune"
    program = group["Exec"].split()[0]
    # The .deb links /usr/bin/attune to the bundle; the entry must start that.
    assert program == "/usr/bin/attune"
    assert group["TryExec"] == program
    assert group["Icon"] == "attune"  # the hicolor name the .deb installs
    assert group.getboolean("Terminal") is False
    categories = group["Categories"]
    assert categories.endswith(";")
    assert len(MAIN_CATEGORIES & set(categories.rstrip(";").split(";"))) == 1
    if shutil.which("desktop-file-validate"):
        result = subprocess.run(["desktop-file-validate", str(DESKTOP_ENTRY)],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_icons_render_into_containers_qt_can_read(tmp_path, qapp):
    from PySide6.QtGui import QImageReader

    result = subprocess.run(
        [sys.executable, str(REPO / "build_scripts" / "icons.py"), str(tmp_path)],
        env=dict(os.environ, QT_QPA_PLATFORM="offscreen"), capture_output=True, text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    for size in (16, 48, 256, 1024):
        reader = QImageReader(str(tmp_path / f"attune-{size}.png"))
        assert reader.size().width() == size
    ico = QImageReader(str(tmp_path / "attune.ico"))
    assert ico.imageCount() == 7
    widths = set()
    for index in range(ico.imageCount()):
        assert ico.jumpToImage(index)
        widths.add(ico.read().width())
    assert widths == {16, 24, 32, 48, 64, 128, 256}
    icns = QImageReader(str(tmp_path / "attune.icns"))
    assert icns.canRead(), icns.errorString()
    image = icns.read()
    assert image.width() in (16, 32, 64, 128, 256, 512, 1024) and not image.isNull()


# --self-test ##################################################################


def _run_attune(args: list[str], *, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    code = "import sys; from cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_self_test_from_the_source_tree_passes(tmp_path):
    result = _run_attune(["--self-test"], cwd=tmp_path)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    lines = out.strip().splitlines()
    assert lines[0].startswith(f"Attune {PROJECT['version']} self-test")
    assert lines[-1].startswith("self-test passed")
    assert len(lines) <= 20  # one screen
    steps = {}
    for line in lines[1:-1]:
        status, rest = line.split(None, 1)
        name = next(n for n, _ in selftest.STEPS if rest.startswith(n + "  "))
        steps[name] = status
    assert list(steps) == [name for name, _ in selftest.STEPS]
    assert set(steps.values()) <= {"PASS", "SKIP"}, out
    # These must really have run, not been skipped.
    for name in ("workspace", "demo transcripts", "dataset", "main window", "evaluation", "keychain"):
        assert steps[name] == "PASS", out


def test_self_test_never_touches_the_chosen_workspace(tmp_path):
    home = tmp_path / "home"
    result = _run_attune(["--home", str(home), "--self-test"], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not home.exists()


def test_self_test_names_the_failed_step_and_exits_non_zero(monkeypatch, capsys, tmp_path):
    ran = []

    def broken(ctx):
        raise AttuneError("demo.txt: no speaker turns found")

    def later(ctx):
        ran.append(ctx.workspace)
        return "still ran"

    def skipped(ctx):
        raise selftest.Skipped("not built yet")

    monkeypatch.setattr(selftest, "STEPS", [("broken", broken), ("maybe", skipped), ("later", later)])
    assert selftest.run_self_test() == 1
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert re.fullmatch(r"  FAIL  broken +\d+\.\d\d s  demo.txt: no speaker turns found", lines[1])
    assert re.fullmatch(r"  SKIP  maybe +not built yet", lines[2])
    assert re.fullmatch(r"  PASS  later +\d+\.\d\d s  still ran", lines[3])
    assert out.strip().splitlines()[-1].startswith("self-test FAILED: broken")
    # The later step ran, in a temporary workspace that is gone afterwards.
    assert ran and not ran[0].exists()


def test_self_test_reports_an_unexpected_error_with_its_place():
    def crash(ctx):
        return {}["missing"]

    (result,) = selftest.run_steps(selftest.SelfTestContext(workspace=Path("unused")), [("crash", crash)])
    assert result.status == "FAIL"
    assert result.detail.startswith("KeyError: 'missing' (at test_packaging.py:")


def test_main_window_step_fails_on_an_error_dialog(qapp):
    from PySide6.QtWidgets import QMessageBox, QWidget

    selftest._refuse_error_dialogs(sys.modules["PySide6.QtWidgets"], qapp)  # none shown: fine
    parent = QWidget()
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setText("transcripts.db: disk I/O error")
    box.show()
    try:
        with pytest.raises(AttuneError, match="the window showed an error: transcripts.db: disk I/O error"):
            selftest._refuse_error_dialogs(sys.modules["PySide6.QtWidgets"], qapp)
    finally:
        box.close()
        parent.deleteLater()


# Keychain #####################################################################


def _backend(module: str, priority: float, name: str = "X"):
    cls = type("Keyring", (), {"priority": priority, "name": name, "__module__": module})
    return cls()


@pytest.fixture
def fake_keyring(monkeypatch):
    import keyring

    def use(backend):
        monkeypatch.setattr(keyring, "get_keyring", lambda: backend)

    return use


def test_keychain_secure_backend_is_named(fake_keyring):
    fake_keyring(_backend("keyring.backends.SecretService", 5, "SecretService Keyring"))
    assert selftest.keychain_backend() == ("SecretService Keyring", True)


def test_keychain_without_a_backend_asks_for_a_passphrase(fake_keyring):
    from keyring.backends import fail

    fake_keyring(fail.Keyring())
    assert selftest.keychain_backend() == (selftest.NO_KEYCHAIN, False)
    assert selftest.step_keychain(None) == "none (passphrase will be asked each session)"


def test_keychain_refuses_a_plaintext_backend(fake_keyring):
    fake_keyring(_backend("keyrings.alt.file", 0.5, "PlaintextKeyring"))
    with pytest.raises(AttuneError, match="keyrings.alt"):
        selftest.keychain_backend()


def test_keyrings_alt_is_not_a_dependency():
    deps = " ".join(PROJECT["dependencies"] + sum(PROJECT.get("optional-dependencies", {}).values(), []))
    assert "keyring" in PROJECT["dependencies"]
    assert "keyrings.alt" not in deps and "keyrings-alt" not in deps


# No network ###################################################################

NETWORK_GUARD = textwrap.dedent(
    """
    # Loaded by site.py before the app: records every attempt to reach the
    # network (DNS or an IP socket) and makes it fail. Local IPC (AF_UNIX, e.g.
    # D-Bus for the keychain) is not the network and is allowed.
    import atexit, json, os, socket, traceback

    _attempts = []
    _LOG = os.environ["ATTUNE_NETWORK_LOG"]

    def _record(what):
        _attempts.append({"what": what, "where": traceback.format_stack(limit=8)[:-2]})
        raise OSError(f"network blocked by test: {what}")

    def _is_ip(sock):
        return sock.family in (socket.AF_INET, socket.AF_INET6)

    _connect, _connect_ex, _sendto = socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto

    def connect(self, address):
        if _is_ip(self):
            _record(f"connect {address!r}")
        return _connect(self, address)

    def connect_ex(self, address):
        if _is_ip(self):
            _record(f"connect_ex {address!r}")
        return _connect_ex(self, address)

    def sendto(self, data, *args):
        if _is_ip(self):
            _record(f"sendto {args[-1]!r}")
        return _sendto(self, data, *args)

    def getaddrinfo(host, *args, **kwargs):
        _record(f"getaddrinfo {host!r}")

    def gethostbyname(host):
        _record(f"gethostbyname {host!r}")

    socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto = connect, connect_ex, sendto
    socket.getaddrinfo, socket.gethostbyname = getaddrinfo, gethostbyname

    @atexit.register
    def _write():
        import sys
        loaded = sorted(m for m in ("PySide6.QtNetwork",) if m in sys.modules)
        with open(_LOG, "w") as f:
            json.dump({"attempts": _attempts, "qt_network_loaded": loaded}, f)
    """
)

APP_START = textwrap.dedent(
    """
    import sys, time
    from PySide6.QtWidgets import QApplication
    from desktop.app import create_main_window
    from cli import main

    app = QApplication([])
    window = create_main_window(sys.argv[1])
    window.show()
    end = time.monotonic() + 2.0  # let background work (queries, timers) run
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)
    window.close()
    window.taskman.shutdown()
    code = main(["--self-test"])
    {extra}
    sys.exit(code)
    """
)


def _guarded_run(tmp_path: Path, extra: str = "") -> tuple[subprocess.CompletedProcess, dict]:
    import json

    guard_dir = tmp_path / "guard"
    guard_dir.mkdir()
    (guard_dir / "sitecustomize.py").write_text(NETWORK_GUARD, encoding="utf-8")
    log = tmp_path / "network.json"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", ATTUNE_NETWORK_LOG=str(log),
               PYTHONPATH=os.pathsep.join([str(guard_dir), str(REPO)]))
    result = subprocess.run(
        [sys.executable, "-c", APP_START.format(extra=extra), str(tmp_path / "ws")],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert log.exists(), f"the network guard did not load\n{result.stdout}\n{result.stderr}"
    return result, json.loads(log.read_text(encoding="utf-8"))


def test_app_start_and_self_test_make_no_network_connection(tmp_path):
    result, report = _guarded_run(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert report["attempts"] == [], "\n".join(
        a["what"] + "\n" + "".join(a["where"]) for a in report["attempts"]
    )
    # QtNetwork is left out of the bundle; nothing may load it.
    assert report["qt_network_loaded"] == []


def test_network_guard_catches_a_connection(tmp_path):
    # Proves the test above can fail: the same run, plus one DNS lookup and one connect.
    extra = textwrap.dedent(
        """
        import socket
        for attempt in (lambda: socket.getaddrinfo("example.org", 443),
                        lambda: socket.socket().connect(("192.0.2.1", 9))):
            try:
                attempt()
            except OSError:
                pass
        """
    )
    _result, report = _guarded_run(tmp_path, extra)
    whats = [a["what"] for a in report["attempts"]]
    assert whats == ["getaddrinfo 'example.org'", "connect ('192.0.2.1', 9)"]


# Windows and macOS scripts (built only on those systems; checked here for consistency) #####


def _build_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("attune_build", REPO / "build_scripts" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_inno_setup_script_installs_per_user_where_build_py_looks():
    iss = (REPO / "build_scripts" / "attune.iss").read_text(encoding="utf-8")
    setup = dict(
        line.split("=", 1) for line in iss.split("[Setup]", 1)[1].split("\n[", 1)[0].splitlines()
        if "=" in line and not line.lstrip().startswith((";", "#"))
    )
    assert setup["PrivilegesRequired"] == "lowest"
    assert setup["DefaultDirName"] == "{autopf}\\Attune"
    # build.py reports this file name; both must agree.
    name = setup["OutputBaseFilename"].replace("{#AppVersion}", PROJECT["version"])
    assert f"{name}.exe" == f"Attune-{PROJECT['version']}-windows-x64-setup.exe"
    assert "{#AppVersion}" in setup["OutputBaseFilename"]  # never a hard-coded version
    assert "Attune.exe" in iss and "{#SourceDir}\\*" in iss


def test_windows_signing_follows_the_environment(monkeypatch):
    build = _build_module()
    for var in ("ATTUNE_WINDOWS_CERT", "ATTUNE_WINDOWS_CERT_SHA1", "ATTUNE_WINDOWS_CERT_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    assert build.signtool_command() is None
    monkeypatch.setenv("ATTUNE_WINDOWS_CERT", r"C:\certs\lab.pfx")
    monkeypatch.setenv("ATTUNE_WINDOWS_CERT_PASSWORD", "pw")
    cmd = build.signtool_command()
    assert cmd[:2] == ["signtool", "sign"]
    assert cmd[cmd.index("/f") + 1] == r"C:\certs\lab.pfx" and cmd[cmd.index("/p") + 1] == "pw"
    assert cmd[cmd.index("/fd") + 1] == "sha256" and "/tr" in cmd


def test_macos_entitlements_ask_for_nothing_beyond_loading_the_bundle():
    import plistlib

    entitlements = plistlib.loads((REPO / "build_scripts" / "macos" / "entitlements.plist").read_bytes())
    assert entitlements == {
        "com.apple.security.cs.allow-unsigned-executable-memory": True,
        "com.apple.security.cs.disable-library-validation": True,
    }
