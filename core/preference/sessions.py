"""Session setup, blinded rating queues, votes, undo and lock.

The side→system map lives here and in the store (``core.store.preference``)
only. What leaves this module for a rater, ``RaterItem``, holds an opaque key,
the context and two normalised texts: no system name, no example id, no reply
metadata, in an order shuffled per rater.

Setup follows Chatbot Arena's habits: sides are random, but balanced per
rater (over the first showings each system is on the left as often as on the
right, give or take one, so no system's left count differs from another's by
more than one when they appear equally often); replies that give their author
away (a model or vendor name, "as an AI", an error message) are listed before
the session starts and either removed or kept with a flag.
"""

from __future__ import annotations

import itertools
import random
import re
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core.changes import OpChanges, OpChangesWith
from core.datasets.items import eval_items
from core.errors import NotFoundError, UsageError, ValidationError
from core.evaluation import systems as system_registry
from core.store import Store
from core.store import datasets as ds_store
from core.store import preference as pref_store
from core.store.datasets import EvalItem
from core.store.preference import CHOICES, Assignment, NewAssignment, SessionRecord

THERAPIST = system_registry.THERAPIST
LEAK_POLICIES = ("refuse", "remove", "keep")
CHOICE_NAMES = {"a": "Response A", "b": "Response B", "t": "tie", "z": "both bad", "s": "skip"}


# Whitespace: both sides look alike whatever their source did #################


def normalise(text: str) -> str:
    """NFC, no trailing or repeated blanks inside lines, at most one empty line in a row."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    lines = [re.sub(r"[ \t\u00a0\u2000-\u200b\u3000]+", " ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# Identity leaks ###############################################################

_LEAK_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("model or vendor name", re.compile(
        r"\b(gpt-?\d\w*|chatgpt|openai|gemini|bard|palm-?2|vertex ai|google|anthropic|claude|llama[- ]?\d*|"
        r"meta ai|mistral|mixtral|qwen|deepseek|phi-?\d|gemma|copilot|bing)\b", re.I)),
    ("says it is an AI", re.compile(
        r"\b(as an ai|i am an ai|i'm an ai|as a language model|language model|ai assistant|"
        r"i am a (?:large )?language|i'?m (?:just )?a (?:chat)?bot|artificial intelligence)\b", re.I)),
    # Specific phrases only: "I made an error" or "an exception to the rule" are therapy, not failures.
    ("error message", re.compile(
        r"(\berror:|\berror code\b|\ban error occurred\b|\bexception:|\btraceback\b|\brate limit|"
        r"\bquota exceeded\b|\binternal server error\b|\bhttp \d{3}\b|\bstatus code \d{3}\b|\[blocked\]|"
        r"\bcontent filter|\bsafety filter|\A\s*(?:none|null|undefined|nan)\s*\Z)", re.I)),
)


@dataclass(frozen=True, slots=True)
class LeakFinding:
    example_id: str
    system: str
    what: str
    excerpt: str


def scan_reply(text: str, extra: Sequence[str] = ()) -> list[tuple[str, str]]:
    """(what, excerpt) for every identity leak in one reply; ``extra`` are model ids to look for."""
    found = []
    patterns = list(_LEAK_PATTERNS)
    if extra:
        patterns.append(("model id", re.compile("|".join(re.escape(e) for e in extra if e), re.I)))
    for what, pattern in patterns:
        m = pattern.search(text)
        if m:
            start = max(0, m.start() - 25)
            found.append((what, text[start : m.end() + 25].replace("\n", " ")))
    return found


def _model_ids(store: Store, systems: Sequence[str]) -> list[str]:
    """Model ids and system names recorded in provenance (a reply quoting its own model id leaks)."""
    out: list[str] = []
    for info in system_registry.list_systems(store):
        if info.name not in systems or info.builtin:
            continue
        for key in ("model", "model_id", "base_model", "tuned_model", "endpoint"):
            value = info.provenance.get(key)
            if isinstance(value, str) and len(value) >= 4:
                out.append(value)
        if len(info.name) >= 5:  # short names (base, tuned) are ordinary words
            out.append(info.name)
    return out


# Setup ########################################################################


@dataclass(frozen=True, slots=True)
class SessionSpec:
    dataset: str
    systems: tuple[str, ...]
    raters: tuple[str, ...] = ("me",)
    items: int | None = None  # a seeded sample of N; None: all
    category: str | None = None
    seed: int | None = None
    pairing: str = "all"  # all | balanced (one pair per item, pairs used equally)
    repeat_share: float = 0.0
    leaks: str = "refuse"  # refuse | remove | keep (flagged)


@dataclass(frozen=True, slots=True)
class SetupReport:
    session_id: int
    seed: int
    items: int
    pairs_per_rater: int
    dropped_missing: int  # items where a system had no usable reply
    leaks: tuple[LeakFinding, ...]
    leak_items_removed: int
    leak_items_flagged: int


class LeaksFound(ValidationError):
    """Replies that give their author away; the caller chooses to remove or keep them."""

    def __init__(self, findings: Sequence[LeakFinding]) -> None:
        self.findings = tuple(findings)
        items = len({f.example_id for f in findings})
        super().__init__(
            f"{len(findings)} repl{'y' if len(findings) == 1 else 'ies'} in {items} item{'' if items == 1 else 's'} "
            "may reveal which system wrote them; "
            "choose to remove those items or keep them flagged (--leaks remove|keep)"
        )


def _check_spec(spec: SessionSpec) -> None:
    if len(spec.systems) < 2:
        raise UsageError("an A/B session needs two or more systems (e.g. --systems base,tuned,therapist)")
    if len(set(spec.systems)) != len(spec.systems):
        raise UsageError("--systems: a system is named twice")
    if not spec.raters or any(not r.strip() for r in spec.raters):
        raise UsageError("--raters: give one or more rater names")
    if len(set(spec.raters)) != len(spec.raters):
        raise UsageError("--raters: a rater is named twice")
    if spec.pairing not in ("all", "balanced"):
        raise UsageError(f"pairing: all or balanced (got {spec.pairing!r})")
    if not 0 <= spec.repeat_share <= 1:
        raise UsageError(f"--repeat-share: between 0 and 1 (got {spec.repeat_share})")
    if spec.items is not None and spec.items < 1:
        raise UsageError(f"--items: at least 1 (got {spec.items})")
    if spec.leaks not in LEAK_POLICIES:
        raise UsageError(f"leaks: one of {', '.join(LEAK_POLICIES)} (got {spec.leaks!r})")


def _texts(store: Store, spec: SessionSpec, dataset_id: int, items: list[EvalItem]) -> dict[str, dict[str, str]]:
    """example id → system → usable reply text, for items every system answered."""
    per_system = {s: system_registry.replies_of(store, s, dataset_id, items) for s in spec.systems}
    out: dict[str, dict[str, str]] = {}
    for item in items:
        texts = {}
        for s in spec.systems:
            reply = per_system[s].get(item.example_id)
            if reply is None or not reply.usable:
                break
            texts[s] = reply.text
        else:
            out[item.example_id] = texts
    return out


def find_leaks(store: Store, spec: SessionSpec) -> list[LeakFinding]:
    """The identity-leak scan alone (what ``create_session`` would list)."""
    record = ds_store.get_dataset(store, spec.dataset)
    items = _select_items(eval_items(store, record.id), spec, _seed(spec))
    return _scan(store, spec, _texts(store, spec, record.id, items))


def _scan(store: Store, spec: SessionSpec, texts: dict[str, dict[str, str]]) -> list[LeakFinding]:
    extra = _model_ids(store, spec.systems)
    return [
        LeakFinding(eid, s, what, excerpt)
        for eid in sorted(texts)
        for s in spec.systems
        for what, excerpt in scan_reply(texts[eid][s], extra)
    ]


def _seed(spec: SessionSpec) -> int:
    return spec.seed if spec.seed is not None else secrets.randbelow(2**31)


def _select_items(items: list[EvalItem], spec: SessionSpec, seed: int) -> list[EvalItem]:
    if spec.category is not None:
        items = [i for i in items if i.category.lower() == spec.category.lower()]
        if not items:
            raise ValidationError(f"--category: no test items in category {spec.category!r}")
    items = sorted(items, key=lambda i: i.example_id)
    if spec.items is not None and spec.items < len(items):
        items = sorted(random.Random(seed).sample(items, spec.items), key=lambda i: i.example_id)
    return items


def _balanced_orientation(edges: Sequence[tuple[str, str]], rng: random.Random) -> list[bool]:
    """For each edge (x, y): True puts x on the left. Every vertex ends within one of balanced.

    Odd-degree vertices are joined to a dummy vertex, so every degree is even;
    walking closed trails over unused edges then enters each vertex as often as
    it leaves it (Euler), and dropping the dummy edges moves any count by one.
    """
    dummy = "\0dummy"
    all_edges = list(edges)
    degree: dict[str, int] = {}
    for x, y in edges:
        degree[x] = degree.get(x, 0) + 1
        degree[y] = degree.get(y, 0) + 1
    all_edges += [(v, dummy) for v in sorted(degree) if degree[v] % 2]
    adjacency: dict[str, list[int]] = {}
    for n, (x, y) in enumerate(all_edges):
        adjacency.setdefault(x, []).append(n)
        adjacency.setdefault(y, []).append(n)
    for v in adjacency:
        rng.shuffle(adjacency[v])
    used = [False] * len(all_edges)
    left_first = [True] * len(all_edges)
    starts = sorted(adjacency)
    rng.shuffle(starts)
    for start in starts:
        v = start
        while True:
            while adjacency[v] and used[adjacency[v][-1]]:
                adjacency[v].pop()
            if not adjacency[v]:
                break
            n = adjacency[v].pop()
            used[n] = True
            x, y = all_edges[n]
            left_first[n] = v == x  # leaving v: v is on the left
            v = y if v == x else x
    return left_first[: len(edges)]


def _rater_assignments(
    rater: str, units: Sequence[tuple[str, str, str]], seed: int, repeat_share: float
) -> list[NewAssignment]:
    """One rater's queue: sides balanced, order shuffled, repeats later with sides swapped."""
    rng = random.Random(f"{seed}:{rater}")
    by_pair: dict[tuple[str, str], list[int]] = {}
    for n, (_eid, x, y) in enumerate(units):
        by_pair.setdefault((x, y), []).append(n)
    x_left = [True] * len(units)
    odd: list[tuple[int, tuple[str, str]]] = []
    for pair, idxs in sorted(by_pair.items()):
        idxs = idxs[:]
        rng.shuffle(idxs)
        half = len(idxs) // 2
        for i in idxs[half : 2 * half]:
            x_left[i] = False
        if len(idxs) % 2:
            odd.append((idxs[-1], pair))
    for (i, _pair), first in zip(odd, _balanced_orientation([p for _, p in odd], rng), strict=True):
        x_left[i] = first
    order = list(range(len(units)))
    rng.shuffle(order)
    queue: list[tuple[str, str, str, int | None]] = []  # eid, left, right, repeat of queue index
    for i in order:
        eid, x, y = units[i]
        queue.append((eid, *((x, y) if x_left[i] else (y, x)), None))
    repeats = round(repeat_share * len(units))
    if repeats:
        for original in sorted(rng.sample(range(len(units)), repeats), reverse=True):
            eid, left, right, _ = queue[original]
            # Later, never right after the first showing when there is room.
            lo = min(original + 2, len(queue))
            queue.insert(rng.randint(lo, len(queue)), (eid, right, left, original))
    out: list[NewAssignment] = []
    position_of_first: dict[tuple[str, str, str], int] = {}
    for pos, (eid, left, right, rep) in enumerate(queue):
        key = (eid, *sorted((left, right)))
        if rep is None:
            position_of_first[key] = pos
    for pos, (eid, left, right, rep) in enumerate(queue):
        key = (eid, *sorted((left, right)))
        out.append(NewAssignment(
            rater=rater, position=pos, example_id=eid, left_system=left, right_system=right,
            item_key="k-" + secrets.token_hex(8),
            repeat_of_position=position_of_first[key] if rep is not None else None,
        ))
    return out


