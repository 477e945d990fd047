"""Train / validation / test assignment: grouped, stratified, seeded.

- **Grouped**: every target of one client (``client_key``), or of one
  transcript when the client is unknown, lands in the same split, so a model is
  never tested on a person it was trained on. Targets that answer the same
  client text (normalised, or a near-duplicate: see ``leakage``) are grouped
  too, joining their clients' groups, so one counsel-chat question answered by
  several therapists is never both trained on and tested.
- **Stratified**: groups are assigned category by category (a group's category
  is its most common target category), so each category is split in the
  requested proportions as far as its groups allow.
- **Seeded**: groups are taken in the order of ``sha256(seed, group key)``
  and each goes to the split furthest below its share of targets, counting
  both within its category and overall (so a category with a single client
  cannot keep every small category out of the test split). The same store, rules and seed give the same assignment on
  any machine (no dependence on ``random`` or hash randomisation).
- **Frozen test**: when a frozen test split exists its items are the test split
  and every group they touch is barred from train and validation; the other
  groups are divided between train and validation in the rules' proportions.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from core.datasets.leakage import comparable, normalise, similar_pairs
from core.ids import TurnId
from core.store.datasets import SPLITS, CandidateRow


def group_key(client_key: str | None, transcript_id: int) -> str:
    return f"client:{client_key}" if client_key else f"transcript:{transcript_id}"


def example_id_for(content_hash: str, position: int, context_turns: int) -> str:
    """An example's id, from what it is: the source session, the target's place, how much context.

    The same target with the same context has the same id in every build and
    every dataset (so replies imported for it follow it); nothing about the
    workspace (row ids, build order) enters it.
    """
    digest = hashlib.sha256(f"{content_hash}\x00{position}\x00{context_turns}".encode()).hexdigest()
    return f"ex-{digest[:16]}"


def prompt_clusters(keys: Iterable[str]) -> dict[str, str]:
    """Normalised prompt → a representative of its near-duplicate cluster (itself when alone).

    Only prompts long enough to compare (``leakage.comparable``) are clustered.
    """
    distinct = sorted({k for k in keys if comparable(k)})
    parent = {k: k for k in distinct}

    def find(k: str) -> str:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for i, j, _ in similar_pairs(distinct):
        a, b = find(distinct[i]), find(distinct[j])
        if a != b:
            parent[max(a, b)] = min(a, b)
    return {k: find(k) for k in distinct}


def same_prompt_as(targets: Iterable[CandidateRow], held_out: Iterable[str]) -> set[TurnId]:
    """Targets whose client text equals or nearly equals one of ``held_out`` (normalised prompts)."""
    targets = list(targets)
    held = {k for k in held_out if comparable(k)}
    keys = {t.turn_id: normalise(t.prompt or "") for t in targets}
    clusters = prompt_clusters([*held, *keys.values()])
    barred = {clusters[k] for k in held}
    return {tid for tid, k in keys.items() if k in clusters and clusters[k] in barred}


@dataclass(frozen=True, slots=True)
class Assignment:
    split_of: dict[TurnId, str]  # target turn id → train | validation | test
    group_of: dict[TurnId, str]


def _order(seed: int, key: str) -> str:
    return hashlib.sha256(f"{seed}\x00{key}".encode()).hexdigest()


def assign_splits(
    targets: Iterable[CandidateRow], percentages: tuple[int, int, int], seed: int, *, with_test: bool = True,
    prompt_keys: Mapping[TurnId, str] | None = None,
) -> Assignment:
    """Assign each target's group to a split.

    ``with_test=False`` (a frozen test split is reused) divides everything
    between train and validation only.
    """
    shares = [p / 100 for p in percentages]
    if not with_test:
        shares[2] = 0.0
    targets = list(targets)
    groups: dict[str, list[CandidateRow]] = defaultdict(list)
    for key, t in zip(_merged_group_keys(targets, prompt_keys), targets, strict=True):
        groups[key].append(t)
    by_category: dict[str, list[str]] = defaultdict(list)
    for key, members in groups.items():
        counts = Counter(m.category for m in members)
        category = min(counts, key=lambda c: (-counts[c], c))
        by_category[category].append(key)
    split_of: dict[TurnId, str] = {}
    group_of: dict[TurnId, str] = {}
    overall = [0, 0, 0]
    per_category: dict[str, list[int]] = {c: [0, 0, 0] for c in by_category}
    category_of = {key: c for c, keys in by_category.items() for key in keys}
    usable = [i for i in range(3) if shares[i] > 0]
    for key in sorted(category_of, key=lambda k: _order(seed, k)):
        size = len(groups[key])
        counts = per_category[category_of[key]]
        in_cat, in_all = sum(counts) + size, sum(overall) + size

        def deficit(i: int) -> float:
            # Below its share within the category, plus below its share overall:
            # the second term is what gives a category of one or two clients to
            # validation or test now and then instead of always to train.
            return (shares[i] * in_cat - counts[i]) + (shares[i] * in_all - overall[i])

        # ties go to test, then validation: with few groups a test item is worth more
        best = max(usable, key=lambda i: (deficit(i), i))
        counts[best] += size
        overall[best] += size
        for member in groups[key]:
            split_of[member.turn_id] = SPLITS[best]
            group_of[member.turn_id] = key
    return Assignment(split_of, group_of)


def _merged_group_keys(targets: list[CandidateRow], prompt_keys: Mapping[TurnId, str] | None = None) -> list[str]:
    """Each target's group: its client's (or transcript's), joined with every group answering the same client text.

    ``prompt_keys``: ``normalise(t.prompt)`` by turn id, when the caller has them already.
    """
    own = [group_key(t.client_key, t.transcript_id) for t in targets]
    if prompt_keys is not None:
        prompts = [prompt_keys[t.turn_id] for t in targets]
    else:
        prompts = [normalise(t.prompt or "") for t in targets]
    clusters = prompt_clusters(prompts)
    parent: dict[str, str] = {}

    def find(k: str) -> str:
        parent.setdefault(k, k)
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    first_group: dict[str, str] = {}
    for key, prompt in zip(own, prompts, strict=True):
        cluster = clusters.get(prompt)
        if cluster is None:
            continue
        other = first_group.setdefault(cluster, key)
        a, b = find(key), find(other)
        if a != b:
            # the smaller key represents the merged group: independent of input order
            parent[max(a, b)] = min(a, b)
    return [find(k) if k in parent else k for k in own]
