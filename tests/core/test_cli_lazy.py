"""The command line imports a command's module only when that command runs."""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
import types

import pytest

import cli as cli
from cli import COMMAND_MODULES, COMMANDS, build_full_parser, build_parser, main


def _registered() -> dict[str, tuple[str, str]]:
    out = {}
    for module in COMMAND_MODULES:
        parser = argparse.ArgumentParser()
        sub = parser.add_subparsers()
        importlib.import_module(module).register(sub)
        helps = {a.dest: a.help for a in sub._choices_actions}  # noqa: SLF001
        out.update({name: (module, helps.get(name)) for name in sub.choices})
    return out


def test_the_command_table_matches_what_the_modules_register() -> None:
    registered = _registered()
    missing = sorted(set(registered) - set(COMMANDS))
    assert not missing, f"add these commands to COMMANDS in cli/__init__.py: {missing}"
    for name, (module, help_text) in COMMANDS.items():
        assert registered.get(name) == (module, help_text), (
            f"COMMANDS[{name!r}] in cli/__init__.py should be {registered.get(name)!r}"
        )


def _sub(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))  # noqa: SLF001


def test_help_lists_every_command_like_the_full_parser() -> None:
    lazy, full = _sub(build_parser()), _sub(build_full_parser())
    assert sorted(lazy.choices) == sorted(full.choices) == sorted(COMMANDS)
    helps = {a.dest: a.help for a in lazy._choices_actions}  # noqa: SLF001
    assert helps == {name: help_text for name, (_module, help_text) in COMMANDS.items()}


_PROBE = """
import json, sys
from cli import main
try:
    code = main(json.loads(sys.argv[1]))
except SystemExit as exc:
    code = exc.code
heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('sqlite_utils', 'importlib.metadata')
               or m in ('core.store', 'core.curation', 'core.importers', 'core.evaluation', 'core.datasets'))
print(json.dumps({'code': code, 'heavy': heavy}), file=sys.stderr)
"""


def _probe(argv: list[str]) -> dict:
    result = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(argv)], capture_output=True, text=True)
    return json.loads(result.stderr.strip().splitlines()[-1])


def test_help_and_version_load_no_command_module() -> None:
    for argv in (["--help"], ["--version"], ["--home", "/nonexistent", "--help"]):
        probe = _probe(argv)
        assert probe["code"] == 0
        assert probe["heavy"] == [], argv


def test_a_command_loads_only_its_own_module(tmp_path) -> None:
    from core.store import open_store

    open_store(tmp_path).close()  # `stats` opens a workspace, never creates one
    probe = _probe(["--home", str(tmp_path), "stats", "--json"])
    assert probe["code"] == 0
    assert "core.store" in probe["heavy"]
    assert "core.evaluation" not in probe["heavy"] and "core.datasets" not in probe["heavy"]
    # The schema is current: no migration framework (sqlite_utils, ~50 ms), no importers (~25 ms).
    assert "core.importers" not in probe["heavy"]
    assert not [m for m in probe["heavy"] if m.split(".")[0] == "sqlite_utils"], probe["heavy"]


def test_an_old_workspace_still_migrates_through_sqlite_utils(tmp_path) -> None:
    import shutil

    from tests.fixtures.make_workspaces import expected_fixtures

    fixture = expected_fixtures()[max(expected_fixtures())]  # the schema one step behind
    shutil.copyfile(fixture, tmp_path / "attune.db")
    probe = _probe(["--home", str(tmp_path), "stats", "--json"])
    assert probe["code"] == 0
    assert "sqlite_utils" in probe["heavy"]
    assert list((tmp_path / "backups").glob("*before-migration*.db")), "no backup before migrating"


def test_top_level_help_before_a_command_still_lists_every_command() -> None:
    for argv in (["-h", "stats"], ["--home", "x", "--help", "stats"], ["--", "stats"]):
        assert sorted(_sub(build_parser(argv)).choices) == sorted(COMMANDS), argv
    # Running a known command needs no other command's parser.
    assert "evaluate" not in _sub(build_parser(["stats"])).choices


def test_command_help_is_the_real_one(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["stats", "--help"])
    assert exc.value.code == 0
    assert "--json" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_a_module_missing_from_the_table_still_works(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    module = types.ModuleType("cli._probe_cmds")

    def register(sub: argparse._SubParsersAction) -> None:
        p = sub.add_parser("probe-cmd", help="a command added without a COMMANDS line")
        p.set_defaults(handler=lambda args: print("probed") or 0)

    module.register = register  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "cli._probe_cmds", module)
    monkeypatch.setattr(cli, "COMMAND_MODULES", [*COMMAND_MODULES, "cli._probe_cmds"])
    assert main(["probe-cmd"]) == 0
    assert capsys.readouterr().out.strip() == "probed"
    assert "probe-cmd" in _sub(build_parser()).choices