def plan_units(example_ids: Sequence[str], systems: Sequence[str], pairing: str, seed: int) -> list[tuple[str, str, str]]:
    """(example id, system x, system y) to be judged by every rater."""
    pairs = list(itertools.combinations(systems, 2))
    if pairing == "all":
        return [(eid, x, y) for eid in example_ids for x, y in pairs]
    rng = random.Random(f"{seed}:pairs")
    ids = list(example_ids)
    rng.shuffle(ids)
    rng.shuffle(pairs)
    return [(eid, *pairs[n % len(pairs)]) for n, eid in enumerate(ids)]


def create_session(store: Store, spec: SessionSpec) -> OpChangesWith[SetupReport]:
    """Pick items, copy the replies, scan for leaks, assign pairs and sides; one transaction."""
    _check_spec(spec)
    record = ds_store.get_dataset(store, spec.dataset)
    known = set(system_registry.system_names(store))
    for s in spec.systems:
        if s not in known:
            raise NotFoundError(f"--systems: no system named {s!r} (known: {', '.join(sorted(known))})")
    seed = _seed(spec)
    items = _select_items(eval_items(store, record.id), spec, seed)
    texts = _texts(store, spec, record.id, items)
    dropped = len(items) - len(texts)
    findings = _scan(store, spec, texts)
    leaky: dict[str, list[LeakFinding]] = {}
    for f in findings:
        leaky.setdefault(f.example_id, []).append(f)
    if findings and spec.leaks == "refuse":
        raise LeaksFound(findings)
    removed = flagged = 0
    if spec.leaks == "remove":
        removed = sum(1 for eid in leaky if eid in texts)
        texts = {eid: t for eid, t in texts.items() if eid not in leaky}
    elif leaky:
        flagged = len(leaky)
    if not texts:
        raise ValidationError(
            f"dataset {spec.dataset!r}: no test items left where every system "
            f"({', '.join(spec.systems)}) has a usable reply"
        )
    categories = {i.example_id: i.category for i in items}
    example_ids = sorted(texts)
    units = plan_units(example_ids, spec.systems, spec.pairing, seed)
    new_assignments = [a for r in spec.raters for a in _rater_assignments(r, units, seed, spec.repeat_share)]
    settings: dict[str, Any] = {
        "items": spec.items, "category": spec.category, "pairing": spec.pairing,
        "repeat_share": spec.repeat_share, "leaks": spec.leaks, "dropped_missing": dropped,
        "leak_items_removed": removed,
    }
    with store.transaction():
        sid = pref_store.insert_session(
            store, token=secrets.token_hex(16), dataset_id=record.id, dataset_name=record.name, seed=seed,
            systems=spec.systems, raters=spec.raters, settings=settings,
            items=[(eid, categories[eid], "; ".join(sorted({f.what for f in leaky.get(eid, [])})))
                   for eid in example_ids],
            # The therapist's reply is session text: never copied (deleting or redacting it must hold).
            replies=[(eid, s, texts[eid][s]) for eid in example_ids for s in spec.systems if s != THERAPIST],
            assignments=new_assignments,
        )
    report = SetupReport(
        session_id=sid, seed=seed, items=len(example_ids), pairs_per_rater=len(new_assignments) // len(spec.raters),
        dropped_missing=dropped, leaks=tuple(findings), leak_items_removed=removed, leak_items_flagged=flagged,
    )
    return OpChangesWith(OpChanges(), report)


