"""The ``attune`` command line: exit codes, where the workspace is, help without Qt, set-category."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, build_parser, main
from core.models import Category
from core.store import open_store
from core.store import transcripts as transcript_store
from core.workspace import DB_FILENAME, HOME_ENV

REPO = Path(__file__).resolve().parents[2]
ATTUNE = Path(sys.executable).with_name("attune")


def _session(folder: Path, name: str, lines: list[str]) -> Path:
    """A plain-text, speaker-labelled transcript."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


def _bad_annomi_csv(folder: Path, name: str) -> Path:
    """An AnnoMI CSV whose second data row (line 3) has a non-numeric utterance id."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(
        "transcript_id,utterance_id,interlocutor,utterance_text\n"
        "0,0,therapist,How are you today?\n"
        "0,one,client,Fine.\n"
    )
    return path


def _titles(home: Path) -> list[str]:
    with open_store(home) as store:
        return [t.title for t in transcript_store.list_transcripts(store)]


# Exit codes ###################################################################


def test_import_all_good_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    _session(tmp_path / "in", "a.txt", ["THERAPIST: Hello there.", "CLIENT: Hi."])
    _session(tmp_path / "in", "b.txt", ["THERAPIST: How was the week?", "CLIENT: Long."])
    assert main(["--home", str(home), "import", str(tmp_path / "in")]) == EXIT_OK
    out = capsys.readouterr()
    assert "2 transcripts imported, 0 failed" in out.out
    assert out.err == ""
    assert sorted(_titles(home)) == ["a", "b"]


def test_import_with_a_bad_file_exits_1_and_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    _session(tmp_path / "in", "good.txt", ["THERAPIST: Hello there.", "CLIENT: Hi."])
    bad = _bad_annomi_csv(tmp_path / "in", "bad.csv")
    assert main(["--home", str(home), "import", str(tmp_path / "in")]) == EXIT_FAILED
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert str(bad) in err[0] and "line 3" in err[0]
    assert _titles(home) == ["good"]  # nothing of the bad file, all of the good one


def test_import_of_a_missing_path_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.txt"
    assert main(["--home", str(tmp_path / "home"), "import", str(missing)]) == EXIT_FAILED
    assert str(missing) in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["no-such-command"],
        ["import"],  # PATH is required
        ["set-category"],
        ["set-category", "not-a-number", "Anxiety"],
        ["import", "x.txt", "--category", "Happiness"],
    ],
    ids=["unknown-command", "import-without-path", "set-category-without-args", "non-numeric-id", "bad-category"],
)
def test_usage_errors_exit_2(argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        code = main(["--home", str(tmp_path / "home"), *argv])
        raise SystemExit(code)
    assert info.value.code == EXIT_USAGE
    err = capsys.readouterr().err
    assert "attune:" in err
    assert "Traceback" not in err


# Where the workspace is ######################################################


def test_home_option_beats_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env_home, opt_home = tmp_path / "env-home", tmp_path / "opt-home"
    monkeypatch.setenv(HOME_ENV, str(env_home))
    assert main(["--home", str(opt_home), "init"]) == EXIT_OK  # only init/import create one
    assert main(["--home", str(opt_home), "stats"]) == EXIT_OK
    assert (opt_home / DB_FILENAME).exists()
    assert not env_home.exists()


def test_environment_is_used_without_home_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_home = tmp_path / "env-home"
    monkeypatch.setenv(HOME_ENV, str(env_home))
    assert main(["init"]) == EXIT_OK
    assert main(["stats"]) == EXIT_OK
    assert (env_home / DB_FILENAME).exists()


def test_home_and_environment_in_a_real_process(tmp_path: Path) -> None:
    """The same precedence through the installed ``attune`` script."""
    env_home, opt_home = tmp_path / "env-home", tmp_path / "opt-home"
    env = {**os.environ, HOME_ENV: str(env_home)}
    for argv, expected in ([["--home", str(opt_home), "stats", "--json"], opt_home],
                           [["stats", "--json"], env_home]):
        init = [*argv[:-2], "init"]  # only init/import create a workspace
        assert subprocess.run([str(ATTUNE), *init], env=env, capture_output=True, timeout=60).returncode == 0
        result = subprocess.run([str(ATTUNE), *argv], env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["transcripts"] == 0
        assert (expected / DB_FILENAME).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["env-home", "opt-home"]


# Help and the GUI, without Qt ################################################


def _subcommands() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")  # noqa: SLF001
    return sorted(sub.choices)


_PROBE = """
import json, sys
from cli import main
results = []
for argv in json.loads(sys.argv[1]):
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    results.append(code)
qt = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'desktop'))
print(json.dumps({'codes': results, 'qt': qt}), file=sys.stderr)
"""


def _probe(argvs: list[list[str]], env: dict[str, str] | None = None) -> tuple[dict, subprocess.CompletedProcess[str]]:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(argvs)],
        cwd=REPO, env=env if env is not None else dict(os.environ), capture_output=True, text=True, timeout=120,
    )
    last = result.stderr.strip().splitlines()[-1]
    return json.loads(last), result


def test_help_of_every_command_works_without_qt() -> None:
    commands = _subcommands()
    assert {"import", "set-category", "stats", "gui"} <= set(commands)
    argvs = [["--help"]] + [[c, "--help"] for c in commands]
    report, result = _probe(argvs)
    assert report["codes"] == [0] * len(argvs), result.stderr
    assert report["qt"] == []
    for c in commands:
        assert f"usage: attune {c}" in result.stdout


def test_installed_script_help() -> None:
    result = subprocess.run([str(ATTUNE), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: attune")


def _no_display_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env[HOME_ENV] = str(tmp_path / "home")
    return env


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="these platforms always have a display")
@pytest.mark.parametrize("argv", [["gui"], []], ids=["gui", "no-command"])
def test_gui_without_a_display_says_how_in_one_line(argv: list[str], tmp_path: Path) -> None:
    env = _no_display_env(tmp_path)
    result = subprocess.run([str(ATTUNE), *argv], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "QT_QPA_PLATFORM=offscreen" in lines[0]
    assert "attune --help" in lines[0]
    report, _ = _probe([argv], env=env)
    assert report["qt"] == []


# set-category #################################################################


@pytest.fixture
def home_with_transcript(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    _session(tmp_path / "in", "s.txt", ["THERAPIST: Hello.", "CLIENT: Hi."])
    assert main(["--home", str(home), "import", str(tmp_path / "in")]) == EXIT_OK
    return home


def _category_of_first(home: Path) -> Category:
    with open_store(home) as store:
        return transcript_store.list_transcripts(store)[0].category


def test_set_category_accepts_any_case(home_with_transcript: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = home_with_transcript
    capsys.readouterr()
    assert main(["--home", str(home), "set-category", "1", "dePRESSion"]) == EXIT_OK
    assert _category_of_first(home) is Category.DEPRESSION
    assert "Depression" in capsys.readouterr().out


def test_set_category_rejects_an_unknown_category(home_with_transcript: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = home_with_transcript
    before = _category_of_first(home)
    capsys.readouterr()
    assert main(["--home", str(home), "set-category", "1", "Happiness"]) == EXIT_USAGE
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "Happiness" in err[0]
    for c in Category:
        assert c.value in err[0]  # names the valid values
    assert _category_of_first(home) is before


def test_set_category_of_a_missing_transcript_exits_1(home_with_transcript: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["--home", str(home_with_transcript), "set-category", "999", "Anger"]) == EXIT_FAILED
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "999" in err[0]
