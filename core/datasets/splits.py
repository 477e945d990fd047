"""Train / validation / test assignment: grouped, stratified, seeded.

- **Grouped**: every target of one client (``client_key``), or of one
  transcript when the client is unknown, lands in the same split, so a model is
  never tested on a person it was trained on.
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
from collections.abc import Iterable
from dataclasses import dataclass

from core.ids import TurnId
from core.store.datasets import SPLITS, CandidateRow


def group_key(client_key: str | None, transcript_id: int) -> str:
    return f"client:{client_key}" if client_key else f"transcript:{transcript_id}"


@dataclass(frozen=True, slots=True)
class Assignment:
    split_of: dict[TurnId, str]  # target turn id → train | validation | test
    group_of: dict[TurnId, str]


def _order(seed: int, key: str) -> str:
    return hashlib.sha256(f"{seed}\x00{key}".encode()).hexdigest()


def assign_splits(
    targets: Iterable[CandidateRow], percentages: tuple[int, int, int], seed: int, *, with_test: bool = True
) -> Assignment:
    """Assign each target's group to a split.

    ``with_test=False`` (a frozen test split is reused) divides everything
    between train and validation only.
    """
    shares = [p / 100 for p in percentages]
    if not with_test:
        shares[2] = 0.0
    groups: dict[str, list[CandidateRow]] = defaultdict(list)
    for t in targets:
        groups[group_key(t.client_key, t.transcript_id)].append(t)
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
