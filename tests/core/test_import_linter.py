"""``core`` never imports Qt or ``desktop``: the import-linter contract, and at run time."""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import cli
import core

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path, config: Path, extra_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if extra_path is not None:
        env["PYTHONPATH"] = str(extra_path)
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(config), "--no-cache"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )


def test_contract_is_kept() -> None:
    result = _lint(REPO, REPO / "pyproject.toml")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "core never imports Qt KEPT" in output
    for contract in ("entry points above desktop above core", "core: domain above store above basics",
                     "entry points never call an area's SQL directly", "no import circles"):
        assert f"{contract} KEPT" in output, output
    assert "0 broken" in output


def test_core_has_no_importlib_bridge_to_desktop() -> None:
    """The contract sees static imports only: core must not reach desktop (or Qt) by name either."""
    offenders = []
    for path in sorted((REPO / "core").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if "import_module(" in text and ('"desktop' in text or "'desktop" in text or '"PySide6' in text):
            offenders.append(str(path.relative_to(REPO)))
    assert not offenders, f"core names desktop/Qt through importlib: {offenders}"


def test_contract_catches_a_core_module_importing_qt(tmp_path: Path) -> None:
    """The same configuration, on a tiny project that breaks it, must fail.

    Guards against a contract that is silently too weak (for example one that
    leaves external packages out of the graph and so never sees PySide6).
    """
    settings = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    for pkg, body in {"core": "", "desktop": "", "core/ok": "import json\n",
                      "core/leak": "from PySide6 import QtCore\n"}.items():
        path = tmp_path / "src" / pkg
        path.mkdir(parents=True)
        (path / "__init__.py").write_text(body)
    contract = settings["contracts"][0]
    lines = ["[importlinter]", f"root_packages =\n    {chr(10).join('    ' + p for p in settings['root_packages']).strip()}"]
    if settings.get("include_external_packages"):
        lines.append("include_external_packages = True")
    lines += [
        "", "[importlinter:contract:qt]", f"name = {contract['name']}", f"type = {contract['type']}",
        f"source_modules =\n    {chr(10).join('    ' + m for m in contract['source_modules']).strip()}",
        f"forbidden_modules =\n    {chr(10).join('    ' + m for m in contract['forbidden_modules']).strip()}",
        f"allow_indirect_imports = {contract.get('allow_indirect_imports', True)}",
    ]
    config = tmp_path / ".importlinter"
    config.write_text("\n".join(lines) + "\n")
    result = _lint(tmp_path, config, extra_path=tmp_path / "src")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "BROKEN" in output and "core.leak" in output, output


def test_importing_every_core_module_loads_no_qt() -> None:
    # The command line's modules too: they load Qt only inside `attune gui` and the self-test's window step.
    modules = sorted(m.name for m in pkgutil.walk_packages(core.__path__, prefix="core."))
    modules += ["cli"] + sorted(m.name for m in pkgutil.walk_packages(cli.__path__, prefix="cli."))
    assert "core.store.connection" in modules and "cli.app_cmds" in modules
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'desktop'))\n"
        "print(json.dumps(bad))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == []
