"""Evaluation reports in the paper's table layout: Markdown, CSV, JSON and HTML.

Tables read like the paper's tables 1-6 (``Metric | one column per system |
Therapist``), one overall and one per category, with the 95 % interval
beside each average. The HTML file is self-contained: inline CSS and SVG,
no scripts, nothing fetched. Reports hold aggregate figures only, never the
text of a session.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Callable
from pathlib import Path

from core.evaluation.evaluate import (
    AVERAGES,
    JSON_DECIMALS,
    SENTIMENT_NOTE,
    Block,
    EvaluationResult,
    SystemScores,
)
from core.evaluation.sources import THERAPIST
from core.files import FolderPublisher, write_file_atomic
from core.text_safety import markdown_inline, one_line

NO_VALUE = "—"
METRIC_LABELS = {
    "avg_length_diff": "Avg Length Diff (abs)",
    "avg_sentiment_distance": "Avg Sentiment Distance",
    "avg_sentence_diff": "Avg Sentence Diff (abs)",
    "name_usage_mismatch": "Name Usage Mismatch",
    "questions": "Num of Questions Asked",
    "replies_with_question": "Replies With a Question",
    "n": "n",
    "missing": "missing",
}
# Row order of the paper's tables, then the counts the paper left out.
ROW_ORDER = tuple(METRIC_LABELS)
CHARTED_AVERAGES = tuple(m for m in ROW_ORDER if m in AVERAGES)  # the paper's order
DECIMALS = {"avg_length_diff": 2, "avg_sentence_diff": 2, "avg_sentiment_distance": 4}
REPORT_FILES = ("evaluation.json", "evaluation.md", "evaluation.csv", "evaluation.html")


def format_value(metric: str, value: float | int | None) -> str:
    if value is None:
        return NO_VALUE
    if metric in DECIMALS:
        return f"{value:.{DECIMALS[metric]}f}"
    return str(value)


def format_interval(metric: str, interval: tuple[float, float] | None) -> str:
    if interval is None:
        return ""
    d = DECIMALS.get(metric, 2)
    return f"[{interval[0]:.{d}f}, {interval[1]:.{d}f}]"


def blocks(result: EvaluationResult) -> list[tuple[str, Block]]:
    """Overall first, then the categories in the paper's order."""
    return [("Overall", result.overall), *result.categories.items()]


def table_rows(result: EvaluationResult, block: Block, *, intervals: bool = True) -> list[list[str]]:
    """Rows of one table: ``[label, system…, therapist]``, formatted for reading."""
    rows, reference = [], reference_column(result)
    for metric in ROW_ORDER:
        row = [METRIC_LABELS[metric]]
        for name in result.systems:
            scores: SystemScores = block.systems[name]
            cell = format_value(metric, getattr(scores, metric))
            if intervals and metric in AVERAGES:
                iv = format_interval(metric, block.intervals[name].get(metric))
                cell = f"{cell} {iv}" if iv else cell
            row.append(cell)
        if reference:
            row.append({"questions": str(block.therapist.questions),
                        "replies_with_question": str(block.therapist.replies_with_question),
                        "n": str(block.n)}.get(metric, NO_VALUE))
        rows.append(row)
    return rows


def reference_column(result: EvaluationResult) -> bool:
    """The therapist's reference column, unless the therapist is one of the systems compared."""
    return THERAPIST not in result.systems


def headers(result: EvaluationResult) -> list[str]:
    return ["Metric", *result.systems, *(["Therapist"] if reference_column(result) else [])]


def paired_lines(result: EvaluationResult, block: Block) -> list[str]:
    out = []
    if block.n == 0:
        return out
    if block.note:  # small sample: the figures stay, the inference goes, and the reader is told why
        out.append(f"no intervals or p-values: {block.note}")
    for p in block.paired:
        parts = []
        for metric in AVERAGES:
            m = p.metrics[metric]
            if m.mean_difference is None:
                continue
            d = DECIMALS[metric]
            iv = format_interval(metric, m.interval)
            test = f" (Wilcoxon p = {m.wilcoxon_p:.3g})" if m.wilcoxon_p is not None else ""
            parts.append(f"{METRIC_LABELS[metric]} {m.mean_difference:+.{d}f} {iv}".rstrip() + test)
        detail = "; ".join(parts) if parts else "no item answered by both"
        if p.note and not block.note and parts:
            detail += f" (no interval or p-value: {p.note})"
        out.append(f"{p.a} − {p.b} over {p.n} item{'s' if p.n != 1 else ''} both answered: {detail}")
    return out


def _title(result: EvaluationResult) -> str:
    return f"Evaluation of {', '.join(result.systems)} on dataset {result.dataset}"


def _method_note(result: EvaluationResult) -> str:
    return (
        f"Averages are over test items the system answered (n); missing counts items with no reply, "
        f"a blocked one or an empty one. Brackets: {round(result.confidence * 100)}% stratified "
        f"percentile bootstrap intervals ({result.resamples} resamples, seed {result.seed}). "
        "Paired differences are first system minus second (negative: the first is closer to the "
        "therapist), with the Wilcoxon signed-rank test."
    )


