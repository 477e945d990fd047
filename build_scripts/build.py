"""Build Attune for the platform this runs on (``make dist``).

    python build_scripts/build.py [--smoke] [--no-installers] [--clean]

1. render the icon (build/icons), 2. PyInstaller one-folder bundle from
``build_scripts/attune.spec`` (dist/attune, or dist/Attune.app on macOS),
3. sign it when signing is configured, 4. make the installers:

- Linux: ``dist/attune-<version>-linux-<arch>.tar.gz`` and
  ``dist/attune_<version>_<debarch>.deb`` (installs to /opt/attune, links
  /usr/bin/attune, adds the desktop entry and icons);
- Windows: ``dist/Attune-<version>-windows-x64-setup.exe`` with Inno Setup
  (``build_scripts/attune.iss``: per user, no admin);
- macOS: ``dist/Attune.app`` and ``dist/Attune-<version>-macos-<arch>.dmg``.

Then it writes ``dist/SHA256SUMS`` and prints sizes and the build time.
``--smoke`` (CI, ``make test``) also unpacks what it built into a temporary
folder and runs ``attune --self-test`` there, offscreen (and with no network
where ``unshare -rn`` works), failing the build if the self-test fails or an
installer is missing. It compresses the .deb with gzip instead of xz to save
about a minute and a half; ``ATTUNE_DEB_COMPRESSION=xz|gzip`` overrides either.

Signing is driven by environment variables and skipped, with a notice, when
they are absent (see docs/install.md, "Signed builds"):

- macOS: ``ATTUNE_CODESIGN_IDENTITY`` (a "Developer ID Application: …"
  identity in the keychain); notarization with ``ATTUNE_NOTARY_PROFILE`` (a
  ``xcrun notarytool store-credentials`` profile) or ``ATTUNE_APPLE_ID`` +
  ``ATTUNE_APPLE_TEAM_ID`` + ``ATTUNE_APPLE_APP_PASSWORD``.
- Windows: ``ATTUNE_WINDOWS_CERT`` (a .pfx file) and ``ATTUNE_WINDOWS_CERT_PASSWORD``,
  or ``ATTUNE_WINDOWS_CERT_SHA1`` (a certificate in the store);
  ``ATTUNE_SIGNTOOL`` (default ``signtool``), ``ATTUNE_TIMESTAMP_URL``.
- Linux: ``ATTUNE_GPG_KEY`` makes detached ``.asc`` signatures.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "build_scripts" / "attune.spec"
BUILD = ROOT / "build"
DIST = ROOT / "dist"
ICONS = BUILD / "icons"
BUNDLE = DIST / "attune"
DESKTOP_ENTRY = ROOT / "build_scripts" / "linux" / "attune.desktop"
ISS = ROOT / "build_scripts" / "attune.iss"
ENTITLEMENTS = ROOT / "build_scripts" / "macos" / "entitlements.plist"
ICON_SVG = ROOT / "resources" / "icons" / "attune.svg"
HICOLOR_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
DEFAULT_TIMESTAMP_URL = "http://timestamp.digicert.com"
DEB_SYNOPSIS = "curate therapy transcripts into datasets and evaluate models, offline"

# Libraries Qt's xcb and wayland plugins load from the system (not bundled:
# they must match the user's display server). libc6 is added with the version
# the bundle really needs (see required_glibc).
DEB_DEPENDS = (
    "libegl1, libgl1, libfontconfig1, libxkbcommon0, libxkbcommon-x11-0, libxcb-cursor0, "
    "libxcb-icccm4, libxcb-keysyms1, libwayland-client0, libwayland-cursor0, libwayland-egl1"
)


class BuildError(Exception):
    pass


def read_project() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


def notice(text: str) -> None:
    print(f"build: {text}", flush=True)


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    notice("$ " + " ".join(str(c) for c in cmd))
    return subprocess.run([str(c) for c in cmd], check=True, **kwargs)


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} GB"


def tree_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


# Steps shared by every platform ##############################################


def render_icons() -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    run([sys.executable, ROOT / "build_scripts" / "icons.py", ICONS], env=env)


def write_windows_version_info(version: str) -> None:
    numbers = [int(p) for p in version.split(".")[:4] if p.isdigit()]
    numbers += [0] * (4 - len(numbers))
    quad = tuple(numbers)
    text = f"""VSVersionInfo(
  ffi=FixedFileInfo(filevers={quad}, prodvers={quad}, mask=0x3f, flags=0x0, OS=0x40004,
                    fileType=0x1, subtype=0x0, date=(0, 0)),
  kids=[
    StringFileInfo([StringTable('040904B0', [
      StringStruct('CompanyName', 'Attune'),
      StringStruct('FileDescription', 'Attune'),
      StringStruct('FileVersion', '{version}'),
      StringStruct('ProductName', 'Attune'),
      StringStruct('ProductVersion', '{version}')])]),
    VarFileInfo([VarStruct('Translation', [1033, 1200])])
  ]
)
"""
    (BUILD / "version_info.txt").write_text(text, encoding="utf-8")


def pyinstaller(clean: bool) -> None:
    cmd = [
        sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
        "--distpath", DIST, "--workpath", BUILD / "pyinstaller", SPEC,
    ]
    if clean:
        cmd.insert(3, "--clean")
    run(cmd, cwd=ROOT)


def write_checksums(paths: list[Path]) -> Path:
    lines = []
    for path in paths:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        lines.append(f"{digest.hexdigest()}  {path.name}")
    out = DIST / "SHA256SUMS"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


# Linux ######################################################################


def linux_arch() -> tuple[str, str]:
    machine = platform.machine().lower()
    deb = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return machine, deb


def required_glibc(bundle: Path) -> str:
    """The newest glibc symbol version any bundled ELF file needs.

    The bundle carries the build machine's libraries, so it runs only where
    glibc is at least this new: build on the oldest distribution to support.
    """
    needed = (2, 17)
    pattern = re.compile(rb"GLIBC_(2\.\d+(?:\.\d+)?)\x00")
    for path in bundle.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if data.startswith(b"\x7fELF"):
                for match in pattern.findall(data):
                    needed = max(needed, tuple(int(p) for p in match.split(b".")))
    return ".".join(str(p) for p in needed)


def make_tarball(version: str) -> Path:
    machine, _ = linux_arch()
    top = f"attune-{version}"
    out = DIST / f"attune-{version}-linux-{machine}.tar.gz"

    def normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
        # Root-owned, no build-machine user names: the archive is the same for everyone.
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    with tarfile.open(out, "w:gz", compresslevel=6) as tar:
        tar.add(BUNDLE, arcname=top, filter=normalise)
        tar.add(DESKTOP_ENTRY, arcname=f"{top}/share/attune.desktop", filter=normalise)
        tar.add(ICON_SVG, arcname=f"{top}/share/attune.svg", filter=normalise)
    return out


def make_deb(version: str, synopsis: str, compression: str) -> Path | None:
    dpkg_deb = shutil.which("dpkg-deb")
    if dpkg_deb is None:
        notice("dpkg-deb not found: skipping the .deb (on Debian/Ubuntu: apt install dpkg)")
        return None
    _, deb_arch = linux_arch()
    stage = BUILD / "deb" / f"attune_{version}_{deb_arch}"
    if stage.exists():
        shutil.rmtree(stage)
    opt = stage / "opt" / "attune"
    shutil.copytree(BUNDLE, opt, symlinks=True)
    (stage / "usr" / "bin").mkdir(parents=True)
    (stage / "usr" / "bin" / "attune").symlink_to("/opt/attune/attune")
    apps = stage / "usr" / "share" / "applications"
    apps.mkdir(parents=True)
    shutil.copy2(DESKTOP_ENTRY, apps / "attune.desktop")
    hicolor = stage / "usr" / "share" / "icons" / "hicolor"
    (hicolor / "scalable" / "apps").mkdir(parents=True)
    shutil.copy2(ICON_SVG, hicolor / "scalable" / "apps" / "attune.svg")
    for size in HICOLOR_SIZES:
        folder = hicolor / f"{size}x{size}" / "apps"
        folder.mkdir(parents=True)
        shutil.copy2(ICONS / f"attune-{size}.png", folder / "attune.png")
    doc = stage / "usr" / "share" / "doc" / "attune"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(
        "Attune\nLicense: Proprietary\n"
        "The bundled Qt for Python (PySide6) is used under the LGPL-3.0; its libraries are in\n"
        "/opt/attune/_internal and can be replaced by the user.\n",
        encoding="utf-8",
    )
    # Icon and menu caches are refreshed by dpkg's file triggers
    # (hicolor-icon-theme, desktop-file-utils): no maintainer scripts needed.
    installed_kb = (tree_size(stage) + 1023) // 1024
    control = stage / "DEBIAN"
    control.mkdir()
    (control / "control").write_text(
        f"Package: attune\n"
        f"Version: {version}\n"
        f"Architecture: {deb_arch}\n"
        f"Maintainer: Attune <attune@localhost>\n"
        f"Installed-Size: {installed_kb}\n"
        f"Depends: libc6 (>= {required_glibc(opt)}), {DEB_DEPENDS}\n"
        f"Section: science\n"
        f"Priority: optional\n"
        f"Description: {synopsis}\n"
        f" Attune runs entirely on this machine: transcripts stay in a local SQLite\n"
        f" workspace, and nothing is sent anywhere at start-up or in the background.\n"
        f" Run `attune --self-test` to check an installation.\n",
        encoding="utf-8",
    )
    for path in [stage, *stage.rglob("*")]:
        if path.is_symlink():
            continue
        if path.is_dir():
            path.chmod(0o755)
        elif os.access(path, os.X_OK) or path.suffix == ".so" or ".so." in path.name:
            path.chmod(0o755)
        else:
            path.chmod(0o644)
    out = DIST / f"attune_{version}_{deb_arch}.deb"
    # --root-owner-group: root:root files without fakeroot. xz -6 is Debian's
    # default and the smallest; gzip is ~15x faster for CI (same contents).
    # Not zstd: dpkg before 1.21.18 (Debian 11, Ubuntu 20.04) cannot read it.
    run([dpkg_deb, "--build", "--root-owner-group", f"-Z{compression}", "-z6", stage, out])
    return out


def sign_linux(paths: list[Path]) -> None:
    key = os.environ.get("ATTUNE_GPG_KEY")
    if not key:
        notice("ATTUNE_GPG_KEY not set: no detached signatures (the SHA256SUMS file is still written)")
        return
    for path in paths:
        run(["gpg", "--batch", "--yes", "--armor", "--detach-sign", "--local-user", key, path])


# Windows ####################################################################


def signtool_command() -> list[str] | None:
    cert = os.environ.get("ATTUNE_WINDOWS_CERT")
    sha1 = os.environ.get("ATTUNE_WINDOWS_CERT_SHA1")
    if not cert and not sha1:
        return None
    cmd = [os.environ.get("ATTUNE_SIGNTOOL", "signtool"), "sign", "/fd", "sha256",
           "/tr", os.environ.get("ATTUNE_TIMESTAMP_URL", DEFAULT_TIMESTAMP_URL), "/td", "sha256"]
    if cert:
        cmd += ["/f", cert]
        if os.environ.get("ATTUNE_WINDOWS_CERT_PASSWORD"):
            cmd += ["/p", os.environ["ATTUNE_WINDOWS_CERT_PASSWORD"]]
    else:
        cmd += ["/sha1", sha1]
    return cmd


def sign_windows_bundle() -> list[str] | None:
    cmd = signtool_command()
    if cmd is None:
        notice("ATTUNE_WINDOWS_CERT / ATTUNE_WINDOWS_CERT_SHA1 not set: the executables stay "
               "unsigned (expect SmartScreen and antivirus warnings; see docs/install.md)")
        return None
    for exe in ("Attune.exe", "attune-cli.exe"):
        subprocess.run([*cmd, str(BUNDLE / exe)], check=True)
    return cmd


def find_iscc() -> str | None:
    found = shutil.which("ISCC") or shutil.which("iscc")
    if found:
        return found
    for base in (os.environ.get("ProgramFiles(x86)"), os.environ.get("ProgramFiles"),
                 os.environ.get("LOCALAPPDATA") and str(Path(os.environ["LOCALAPPDATA"]) / "Programs")):
        if base and (Path(base) / "Inno Setup 6" / "ISCC.exe").exists():
            return str(Path(base) / "Inno Setup 6" / "ISCC.exe")
    return None


def make_windows_installer(version: str, sign_cmd: list[str] | None) -> Path | None:
    iscc = find_iscc()
    if iscc is None:
        notice("Inno Setup 6 (ISCC.exe) not found: skipping the installer "
               "(install it from jrsoftware.org, or `choco install innosetup`)")
        return None
    cmd = [iscc, f"/DAppVersion={version}", f"/DSourceDir={BUNDLE}", f"/DOutputDir={DIST}",
           f"/DIconFile={ICONS / 'attune.ico'}"]
    if sign_cmd is not None:
        # Inno substitutes $f with the file to sign ($q is a double quote).
        quoted = " ".join(f"$q{part}$q" if " " in part else part for part in sign_cmd)
        cmd += ["/DSignTool", f"/Sattune={quoted} $f"]
    run([*cmd, ISS])
    return DIST / f"Attune-{version}-windows-x64-setup.exe"


# macOS ######################################################################


def sign_macos(app: Path) -> bool:
    identity = os.environ.get("ATTUNE_CODESIGN_IDENTITY")
    if not identity:
        notice("ATTUNE_CODESIGN_IDENTITY not set: Attune.app stays unsigned "
               "(Gatekeeper will block it until the user allows it; see docs/install.md)")
        return False
    run(["codesign", "--force", "--deep", "--timestamp", "--options", "runtime",
         "--entitlements", ENTITLEMENTS, "--sign", identity, app])
    run(["codesign", "--verify", "--deep", "--strict", "--verbose=2", app])
    return True


def make_dmg(version: str, app: Path) -> Path:
    out = DIST / f"Attune-{version}-macos-{platform.machine()}.dmg"
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp) / "Attune"
        stage.mkdir()
        shutil.copytree(app, stage / app.name, symlinks=True)
        (stage / "Applications").symlink_to("/Applications")
        if out.exists():
            out.unlink()
        run(["hdiutil", "create", "-volname", f"Attune {version}", "-srcfolder", stage,
             "-fs", "HFS+", "-format", "UDZO", "-ov", out])
    return out


def notarize(dmg: Path, signed: bool) -> None:
    if not signed:
        return
    profile = os.environ.get("ATTUNE_NOTARY_PROFILE")
    apple_id = os.environ.get("ATTUNE_APPLE_ID")
    if profile:
        creds = ["--keychain-profile", profile]
    elif apple_id:
        creds = ["--apple-id", apple_id, "--team-id", os.environ["ATTUNE_APPLE_TEAM_ID"],
                 "--password", os.environ["ATTUNE_APPLE_APP_PASSWORD"]]
    else:
        notice("no ATTUNE_NOTARY_PROFILE / ATTUNE_APPLE_ID: the .dmg is signed but not notarized")
        return
    run(["codesign", "--force", "--timestamp", "--sign", os.environ["ATTUNE_CODESIGN_IDENTITY"], dmg])
    subprocess.run(["xcrun", "notarytool", "submit", str(dmg), "--wait", *creds], check=True)
    run(["xcrun", "stapler", "staple", dmg])


# Smoke test #################################################################


def self_test(executable: Path, label: str) -> None:
    """Run the built program's --self-test the way a lab machine would: offscreen, no home set."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "ATTUNE_HOME")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    cmd = [str(executable), "--self-test"]
    offline = ""
    if no_network_prefix():
        # Prove the offline start on Linux: no network interface but loopback.
        cmd = [*no_network_prefix(), *cmd]
        offline = " with no network (unshare -rn)"
    notice(f"self-test of the {label}{offline}: {executable}")
    with tempfile.TemporaryDirectory() as home:
        # A throwaway HOME: the self-test must not need (or touch) the builder's profile.
        env["HOME"] = home
        result = subprocess.run(cmd, env=env, cwd=home, timeout=300)
        reported = subprocess.run([str(executable), "--version"], env=env, cwd=home,
                                  capture_output=True, text=True, timeout=60).stdout.strip()
    if result.returncode != 0:
        raise BuildError(f"{executable}: --self-test failed (exit status {result.returncode})")
    expected = f"attune {read_project()['version']}"
    if reported != expected:
        raise BuildError(f"{executable}: --version says {reported!r}, pyproject.toml says {expected!r}")


