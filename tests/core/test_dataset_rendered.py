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


def test_a_build_made_under_exclusions_and_redactions_is_copied_and_equals_a_render(
    populated: Store, tmp_path: Path, renders: list[str]
) -> None:
    # The build fingerprints the turns as it read them (raw text, before the
    # redaction it rendered); the export fingerprints the store: they must agree.
    first = build_dataset(populated, "first", DatasetRules())
    rows = ds_store.examples_of(populated, first.id)
    context_turn = rows[0].context_turn_ids[0]
    curation.redact(populated, rows[1].turn_id, 0, 5, rater=RATER)
    curation.redact(populated, context_turn, 0, 3, rater=RATER)
    curation.exclude(populated, [rows[2].context_turn_ids[-1]], rater=RATER, reason=ExcludeReason.IDENTIFYING)
    record = build_dataset(populated, "d", DatasetRules(seed=3))
    assert record.counts["redacted_examples"] >= 1
    assert rendered.COUNTS_KEY in record.counts
    export_dataset(populated, "d", tmp_path / "copied")
    assert renders == []
    kept = kept_folder(populated, "d")
    for p in kept.iterdir():
        p.unlink()
    kept.rmdir()
    export_dataset(populated, "d", tmp_path / "rendered")
    assert renders == ["rendered"]
    assert folder_bytes(tmp_path / "copied") == folder_bytes(tmp_path / "rendered")
    assert b"[redacted]" in (tmp_path / "copied" / "openai_train.jsonl").read_bytes() + (
        tmp_path / "copied" / "test.jsonl").read_bytes()


def test_a_turn_read_differently_twice_during_a_build_keeps_nothing(
    populated: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A target that also sits in a later target's context is read twice: by the
    # targets' query and with the context windows. Simulate an edit between the two.
    same = build_dataset(populated, "same rules", DatasetRules())
    rows = ds_store.examples_of(populated, same.id)
    both = {r.turn_id for r in rows} & {t for r in rows for t in r.context_turn_ids}
    assert both, "no target sits in another's context: the test could not fail"
    real = ds_store.turns_in_ranges
    edited: list[int] = []

    def edited_between_reads(store, ranges):
        rows = real(store, ranges)
        for i, row in enumerate(rows):
            if row[0] in both and not edited:
                rows[i] = (*row[:4], row[4] + " (edited)", row[5])
                edited.append(row[0])
        return rows

    monkeypatch.setattr(ds_store, "turns_in_ranges", edited_between_reads)
    record = build_dataset(populated, "d", DatasetRules())
    assert edited
    assert rendered.COUNTS_KEY not in record.counts
    kept_names = {p.name for p in (populated.path.parent / "datasets").iterdir()}
    assert kept_names == {kept_folder(populated, "same rules").name}


def test_the_content_hash_holds_when_keeping_fails_midway(
    populated: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, renders: list[str]
) -> None:
    # The kept files' own running hashes are the build's content hash: a disk
    # error halfway through a file must not leave a hash of part of it.
    reference = build_dataset(populated, "reference", DatasetRules())
    from core import files

    real_write = files._HashingFile.write
    calls = {"n": 0}

    def failing(self, data):
        calls["n"] += 1
        if calls["n"] == 3:
            real_write(self, data)  # hashed and counted, then the disk fails
            raise OSError(28, "No space left on device")
        return real_write(self, data)

    monkeypatch.setattr(files._HashingFile, "write", failing)
    record = build_dataset(populated, "d", DatasetRules())
    monkeypatch.setattr(files._HashingFile, "write", real_write)
    assert calls["n"] >= 3
    assert rendered.COUNTS_KEY not in record.counts
    assert record.counts["files"] == reference.counts["files"]
    export_dataset(populated, "d", tmp_path / "out")
    assert renders == ["out"]


def test_export_right_after_the_build_trusts_sqlite_that_nothing_changed_and_checks_otherwise(
    populated: Store, tmp_path: Path, renders: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    checks: list[str] = []
    real = rendered.current_fingerprint

    def spy(store, record, withheld):
        checks.append(record.name)
        return real(store, record, withheld)

    monkeypatch.setattr(rendered, "current_fingerprint", spy)
    record = build_dataset(populated, "d", DatasetRules())
    export_dataset(populated, "d", tmp_path / "same session")
    export_dataset(populated, "d", tmp_path / "again")
    assert checks == [] and renders == []
    # a write on this connection, even one elsewhere, and the turns are read again
    other = min(t for t in range(1, 2000) if ds_store.turn_texts(populated, [t]))
    curation.exclude(populated, [other], rater=RATER, reason=ExcludeReason.IDENTIFYING)
    curation.undo(populated, rater=RATER)
    export_dataset(populated, "d", tmp_path / "after a decision")
    assert checks == ["d"] and renders == []
    # another connection (another process) edits a turn of the dataset: refused as before
    build_dataset(populated, "e", DatasetRules(seed=4))
    row = ds_store.examples_of(populated, ds_store.get_dataset(populated, "e").id)[0]
    elsewhere = sqlite3.connect(populated.path)
    with elsewhere:
        elsewhere.execute("UPDATE turns SET text = text || ' edited' WHERE id = ?", [row.context_turn_ids[-1]])
    elsewhere.close()
    with pytest.raises(ValidationError, match="no longer match"):
        export_dataset(populated, "e", tmp_path / "edited elsewhere")
    assert checks == ["d", "e"] and renders == ["edited elsewhere"]
    assert record.counts[rendered.COUNTS_KEY]["inputs_sha256"]


def test_a_commit_elsewhere_during_the_build_means_the_export_checks(
    populated: Store, tmp_path: Path, renders: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    checks: list[str] = []
    real_fp, real_plan = rendered.current_fingerprint, builder._plan

    def spy(store, record, withheld):
        checks.append(record.name)
        return real_fp(store, record, withheld)

    def plan_then_commit_elsewhere(store, rules):
        plan = real_plan(store, rules)
        elsewhere = sqlite3.connect(store.path)
        with elsewhere:
            elsewhere.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('test_probe', '1')")
        elsewhere.close()
        return plan

    monkeypatch.setattr(rendered, "current_fingerprint", spy)
    monkeypatch.setattr(builder, "_plan", plan_then_commit_elsewhere)
    build_dataset(populated, "d", DatasetRules())
    export_dataset(populated, "d", tmp_path / "out")
    assert checks == ["d"] and renders == []  # checked, still current, copied
