"""Only the egress-gated modules may import Google's SDKs: the contract holds, and it can fail."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from tests.core.test_import_linter import REPO, _lint

CONTRACT = "only the egress-gated modules import Google's SDKs"


def _contract() -> tuple[dict, dict]:
    settings = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    return settings, next(c for c in settings["contracts"] if c["name"] == CONTRACT)


def test_the_gated_modules_are_the_ones_that_send() -> None:
    _, contract = _contract()
    assert set(contract["allowed_importers"]) == {
        "core.egress", "core.tuning.vertex", "core.generation.gemini", "core.gemini_connection"}
    # every module that imports the SDKs for real is among them
    importers = set()
    for path in (REPO / "core").rglob("*.py"):
        text = path.read_text("utf-8")
        if "from google" in text or "import google" in text:
            importers.add(".".join(path.relative_to(REPO).with_suffix("").parts))
    assert importers and importers <= set(contract["allowed_importers"])


def test_contract_catches_another_module_importing_genai(tmp_path: Path) -> None:
    settings, contract = _contract()
    files = {
        "cli/__init__.py": "", "desktop/__init__.py": "", "core/__init__.py": "",
        "core/egress.py": "", "core/tuning/__init__.py": "", "core/generation/__init__.py": "",
        "core/gemini_connection.py": "", "core/tuning/vertex.py": "from google.cloud import storage\n",
        "core/generation/gemini.py": "from google import genai\n",
        "core/leak.py": "from google import genai\n",
    }
    for rel, body in files.items():
        path = tmp_path / "src" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    config = tmp_path / "lint.toml"
    config.write_text("\n".join([
        "[tool.importlinter]",
        f"root_packages = {json.dumps(settings['root_packages'])}",
        f"include_external_packages = {str(settings.get('include_external_packages', False)).lower()}",
        "[[tool.importlinter.contracts]]",
        f"name = {json.dumps(contract['name'])}",
        f"type = {json.dumps(contract['type'])}",
        f"protected_modules = {json.dumps(contract['protected_modules'])}",
        f"allowed_importers = {json.dumps(contract['allowed_importers'])}",
    ]) + "\n")
    result = _lint(tmp_path, config, tmp_path / "src")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert f"{CONTRACT} BROKEN" in output and "core.leak" in output
    assert "core.generation.gemini ->" not in output