def no_network_prefix() -> list[str]:
    """``unshare -rn`` where user namespaces allow it (Linux), else nothing."""
    unshare = shutil.which("unshare") if sys.platform.startswith("linux") else None
    if unshare is None:
        return []
    probe = subprocess.run([unshare, "-rn", "true"], capture_output=True)
    return [unshare, "-rn"] if probe.returncode == 0 else []


def smoke_linux(tarball: Path, deb: Path | None) -> None:
    with tempfile.TemporaryDirectory(prefix="attune-smoke-") as tmp:
        with tarfile.open(tarball) as tar:
            if hasattr(tarfile, "tar_filter"):  # Python >= 3.11.4
                tar.extractall(tmp, filter="tar")
            else:
                tar.extractall(tmp)  # noqa: S202 - our own archive, just built
        (top,) = Path(tmp).iterdir()
        self_test(top / "attune", "unpacked .tar.gz")
    if deb is None:
        raise BuildError("no .deb was built (dpkg-deb missing?)")
    with tempfile.TemporaryDirectory(prefix="attune-smoke-deb-") as tmp:
        run(["dpkg-deb", "--extract", deb, tmp])
        entry = Path(tmp) / "usr" / "bin" / "attune"
        if os.readlink(entry) != "/opt/attune/attune":
            raise BuildError(f"{deb}: /usr/bin/attune points to {os.readlink(entry)}")
        self_test(Path(tmp) / "opt" / "attune" / "attune", "extracted .deb")