# What a rater sees ############################################################


@dataclass(frozen=True, slots=True)
class RaterItem:
    """One screen (or package entry): nothing here depends on which system wrote which side."""

    key: str
    context: tuple[tuple[str, str], ...]  # (client|therapist, text), oldest first
    response_a: str
    response_b: str
    vote: str | None = None
    comment: str = ""


@dataclass(frozen=True, slots=True)
class RaterQueue:
    session_id: int
    token: str
    rater: str
    locked: bool
    items: tuple[RaterItem, ...]
    withheld: int = 0  # assignments whose item an exclusion made since removes

    @property
    def done(self) -> int:
        return sum(1 for i in self.items if i.vote is not None)

    @property
    def total(self) -> int:
        return len(self.items)

    def next_index(self) -> int | None:
        return next((n for n, i in enumerate(self.items) if i.vote is None), None)


@dataclass(frozen=True, slots=True)
class _Unblinded:
    assignment: Assignment
    left_text: str
    right_text: str
    context: tuple[tuple[str, str], ...]


def _current(store: Store, session: SessionRecord) -> dict[str, EvalItem]:
    if session.dataset_id is None:
        raise ValidationError(f"A/B session {session.id}: its dataset {session.dataset_name!r} was deleted")
    return {i.example_id: i for i in eval_items(store, session.dataset_id)}