# Markdown #####################################################################


def _md_cell(text: str) -> str:
    # No raw HTML, no line break and no unescaped pipe can come out of a cell.
    return one_line(text).replace("\\", "\\\\").replace("|", "\\|").replace("<", "\\<")


def to_markdown(result: EvaluationResult) -> str:
    # Dataset and system names are the user's: escaped, so a name is never markup.
    title = (f"Evaluation of {', '.join(markdown_inline(s) for s in result.systems)} "
             f"on dataset {markdown_inline(result.dataset)}")
    lines = [f"# {title}", "", _method_note(result), "", f"> {SENTIMENT_NOTE}", ""]
    for name, block in blocks(result):
        lines += [f"## {markdown_inline(name)} (n = {block.n})", ""]
        head = headers(result)
        lines.append("| " + " | ".join(_md_cell(h) for h in head) + " |")
        lines.append("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
        for row in table_rows(result, block):
            lines.append("| " + " | ".join(_md_cell(c) for c in row) + " |")
        pairs = paired_lines(result, block)
        if pairs:
            lines.append("")
            lines += [f"- {_md_cell(p)}" for p in pairs]
        lines.append("")
    return "\n".join(lines)


# CSV ##########################################################################


def to_csv(result: EvaluationResult) -> str:
    """One row per (table, metric): raw numbers, intervals in their own columns."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    ci_cols = [f"{name} {suffix}" for name in result.systems for suffix in ("ci_low", "ci_high")]
    w.writerow(["Table", "Metric", *result.systems, "Therapist", *ci_cols])
    for name, block in blocks(result):
        for metric in ROW_ORDER:
            values = [getattr(block.systems[s], metric) for s in result.systems]
            therapist: object = {
                "questions": block.therapist.questions,
                "replies_with_question": block.therapist.replies_with_question,
                "n": block.n,
            }.get(metric, "")
            cis: list[object] = []
            for s in result.systems:
                iv = block.intervals[s].get(metric) if metric in AVERAGES else None
                cis += [round(iv[0], JSON_DECIMALS), round(iv[1], JSON_DECIMALS)] if iv else ["", ""]
            cells = ["" if v is None else round(v, JSON_DECIMALS) if isinstance(v, float) else v for v in values]
            w.writerow([name, METRIC_LABELS[metric], *cells, therapist, *cis])
    return out.getvalue()


# HTML #########################################################################

_COLOURS = ("#3b6ea8", "#d07a2d", "#4f9a57", "#a8485b", "#7a5ca8", "#8a7a3a", "#3a8a8a")
THERAPIST_COLOUR = "#777777"

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:70rem;color:#222;padding:0 1rem}
table{border-collapse:collapse;margin:.5rem 0 1rem}
th,td{border:1px solid #bbb;padding:.25rem .6rem;text-align:right}
th:first-child,td:first-child{text-align:left}
thead th{background:#eee}
.note{background:#fff6dd;border-left:4px solid #e0b341;padding:.5rem .8rem;margin:.5rem 0}
.ci{color:#666;font-size:.85em}
.paired{font-size:.9em;color:#333}
figure{margin:1rem 0}
figcaption{font-weight:600;margin-bottom:.3rem}
"""


def _svg_chart(
    result: EvaluationResult,
    metric: str,
    value: Callable[[Block, str], float | None],
    interval: Callable[[Block, str], tuple[float, float] | None],
    *,
    with_therapist: bool,
) -> str:
    """Grouped bars: one group per table (overall, categories), one bar per system."""
    groups = blocks(result)
    series = list(result.systems) + (["Therapist"] if with_therapist else [])
    colours = {s: _COLOURS[i % len(_COLOURS)] for i, s in enumerate(result.systems)}
    colours["Therapist"] = THERAPIST_COLOUR
    top = 0.0
    for _, block in groups:
        for s in series:
            v = value(block, s)
            iv = interval(block, s)
            top = max(top, v or 0.0, iv[1] if iv else 0.0)
    top = top * 1.1 or 1.0
    width, height, left, bottom, pad = 900, 260, 50, 40, 10
    plot_h = height - bottom - pad
    group_w = (width - left - pad) / len(groups)
    bar_w = group_w * 0.8 / max(1, len(series))

    def y(v: float) -> float:
        return pad + plot_h * (1 - v / top)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 20}" '
        f'role="img" aria-label="{html.escape(METRIC_LABELS[metric])} by category">',
        f'<line x1="{left}" y1="{y(0):.1f}" x2="{width - pad}" y2="{y(0):.1f}" stroke="#444"/>',
    ]
    for k in range(5):
        v = top * k / 4
        parts.append(
            f'<text x="{left - 4}" y="{y(v) + 4:.1f}" font-size="10" text-anchor="end">'
            f"{v:.{DECIMALS.get(metric, 0) if metric in DECIMALS else 0}f}</text>"
        )
        parts.append(f'<line x1="{left}" y1="{y(v):.1f}" x2="{width - pad}" y2="{y(v):.1f}" stroke="#eee"/>')
    for g, (name, block) in enumerate(groups):
        gx = left + g * group_w + group_w * 0.1
        parts.append(
            f'<text x="{left + g * group_w + group_w / 2:.1f}" y="{height - bottom + 16}" font-size="11" '
            f'text-anchor="middle">{html.escape(name)} (n={block.n})</text>'
        )
        for i, s in enumerate(series):
            v = value(block, s)
            x = gx + i * bar_w
            if v is None:
                continue
            parts.append(
                f'<rect x="{x:.1f}" y="{y(v):.1f}" width="{bar_w * 0.9:.1f}" height="{y(0) - y(v):.1f}" '
                f'fill="{colours[s]}"><title>{html.escape(s)}: {format_value(metric, v)}</title></rect>'
            )
            iv = interval(block, s)
            if iv is not None:
                cx = x + bar_w * 0.45
                parts.append(
                    f'<path d="M{cx:.1f} {y(iv[0]):.1f}V{y(iv[1]):.1f}M{cx - 3:.1f} {y(iv[0]):.1f}h6'
                    f'M{cx - 3:.1f} {y(iv[1]):.1f}h6" stroke="#222" fill="none"/>'
                )
    lx = left
    for s in series:
        parts.append(f'<rect x="{lx}" y="{height + 6}" width="10" height="10" fill="{colours[s]}"/>')
        parts.append(f'<text x="{lx + 14}" y="{height + 15}" font-size="11">{html.escape(s)}</text>')
        lx += 20 + 8 * len(s) + 20
    parts.append("</svg>")
    return "".join(parts)


