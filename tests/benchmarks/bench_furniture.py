"""What page-furniture detection costs an import of text transcripts.

``python -m tests.benchmarks furniture`` (``ATTUNE_BENCH_TURNS=200000`` for a
quick run). The corpus is the benchmark sessions (``corpus.iter_sessions``:
windows of real AnnoMI sessions) written as text files, a quarter of
``N_TURNS`` turns in all, twice over:

- laid out as PDF exports (``tests/core/furniture_fixtures.render_pdf_style``:
  running heads, print stamps, page numbers and form feeds every 38-52 lines,
  six label styles, five encodings);
- as plain speaker-labelled text with no furniture at all (the common case).

Each corpus is imported with ``import_paths`` into a fresh workspace twice per
run, each side in a fresh process: as shipped, and with
``importers.text.strip_furniture`` replaced by a pass-through (the floor).
Target (issue 9): detection costs at most 10 % of the import's CPU time, judged
twice: the time spent inside ``strip_furniture`` over the whole import's (precise),
and the import against the pass-through (noisier: two separate processes).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tests.benchmarks.common import N_TURNS, Row, emit, median, run_child
from tests.benchmarks.corpus import MEAN_TURNS_PER_SESSION, default_cache_root, iter_sessions, source_kind

MODULE = "tests.benchmarks.bench_furniture"
RATIO_TARGET = 1.10
SHARE_TARGET = 0.10  # detection's own CPU time over the whole import's
RUNS = 3
CORPUS_VERSION = 1  # bump when the rendering changes


def _write_corpus(out: Path, n_turns: int, *, pdf: bool) -> list[Path]:
    from tests.core.furniture_fixtures import ENCODINGS, LABEL_STYLES, LAYOUTS, Session, render_pdf_style

    stamp = out / ".corpus.json"
    params = {"n_turns": n_turns, "pdf": pdf, "v": CORPUS_VERSION, "src": source_kind()}
    if stamp.exists() and json.loads(stamp.read_text()) == params:
        return sorted(out.glob("*/*.txt"))
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    styles = list(LABEL_STYLES)
    paths = []
    for s in iter_sessions(n_turns, seed=0):
        sub = out / f"{s.index // 1000:03d}"
        sub.mkdir(exist_ok=True)
        path = sub / f"session-{s.index:06d}.txt"
        i = s.index
        if pdf:
            session = Session(str(i), s.title, s.turns)
            encoding = ENCODINGS[i % len(ENCODINGS)]
            try:
                rendered = render_pdf_style(
                    session, label_style=styles[i % len(styles)], layout=LAYOUTS[(i // len(styles)) % len(LAYOUTS)],
                    encoding=encoding, with_header=i % 3 != 0,
                )
            except UnicodeEncodeError:  # a character Windows-1252 lacks: this one in UTF-8
                rendered = render_pdf_style(session, label_style="upper", layout="printed-page-of", encoding="utf-8")
            path.write_bytes(rendered.data)
        else:
            lines = [f"Title: {s.title}", f"Client: {s.client_name}", f"Category: {s.category}", "BEGIN TRANSCRIPT:"]
            lines += [f"{'THERAPIST' if role == 'therapist' else 'CLIENT'}: {text}" for role, text in s.turns]
            lines.append("END TRANSCRIPT")
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    stamp.write_text(json.dumps(params))
    return paths


def _side(corpus: Path, workspace: Path, detect: bool) -> dict:
    import core.importers.text as text_importer
    from core.importers.furniture import Stripped
    from core.importing import import_paths
    from core.store import open_store

    spent = [0.0]
    if detect:
        real = text_importer.strip_furniture

        def measured(text: str, **kw: object) -> Stripped:
            c0 = time.process_time()
            try:
                return real(text, **kw)  # type: ignore[arg-type]
            finally:
                spent[0] += time.process_time() - c0

        text_importer.strip_furniture = measured
    else:
        def pass_through(text: str, **_kw: object) -> Stripped:
            text = text.replace("\f", "\n") if "\f" in text else text
            return Stripped(text, text)

        text_importer.strip_furniture = pass_through
    with open_store(workspace) as store:
        t0, c0 = time.perf_counter(), time.process_time()
        report = import_paths(store, [corpus])
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        turns = store.conn.execute("SELECT count(*) FROM turns").fetchone()[0]
    return {
        "wall": wall, "cpu": cpu, "files": len(report.files), "failed": len(report.failed),
        "transcripts": report.imported_transcripts, "turns": turns,
        "furniture": sum(f.furniture_lines for f in report.files), "detection_cpu": spent[0],
    }


def main(n_turns: int = N_TURNS // 4, runs: int = RUNS) -> list[Row]:
    n_files = max(1, round(n_turns / MEAN_TURNS_PER_SESSION))
    rows: list[Row] = []
    for kind, pdf in (("PDF-style", True), ("plain", False)):
        corpus_dir = default_cache_root() / f"text-corpus-{'pdf' if pdf else 'plain'}-{n_files}-{source_kind()}"
        t0 = time.perf_counter()
        files = _write_corpus(corpus_dir, n_turns, pdf=pdf)
        size_mb = sum(p.stat().st_size for p in files) / 1e6
        print(f"corpus: {len(files)} {kind} text files, {size_mb:.0f} MB, in {corpus_dir} "
              f"(ready in {time.perf_counter() - t0:.1f} s)", flush=True)
        on, off = [], []
        for run in range(runs):
            tmp = Path(tempfile.mkdtemp(prefix="attune-bench-furniture-"))
            try:
                # Alternate the sides so a noisy neighbour hurts both alike.
                off.append(run_child(MODULE, "--side", "off", str(corpus_dir), str(tmp / "off")))
                on.append(run_child(MODULE, "--side", "on", str(corpus_dir), str(tmp / "on")))
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            print(f"run {run}: with detection {on[-1]['cpu']:6.2f} s CPU ({on[-1]['wall']:6.2f} s wall, "
                  f"{on[-1]['detection_cpu']:5.2f} s in detection) | "
                  f"without {off[-1]['cpu']:6.2f} s CPU ({off[-1]['wall']:6.2f} s wall)", flush=True)
        o = on[-1]
        print(f"{kind}: {o['transcripts']} transcripts, {o['turns']} turns, {o['furniture']} furniture lines "
              f"removed, {o['failed']} files failed", flush=True)
        rows += [
            Row(f"{kind}: detection's own CPU (floor: whole import)", median([x["detection_cpu"] for x in on]), "s",
                floor=median([x["cpu"] for x in on]), ratio_target=SHARE_TARGET),
            Row(f"{kind} text import {o['turns']:,} turns, CPU (floor: no detection)",
                median([x["cpu"] for x in on]), "s", floor=median([x["cpu"] for x in off]),
                ratio_target=RATIO_TARGET),
            Row(f"{kind} text import, wall (not judged: shared machine)", median([x["wall"] for x in on]), "s",
                floor=median([x["wall"] for x in off])),
            Row(f"{kind} text import: files that failed", float(o["failed"]), "files", target=0),
        ]
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="furniture detection benchmark")
    parser.add_argument("--side", choices=["on", "off"])
    parser.add_argument("paths", nargs="*")
    args = parser.parse_args()
    if args.side:
        print(json.dumps(_side(Path(args.paths[0]), Path(args.paths[1]), detect=args.side == "on")))
        sys.exit(0)
    emit(main())