def _text(replies: dict[tuple[str, str], str], item: EvalItem, system: str) -> str:
    # The therapist's reply is the turn itself: rendered today, so a redaction made since holds.
    return item.reference if system == THERAPIST else replies[(item.example_id, system)]


def _shown(store: Store, session: SessionRecord, rater: str | None) -> tuple[list[_Unblinded], int]:
    current = _current(store, session)
    replies = pref_store.session_replies(store, session.id)
    out, withheld = [], 0
    for a in pref_store.assignments(store, session.id, rater):
        item = current.get(a.example_id)
        if item is None:  # excluded since the session was set up: never shown again
            withheld += 1
            continue
        out.append(_Unblinded(a, _text(replies, item, a.left_system), _text(replies, item, a.right_system),
                              item.context))
    return out, withheld


def get_session(store: Store, session_id: int) -> SessionRecord:
    return pref_store.get_session(store, session_id)


def _check_rater(session: SessionRecord, rater: str) -> None:
    if rater not in session.raters:
        raise UsageError(f"{rater!r} is not a rater of A/B session {session.id} (raters: {', '.join(session.raters)})")


def rater_queue(store: Store, session_id: int, rater: str) -> RaterQueue:
    """The rater's items in their order, blinded, with the votes cast so far (resumable)."""
    session = pref_store.get_session(store, session_id)
    _check_rater(session, rater)
    shown, withheld = _shown(store, session, rater)
    votes = pref_store.current_votes(store, session.id)
    items = tuple(
        RaterItem(
            key=u.assignment.item_key,
            context=tuple((role, normalise(text)) for role, text in u.context),
            response_a=normalise(u.left_text),
            response_b=normalise(u.right_text),
            vote=votes[u.assignment.id].choice if u.assignment.id in votes else None,
            comment=votes[u.assignment.id].comment if u.assignment.id in votes else "",
        )
        for u in shown
    )
    return RaterQueue(session.id, session.token, rater, session.state == "locked", items, withheld)


# Votes ########################################################################


class DuplicateVote(ValidationError):
    """An item already has a vote from this rater (undo it first, or the package was merged before)."""


def _assignment_by_key(store: Store, session: SessionRecord, rater: str, key: str) -> Assignment:
    for a in pref_store.assignments(store, session.id, rater):
        if a.item_key == key:
            return a
    raise NotFoundError(f"item {key!r} is not in {rater!r}'s part of A/B session {session.id}")


def _check_open(session: SessionRecord) -> None:
    if session.state != "open":
        raise UsageError(f"A/B session {session.id} is locked; votes can no longer change")