def to_html(result: EvaluationResult) -> str:
    esc = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(_title(result))}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{esc(_title(result))}</h1>",
        f"<p>{esc(_method_note(result))}</p>",
    ]
    out.append("<h2>Charts</h2>")
    for metric in CHARTED_AVERAGES:
        out.append(f"<figure><figcaption>{esc(METRIC_LABELS[metric])} by category "
                   "(lower is closer to the therapist; whiskers: 95% intervals)</figcaption>")
        if metric == "avg_sentiment_distance":
            out.append(f'<p class="note">{esc(SENTIMENT_NOTE)}</p>')
        out.append(
            _svg_chart(
                result,
                metric,
                lambda b, s, m=metric: getattr(b.systems[s], m),
                lambda b, s, m=metric: b.intervals[s].get(m),
                with_therapist=False,
            )
        )
        out.append("</figure>")
    out.append("<figure><figcaption>Num of Questions Asked by category</figcaption>")
    out.append(
        _svg_chart(
            result,
            "questions",
            lambda b, s: b.therapist.questions if s == "Therapist" else b.systems[s].questions,
            lambda b, s: None,
            with_therapist=reference_column(result),
        )
    )
    out.append("</figure>")
    for name, block in blocks(result):
        out.append(f"<h2>{esc(name)} (n = {block.n})</h2>")
        out.append("<table><thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in headers(result)) + "</tr></thead><tbody>")
        plain = table_rows(result, block, intervals=False)
        for metric, row in zip(ROW_ORDER, plain, strict=True):
            cells = [f"<td>{esc(row[0])}</td>"]
            systems, reference = row[1:len(result.systems) + 1], row[len(result.systems) + 1:]
            for s, cell in zip(result.systems, systems, strict=True):
                iv = format_interval(metric, block.intervals[s].get(metric)) if metric in AVERAGES else ""
                extra = f' <span class="ci">{esc(iv)}</span>' if iv else ""
                cells.append(f"<td>{esc(cell)}{extra}</td>")
            cells += [f"<td>{esc(cell)}</td>" for cell in reference]
            out.append("<tr>" + "".join(cells) + "</tr>")
        out.append("</tbody></table>")
        if any(b.systems[s].n for b in [block] for s in result.systems):
            out.append(f'<p class="note">{esc(SENTIMENT_NOTE)}</p>')
        for line in paired_lines(result, block):
            out.append(f'<p class="paired">{esc(line)}</p>')
    out.append("</body></html>")
    return "\n".join(out)


def to_json_text(result: EvaluationResult) -> str:
    return json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n"


def write_report(result: EvaluationResult, folder: Path) -> list[Path]:
    """Publish JSON, Markdown, CSV and HTML as one folder, all-or-nothing; returns the paths.

    The folder is replaced whole (``core.files.FolderPublisher``): a crash
    leaves the previous report or the new one, never a mix of two runs.
    """
    folder = Path(folder)
    contents = {
        "evaluation.json": to_json_text(result),
        "evaluation.md": to_markdown(result),
        "evaluation.csv": to_csv(result),
        "evaluation.html": to_html(result),
    }
    with FolderPublisher(folder, owned=REPORT_FILES) as out:
        for name, text in contents.items():
            out.write(name, text)
        out.commit({"kind": "evaluation-report"})
    return [folder / name for name in contents]


def write_atomic(path: Path, text: str) -> None:
    """One report file, owner-only, through a temporary file and a rename (``core.files``)."""
    write_file_atomic(Path(path), text)