def smoke(outputs: list[Path], no_installers: bool) -> None:
    if sys.platform == "darwin":
        self_test(DIST / "Attune.app" / "Contents" / "MacOS" / "attune", "app bundle")
    elif sys.platform == "win32":
        self_test(BUNDLE / "attune-cli.exe", "bundle")
    elif no_installers:
        self_test(BUNDLE / "attune", "bundle")
    else:
        tarball = next(p for p in outputs if p.name.endswith(".tar.gz"))
        smoke_linux(tarball, next((p for p in outputs if p.suffix == ".deb"), None))


# Main #######################################################################


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="self-test what was built (CI)")
    parser.add_argument("--no-installers", action="store_true", help="only the one-folder bundle")
    parser.add_argument("--clean", action="store_true", help="empty PyInstaller's cache first")
    args = parser.parse_args(argv)

    project = read_project()
    version = project["version"]
    BUILD.mkdir(exist_ok=True)
    DIST.mkdir(exist_ok=True)
    timings: dict[str, float] = {}
    outputs: list[Path] = []

    def timed(label: str, fn, *fn_args):
        t0 = time.perf_counter()
        try:
            return fn(*fn_args)
        finally:
            timings[label] = time.perf_counter() - t0

    try:
        timed("icons", render_icons)
        if sys.platform == "win32":
            write_windows_version_info(version)
        timed("PyInstaller", pyinstaller, args.clean)
        if sys.platform == "darwin":
            app = DIST / "Attune.app"
            signed = timed("signing", sign_macos, app)
            if not args.no_installers:
                dmg = timed(".dmg", make_dmg, version, app)
                timed("notarization", notarize, dmg, signed)
                outputs.append(dmg)
        elif sys.platform == "win32":
            sign_cmd = timed("signing", sign_windows_bundle)
            setup = None if args.no_installers else timed("installer", make_windows_installer, version, sign_cmd)
            outputs += [setup] if setup is not None else []
        elif not args.no_installers:
            outputs.append(timed(".tar.gz", make_tarball, version))
            compression = os.environ.get("ATTUNE_DEB_COMPRESSION") or ("gzip" if args.smoke else "xz")
            deb = timed(f".deb ({compression})", make_deb, version, DEB_SYNOPSIS, compression)
            outputs += [deb] if deb is not None else []
            sign_linux(outputs)
        if outputs:
            write_checksums(outputs)
        print_summary(version, outputs, timings)
        if args.smoke:
            timed("smoke test", smoke, outputs, args.no_installers)
            print(f"build: smoke test passed in {timings['smoke test']:.0f} s")
    except subprocess.CalledProcessError as exc:
        print(f"build: FAILED: {exc.cmd[0]} exited with status {exc.returncode}", file=sys.stderr)
        return 1
    except BuildError as exc:
        print(f"build: FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


def print_summary(version: str, outputs: list[Path], timings: dict[str, float]) -> None:
    bundle = DIST / "Attune.app" if sys.platform == "darwin" else BUNDLE
    print(f"\nAttune {version} for {platform.system()} {platform.machine()}")
    print(f"  {'bundle (unpacked)':<36} {human(tree_size(bundle)):>10}  {bundle.relative_to(ROOT)}")
    for path in outputs:
        print(f"  {path.name:<36} {human(path.stat().st_size):>10}  {path.relative_to(ROOT)}")
    if sys.platform.startswith("linux"):
        print(f"  needs glibc >= {required_glibc(bundle)} (the build machine's; see docs/install.md)")
    steps = ", ".join(f"{label} {seconds:.0f} s" for label, seconds in timings.items())
    print(f"  build time: {sum(timings.values()):.0f} s ({steps}) on {os.cpu_count()} CPUs", flush=True)

if __name__ == "__main__":
    sys.exit(main())