def vote(
    store: Store, session_id: int, rater: str, key: str, choice: str, comment: str = "", *, source: str = "screen"
) -> OpChanges:
    """Record one vote, committed at once; refuses a second vote on the same item."""
    choice = choice.strip().lower()
    if choice not in CHOICES:
        raise UsageError(f"vote: one of {', '.join(CHOICES)} (got {choice!r})")
    with store.transaction():
        session = pref_store.get_session(store, session_id)
        _check_open(session)
        _check_rater(session, rater)
        a = _assignment_by_key(store, session, rater, key)
        if a.id in pref_store.current_votes(store, session.id):
            raise DuplicateVote(f"item {key!r} already has a vote from {rater!r}; undo it first")
        pref_store.insert_vote(store, a.id, choice, comment.strip(), source)
    return OpChanges()


def undo_last_vote(store: Store, session_id: int, rater: str) -> str | None:
    """Withdraw the rater's most recent vote (an ``undo`` row is appended); returns its item key."""
    with store.transaction():
        session = pref_store.get_session(store, session_id)
        _check_open(session)
        _check_rater(session, rater)
        aid = pref_store.last_voted_assignment(store, session.id, rater)
        if aid is None:
            return None
        pref_store.insert_undo(store, aid, "screen")
        return next(a.item_key for a in pref_store.assignments(store, session.id, rater) if a.id == aid)


def lock(store: Store, session_id: int) -> SessionRecord:
    """End voting and allow unblinding (reports, exports)."""
    with store.transaction():
        session = pref_store.get_session(store, session_id)
        _check_open(session)
        pref_store.set_locked(store, session.id)
    return pref_store.get_session(store, session_id)


def sessions(store: Store) -> list[SessionRecord]:
    return pref_store.list_sessions(store)


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """A session as listed: what anyone may see before it is locked (no sides, no results)."""

    session: SessionRecord
    votes: int
    assignments: int

    @property
    def per_rater(self) -> int:
        return self.assignments // max(1, len(self.session.raters))


def session_summaries(store: Store) -> list[SessionSummary]:
    return [
        SessionSummary(s, len(pref_store.current_votes(store, s.id)), len(pref_store.assignments(store, s.id)))
        for s in pref_store.list_sessions(store)
    ]


# Unblinded rows, for analysis and export (locked sessions only) ##############


@dataclass(frozen=True, slots=True)
class VoteRow:
    item_id: str  # example id
    category: str
    rater: str
    left_system: str
    right_system: str
    choice: str
    comment: str
    key: str
    repeat_of_key: str | None
    leak_flag: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def unblinded_votes(store: Store, session_id: int) -> list[VoteRow]:
    """Every current vote with its sides' systems; refuses while the session is open."""
    session = pref_store.get_session(store, session_id)
    if session.state != "locked":
        raise UsageError(f"A/B session {session.id} is still open; lock it first (attune ab lock {session.id})")
    items = pref_store.session_items(store, session.id)
    votes = pref_store.current_votes(store, session.id)
    all_assignments = pref_store.assignments(store, session.id)
    keys = {a.id: a.item_key for a in all_assignments}
    return [
        VoteRow(
            item_id=a.example_id, category=items[a.example_id][0], rater=a.rater, left_system=a.left_system,
            right_system=a.right_system, choice=votes[a.id].choice, comment=votes[a.id].comment, key=a.item_key,
            repeat_of_key=keys[a.repeat_of] if a.repeat_of is not None else None, leak_flag=items[a.example_id][1],
        )
        for a in all_assignments
        if a.id in votes
    ]


def unblinded_pairs(store: Store, session_id: int) -> dict[str, tuple[tuple[tuple[str, str], ...], dict[str, str]]]:
    """example id → (context as rendered today, system → reply text), for a locked session."""
    session = pref_store.get_session(store, session_id)
    if session.state != "locked":
        raise UsageError(f"A/B session {session.id} is still open; lock it first")
    current = _current(store, session)
    replies = pref_store.session_replies(store, session.id)
    out = {}
    for eid in pref_store.session_items(store, session.id):
        item = current.get(eid)
        if item is not None:
            out[eid] = (item.context, {s: _text(replies, item, s) for s in session.systems})
    return out
