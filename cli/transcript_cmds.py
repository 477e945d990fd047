"""Reading transcripts from the command line: ``attune show`` and ``attune metadata``.

Turns are numbered as the app numbers them (``core.models.turn_number``: 1 for a
transcript's first turn). The turn id, which ``include``/``exclude``/``rate``
take, is printed beside the number and nowhere else.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import textwrap

from cli.common import print_table, store_from_args
from core import curation
from core.errors import UsageError
from core.ids import TranscriptId
from core.models import Role, Turn, turn_number
from core import transcripts as transcript_store


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "show",
        help="print a transcript turn by turn, numbered as the app numbers them",
        description="Print a transcript as the clinician reads it: turn number (the same as "
        "the app's), role, speaker, word count, the effective decision (all raters, see "
        "docs/decision-policy.md) and the text. The id after each turn's heading is what "
        "include, exclude and rate take.",
    )
    p.add_argument("transcript", type=int, metavar="TRANSCRIPT", help="transcript id (see `attune transcripts`)")
    p.add_argument("--turns", metavar="A-B", help="only turns A to B (or one turn: A), as numbered here")
    p.add_argument("--json", action="store_true", help="one JSON object per turn")
    p.set_defaults(handler=cmd_show)

    p = sub.add_parser(
        "metadata",
        help="list source metadata keys, or one key's values",
        description="What sources said about sessions (AnnoMI's topic and mi_quality, mapped "
        "CSV columns, text headers). With KEY, its values and how many transcripts have each: "
        "the values `set-category --where KEY=VALUE` and `transcripts --where` match.",
    )
    p.add_argument("key", nargs="?", metavar="KEY")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_metadata)


def parse_turn_range(text: str) -> tuple[int, int]:
    """``"3-7"`` → (3, 7); ``"5"`` → (5, 5); visible turn numbers, inclusive."""
    parts = text.replace("–", "-").split("-")
    try:
        if len(parts) == 1:
            first = last = int(parts[0])
        elif len(parts) == 2:
            first = int(parts[0]) if parts[0].strip() else 1
            last = int(parts[1]) if parts[1].strip() else 10**9
        else:
            raise ValueError
    except ValueError:
        raise UsageError(f"--turns: expected A-B or A (turn numbers), got {text!r}") from None
    if first < 1 or last < first:
        raise UsageError(f"--turns: {text!r} is not a range of turn numbers from 1 up")
    return first, last


def _decision(turn: Turn, state: curation.TurnState | None) -> str:
    if turn.role is not Role.THERAPIST:
        return "-"
    if state is None:
        return "unreviewed"
    text = str(state.effective_status)
    if state.effective_status is curation.Status.EXCLUDED and state.reason is not None:
        text += f" ({state.reason})"
    if state.effective_rating is not None:
        text += f", rated {state.effective_rating:g}"
    if state.effective_flagged:
        text += ", flagged"
    return text


def cmd_show(args: argparse.Namespace) -> int:
    first, last = parse_turn_range(args.turns) if args.turns else (1, 10**9)
    with store_from_args(args) as store:
        transcript = transcript_store.get_transcript(store, TranscriptId(args.transcript))
        turns = [t for t in transcript_store.turns_of(store, transcript.id) if first <= t.number <= last]
        rater = curation.default_rater(store)
        states = curation.turn_states(
            store, [t.id for t in turns if t.role is Role.THERAPIST], rater=rater
        )
    if args.turns and not turns:
        raise UsageError(
            f"--turns {args.turns}: transcript {transcript.id} has turns 1 to {transcript.turn_count}"
        )
    out = sys.stdout
    if args.json:
        for t in turns:
            out.write(json.dumps({
                "transcript": transcript.id, "turn": t.number, "id": t.id, "role": t.role.value,
                "speaker": t.speaker, "words": t.word_count, "decision": _decision(t, states.get(t.id)),
                "text": t.text,
            }, ensure_ascii=False) + "\n")
        return 0
    width = max(40, min(shutil.get_terminal_size((100, 24)).columns, 120))
    print(f"Transcript {transcript.id}: {transcript.title}", file=out)
    facts = [transcript.category.value, f"{transcript.turn_count} turns", transcript.format]
    facts += [f"{k}: {v}" for k, v in sorted(transcript.metadata.items()) if _short(v)]
    print("  " + " · ".join(facts), file=out)
    for t in turns:
        who = t.speaker if t.speaker and t.speaker.lower() != t.role.value else ""
        head = f"#{t.number}  {t.role.value}" + (f" ({who})" if who else "")
        words = f"{t.word_count} word" + ("" if t.word_count == 1 else "s")
        head += f" · {words} · {_decision(t, states.get(t.id))} · id {t.id}"
        print(file=out)
        print(head, file=out)
        # Turn text is data: never let it move the cursor or recolour the terminal.
        body = "".join(ch if ch.isprintable() else " " for ch in t.text)
        print(textwrap.fill(body, width=width, initial_indent="    ", subsequent_indent="    "), file=out)
    return 0


def _short(value: object) -> bool:
    return not isinstance(value, (dict, list)) and len(str(value)) <= 80


def cmd_metadata(args: argparse.Namespace) -> int:
    with store_from_args(args) as store:
        if args.key is None:
            keys = transcript_store.metadata_keys(store)
            if args.json:
                for k in keys:
                    print(json.dumps({"key": k.key, "transcripts": k.transcripts, "values": k.values},
                                     ensure_ascii=False))
                return 0
            if not keys:
                print("no source metadata in this workspace")
                return 0
            print_table(["KEY", "TRANSCRIPTS", "VALUES"], [(k.key, k.transcripts, k.values) for k in keys])
            return 0
        values = transcript_store.metadata_values(store, args.key)
    if args.json:
        for v, n in values:
            print(json.dumps({"value": v, "transcripts": n}, ensure_ascii=False))
        return 0
    if not values:
        print(f"no transcript has {args.key!r} (see `attune metadata`)")
        return 0
    print_table(["VALUE", "TRANSCRIPTS"], [(v[:80], n) for v, n in values])
    return 0
