"""One render per dataset: the build keeps its files, the export copies them only while they are current."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core import curation
from core.datasets import DatasetRules, build_dataset, delete_dataset, export_dataset
from core.datasets import builder, rendered
from core.datasets.export import ALL_FILES, EXAMPLE_FILES
from core.errors import OperationCancelled, ValidationError
from core.files import read_complete
from core.models import ExcludeReason
from core.progress import TaskState
from core.store import Store
from core.store import datasets as ds_store
from tests.core.datasets_fixtures import open_populated

RATER = "Dr Test"


@pytest.fixture
def populated(workspace: Path):
    store = open_populated(workspace)
    yield store
    store.close()


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every export that renders (rather than copying what the build kept)."""
    calls: list[str] = []
    real = builder.write_folder

    def spy(out_dir, *args, **kwargs):
        calls.append(Path(out_dir).name)
        return real(out_dir, *args, **kwargs)

    monkeypatch.setattr(builder, "write_folder", spy)
    return calls


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in ALL_FILES}


def kept_folder(store: Store, name: str) -> Path:
    folder = rendered.folder_of(store, ds_store.get_dataset(store, name))
    assert folder is not None
    return folder


def test_the_build_keeps_its_files_and_the_export_copies_them_byte_for_byte(
    populated: Store, tmp_path: Path, renders: list[str]
) -> None:
    record = build_dataset(populated, "d", DatasetRules(freeze_test=True))
    kept = kept_folder(populated, "d")
    assert kept.parent == populated.path.parent / "datasets"
    marker = read_complete(kept)
    assert marker is not None and marker["content_hash"] == record.content_hash
    assert sorted(marker["files"]) == sorted(EXAMPLE_FILES)
    if os.name == "posix":
        assert all(p.stat().st_mode & 0o077 == 0 for p in [kept, *kept.iterdir()])

    export_dataset(populated, "d", tmp_path / "copied")
    assert renders == []  # no second render
    # a dataset reusing the frozen test split keeps its files too
    build_dataset(populated, "reuses", DatasetRules(seed=5))
    export_dataset(populated, "reuses", tmp_path / "reuses")
    assert renders == []
    copied = folder_bytes(tmp_path / "copied")
    assert read_complete(tmp_path / "copied")["content_hash"] == record.content_hash

    # The same export rendered from the store (the path of a dataset built before
    # builds kept their files) gives exactly the same bytes, card and marker included.
    for p in kept.iterdir():
        p.unlink()
    kept.rmdir()
    export_dataset(populated, "d", tmp_path / "rendered")
    assert renders == ["rendered"]
    assert folder_bytes(tmp_path / "rendered") == copied


def test_a_decision_elsewhere_keeps_the_copy_but_one_on_the_dataset_refuses_as_before(
    populated: Store, tmp_path: Path, renders: list[str]
) -> None:
    record = build_dataset(populated, "d", DatasetRules())
    rows = ds_store.examples_of(populated, record.id)
    used = {r.turn_id for r in rows} | {t for r in rows for t in r.context_turn_ids}
    other = min(t for t in range(1, 2000) if t not in used and ds_store.turn_texts(populated, [t]))
    curation.exclude(populated, [other], rater=RATER, reason=ExcludeReason.IDENTIFYING)
    export_dataset(populated, "d", tmp_path / "elsewhere")
    assert renders == []

    # an exclusion inside the dataset: the export renders under today's decisions and refuses
    curation.exclude(populated, [rows[0].context_turn_ids[-1]], rater=RATER, reason=ExcludeReason.IDENTIFYING)
    with pytest.raises(ValidationError, match="no longer match"):
        export_dataset(populated, "d", tmp_path / "stale")
    assert renders == ["stale"]
    assert not (tmp_path / "stale").exists() or not any((tmp_path / "stale").iterdir())
    # undone, the dataset is current again and its kept files are used once more
    curation.undo(populated, rater=RATER)
    export_dataset(populated, "d", tmp_path / "current")
    assert renders == ["stale"]
    assert folder_bytes(tmp_path / "current") == folder_bytes(tmp_path / "elsewhere")


def test_a_redaction_or_a_text_change_in_the_dataset_is_never_exported_from_the_kept_files(
    populated: Store, tmp_path: Path, renders: list[str]
) -> None:
    record = build_dataset(populated, "d", DatasetRules())
    row = ds_store.examples_of(populated, record.id, "train")[0]
    curation.redact(populated, row.turn_id, 0, 5, rater=RATER)
    with pytest.raises(ValidationError, match="no longer match"):
        export_dataset(populated, "d", tmp_path / "redacted")
    curation.undo(populated, rater=RATER)
    export_dataset(populated, "d", tmp_path / "ok")
    assert renders == ["redacted"]
    # not a product path (Attune never edits turn text), but the fingerprint covers it
    populated.conn.execute("UPDATE turns SET text = upper(text) WHERE id = ?", [row.context_turn_ids[0]])
    with pytest.raises(ValidationError, match="no longer match"):
        export_dataset(populated, "d", tmp_path / "edited")
    assert renders == ["redacted", "edited"]


def test_a_damaged_kept_file_is_rendered_again_not_exported(
    populated: Store, tmp_path: Path, renders: list[str]
) -> None:
    build_dataset(populated, "d", DatasetRules())
    export_dataset(populated, "d", tmp_path / "first")
    kept = kept_folder(populated, "d") / "openai_train.jsonl"
    data = bytearray(kept.read_bytes())
    data[10] ^= 0x20  # same size, one letter's case flipped
    kept.write_bytes(bytes(data))
    export_dataset(populated, "d", tmp_path / "again")
    assert renders == ["again"]
    assert folder_bytes(tmp_path / "again") == folder_bytes(tmp_path / "first")


def test_deleting_a_dataset_deletes_its_kept_files_and_leftovers_are_pruned(populated: Store) -> None:
    build_dataset(populated, "a", DatasetRules())
    build_dataset(populated, "b", DatasetRules(seed=2))
    a, b = kept_folder(populated, "a"), kept_folder(populated, "b")
    assert a != b and a.is_dir() and b.is_dir()
    orphan = a.parent / "gone-0123abcd"  # a folder no dataset names (e.g. its transcripts were deleted)
    orphan.mkdir()
    (orphan / "manifest.jsonl").write_text("{}\n")
    users = a.parent / "my notes.txt"  # not ours: never touched
    users.write_text("mine")
    delete_dataset(populated, "a")
    assert not a.exists() and not orphan.exists() and b.is_dir() and users.read_text() == "mine"


def test_a_cancelled_build_keeps_nothing(populated: Store) -> None:
    state = TaskState()
    state.cancel()
    with pytest.raises(OperationCancelled):
        build_dataset(populated, "d", DatasetRules(), state=state)
    folder = populated.path.parent / "datasets"
    assert not folder.exists() or list(folder.iterdir()) == []


def test_a_build_that_cannot_keep_its_files_still_builds_and_the_export_renders(
    populated: Store, tmp_path: Path, renders: list[str]
) -> None:
    (populated.path.parent / "datasets").write_text("a file where the folder would go")
    record = build_dataset(populated, "d", DatasetRules())
    assert rendered.COUNTS_KEY not in record.counts
    result = export_dataset(populated, "d", tmp_path / "out")
    assert renders == ["out"] and result.content_hash == record.content_hash


def test_folder_names_are_safe_whatever_the_dataset_is_called() -> None:
    for name in ("..", ".", "a/b", "ünïcode name", "x" * 100, "con"):
        folder = rendered.new_folder_name(name)
        assert rendered._FOLDER.match(folder), folder
        assert "/" not in folder and not folder.startswith(".")


def test_deleting_the_transcripts_of_a_dataset_deletes_its_kept_files(populated: Store) -> None:
    from core import transcripts

    record = build_dataset(populated, "d", DatasetRules())
    kept = kept_folder(populated, "d")
    assert any(p.stat().st_size for p in kept.iterdir())
    row = ds_store.examples_of(populated, record.id)[0]
    impact = transcripts.delete_transcripts(populated, [row.transcript_id], with_datasets=True)
    assert [name for name, _ in impact.datasets] == ["d"]
    assert not kept.exists()


def test_build_with_out_exports_at_once_and_show_names_the_kept_files(
    populated: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli import main

    home = ["--home", str(populated.path.parent)]
    populated.close()
    assert main([*home, "dataset", "build", "d", "--out", str(tmp_path / "at-build")]) == 0
    assert "matches the stored dataset" in capsys.readouterr().out
    assert main([*home, "dataset", "export", "d", "--out", str(tmp_path / "later")]) == 0
    assert folder_bytes(tmp_path / "at-build") == folder_bytes(tmp_path / "later")
    assert main([*home, "dataset", "show", "d"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("kept files"))
    kept = Path(line.split()[2])
    assert kept.parent == populated.path.parent / "datasets" and (kept / "manifest.jsonl").is_file()
    assert main([*home, "dataset", "delete", "d"]) == 0
    assert not kept.exists()
