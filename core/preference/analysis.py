"""Statistics of a locked (unblinded) A/B session.

Choices: ``a``/``b`` are decisive, ``t`` (tie) and ``z`` (both bad) are
indecisive, ``s`` (skip) is no judgement at all and is left out everywhere.
Preference figures use each rater's first showing of a pair only; repeated
showings (sides swapped) serve the consistency figure alone, so a repeat
never counts twice.

- preference rate of x over y: wins / (wins + losses), Wilson 95% interval;
- exact two-sided sign test on wins vs losses (ties left out);
- position bias: share of ``a`` among decisive votes, Wilson interval, sign test;
- agreement on first showings judged by several raters, labels = the system
  preferred, "tie" or "both bad": Cohen's kappa (two raters), Krippendorff's
  alpha, nominal (two or more; missing judgements allowed);
- Bradley–Terry strengths (Hunter's MM algorithm, decisive votes, 0.1
  pseudo-wins each way per pair so a system that never won stays finite),
  scaled to a geometric mean of 1, with percentile intervals from a bootstrap
  over items (seeded with the session's seed).
"""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from collections.abc import Hashable, Sequence
from typing import Any

from core.preference.sessions import VoteRow, unblinded_votes
from core.store import Store
from core.store import preference as pref_store

Z95 = 1.959963984540054
BT_PSEUDO = 0.1
BT_RESAMPLES = 200


# Textbook statistics ##########################################################


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval for a binomial proportion; None when n is 0."""
    if n <= 0:
        return None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def sign_test(wins: int, losses: int) -> float | None:
    """Exact two-sided binomial test of wins vs losses at p = 1/2; None with no decisive votes."""
    n = wins + losses
    if n == 0:
        return None
    k = min(wins, losses)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def cohen_kappa(first: Sequence[Hashable], second: Sequence[Hashable]) -> float | None:
    """Cohen's kappa of two raters' labels on the same units; None when undefined."""
    n = len(first)
    if n == 0 or n != len(second):
        return None
    observed = sum(1 for a, b in zip(first, second, strict=True) if a == b) / n
    c1, c2 = Counter(first), Counter(second)
    expected = sum(c1[k] * c2.get(k, 0) for k in c1) / (n * n)
    if expected == 1:
        return None
    return (observed - expected) / (1 - expected)


def krippendorff_alpha_nominal(units: Sequence[Sequence[Hashable]]) -> float | None:
    """Krippendorff's alpha for nominal data; each unit lists the values given (missing left out).

    Units with fewer than two values are not pairable and are dropped.
    """
    coincidence: Counter[tuple[Hashable, Hashable]] = Counter()
    for values in units:
        m = len(values)
        if m < 2:
            continue
        for i, j in itertools.permutations(range(m), 2):
            coincidence[(values[i], values[j])] += 1 / (m - 1)
    totals: Counter[Hashable] = Counter()
    for (c, _k), w in coincidence.items():
        totals[c] += w
    n = sum(totals.values())
    if n <= 1:
        return None
    disagree_observed = sum(w for (c, k), w in coincidence.items() if c != k)
    disagree_expected = sum(totals[c] * totals[k] for c in totals for k in totals if c != k)
    if disagree_expected == 0:
        return None
    return 1 - (n - 1) * disagree_observed / disagree_expected


def bradley_terry(systems: Sequence[str], wins: dict[tuple[str, str], float], iterations: int = 500) -> dict[str, float]:
    """Strengths (geometric mean 1) from ``wins[(i, j)]`` = times i beat j (Hunter's MM)."""
    w = {(i, j): wins.get((i, j), 0.0) + BT_PSEUDO for i in systems for j in systems if i != j}
    p = dict.fromkeys(systems, 1.0)
    for _ in range(iterations):
        new = {}
        for i in systems:
            total_wins = sum(w[(i, j)] for j in systems if j != i)
            denom = sum((w[(i, j)] + w[(j, i)]) / (p[i] + p[j]) for j in systems if j != i)
            new[i] = total_wins / denom
        g = math.exp(sum(math.log(v) for v in new.values()) / len(new))
        new = {k: v / g for k, v in new.items()}
        converged = max(abs(new[k] - p[k]) for k in systems) < 1e-10
        p = new
        if converged:
            break
    return p


# Session figures ##############################################################


def _winner(row: VoteRow) -> str | None:
    return {"a": row.left_system, "b": row.right_system}.get(row.choice)


def _label(row: VoteRow) -> str:
    return _winner(row) or {"t": "tie", "z": "both bad"}[row.choice]


def _interval(ci: tuple[float, float] | None) -> list[float] | None:
    return [round(ci[0], 6), round(ci[1], 6)] if ci else None


def pair_stats(rows: Sequence[VoteRow], x: str, y: str) -> dict[str, Any]:
    mine = [r for r in rows if {r.left_system, r.right_system} == {x, y} and r.choice != "s"]
    wins = sum(1 for r in mine if _winner(r) == x)
    losses = sum(1 for r in mine if _winner(r) == y)
    ties = sum(1 for r in mine if r.choice == "t")
    bad = sum(1 for r in mine if r.choice == "z")
    decisive = wins + losses
    return {
        "systems": [x, y],
        "wins": wins,
        "ties": ties,
        "both_bad": bad,
        "losses": losses,
        "decisive": decisive,
        "preference_rate": round(wins / decisive, 6) if decisive else None,
        "interval": _interval(wilson(wins, decisive)),
        "sign_test_p": sign_test(wins, losses),
    }


def position_bias(rows: Sequence[VoteRow]) -> dict[str, Any]:
    a = sum(1 for r in rows if r.choice == "a")
    b = sum(1 for r in rows if r.choice == "b")
    return {"a_picks": a, "decisive": a + b, "share_a": round(a / (a + b), 6) if a + b else None,
            "interval": _interval(wilson(a, a + b)), "sign_test_p": sign_test(a, b)}


def _pairs(systems: Sequence[str], rows: Sequence[VoteRow]) -> list[dict[str, Any]]:
    return [pair_stats(rows, x, y) for x, y in itertools.combinations(systems, 2)]


def agreement(rows: Sequence[VoteRow], raters: Sequence[str]) -> dict[str, Any]:
    units: dict[tuple[str, frozenset[str]], dict[str, str]] = {}
    for r in rows:
        if r.choice != "s":
            units.setdefault((r.item_id, frozenset((r.left_system, r.right_system))), {})[r.rater] = _label(r)
    shared = [u for u in units.values() if len(u) >= 2]
    out: dict[str, Any] = {"units": len(shared), "cohen_kappa": None, "krippendorff_alpha": None}
    if len(raters) >= 2:
        out["krippendorff_alpha"] = _round(krippendorff_alpha_nominal([list(u.values()) for u in shared]))
    if len(raters) == 2:
        both = [u for u in shared if raters[0] in u and raters[1] in u]
        out["cohen_kappa"] = _round(cohen_kappa([u[raters[0]] for u in both], [u[raters[1]] for u in both]))
    return out


def consistency(all_rows: Sequence[VoteRow]) -> dict[str, Any]:
    by_key = {r.key: r for r in all_rows}
    repeated = consistent = 0
    for r in all_rows:
        first = by_key.get(r.repeat_of_key) if r.repeat_of_key else None
        if first is None or "s" in (r.choice, first.choice):
            continue
        repeated += 1
        consistent += _label(r) == _label(first)
    return {"repeated": repeated, "consistent": consistent,
            "rate": round(consistent / repeated, 6) if repeated else None,
            "interval": _interval(wilson(consistent, repeated))}


def _bt_wins(rows: Sequence[VoteRow]) -> dict[tuple[str, str], float]:
    wins: Counter[tuple[str, str]] = Counter()
    for r in rows:
        w = _winner(r)
        if w is not None:
            loser = r.right_system if w == r.left_system else r.left_system
            wins[(w, loser)] += 1
    return dict(wins)


def bt_with_intervals(systems: Sequence[str], rows: Sequence[VoteRow], seed: int,
                      resamples: int = BT_RESAMPLES) -> dict[str, Any] | None:
    if len(systems) < 3:
        return None
    point = bradley_terry(systems, _bt_wins(rows))
    by_item: dict[str, list[VoteRow]] = {}
    for r in rows:
        by_item.setdefault(r.item_id, []).append(r)
    items = sorted(by_item)
    rng = random.Random(seed)
    draws: dict[str, list[float]] = {s: [] for s in systems}
    for _ in range(resamples if items else 0):
        sample = [row for _ in items for row in by_item[rng.choice(items)]]
        est = bradley_terry(systems, _bt_wins(sample), iterations=200)
        for s in systems:
            draws[s].append(est[s])
    out = {}
    for s in systems:
        values = sorted(draws[s])
        ci = [values[int(0.025 * (len(values) - 1))], values[int(math.ceil(0.975 * (len(values) - 1)))]] \
            if values else None
        out[s] = {"strength": round(point[s], 6), "interval": [round(v, 6) for v in ci] if ci else None}
    return {"strengths": out, "resamples": resamples, "pseudo_wins": BT_PSEUDO}


def _round(v: float | None) -> float | None:
    return round(v, 6) if v is not None else None


def report(store: Store, session_id: int) -> dict[str, Any]:
    """Every figure of a locked session, plus one row per vote to redo the analysis."""
    session = pref_store.get_session(store, session_id)
    all_rows = unblinded_votes(store, session_id)
    first = [r for r in all_rows if r.repeat_of_key is None]
    rated = [r for r in first if r.choice != "s"]
    categories = sorted({r.category for r in first})
    return {
        "session": session.id,
        "dataset": session.dataset_name,
        "systems": list(session.systems),
        "raters": list(session.raters),
        "seed": session.seed,
        "created_at": session.created_at,
        "locked_at": session.locked_at,
        "settings": session.settings,
        "votes_total": len(all_rows),
        "first_showings": len(first),
        "skipped": sum(1 for r in first if r.choice == "s"),
        "flagged_items": len({r.item_id for r in first if r.leak_flag}),
        "pairs": _pairs(session.systems, rated),
        "position_bias": position_bias(rated),
        "categories": {c: _pairs(session.systems, [r for r in rated if r.category == c]) for c in categories},
        "raters_detail": {
            rater: {"votes": sum(1 for r in rated if r.rater == rater),
                    "pairs": _pairs(session.systems, [r for r in rated if r.rater == rater]),
                    "position_bias": position_bias([r for r in rated if r.rater == rater])}
            for rater in session.raters
        },
        "agreement": agreement(rated, session.raters),
        "consistency": consistency(all_rows),
        "bradley_terry": bt_with_intervals(session.systems, rated, session.seed),
        "votes": [
            {"item_id": r.item_id, "rater": r.rater, "left_system": r.left_system,
             "right_system": r.right_system, "choice": r.choice, "category": r.category,
             "repeat": r.repeat_of_key is not None}
            for r in all_rows
        ],
    }


# Markdown and CSV #############################################################


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.3f}" if v >= 0.001 or v == 0 else f"{v:.2e}"
    if isinstance(v, list):
        return f"[{_fmt(v[0])}, {_fmt(v[1])}]"
    return str(v)


def _pair_table(pairs: list[dict[str, Any]]) -> list[str]:
    out = ["| x | y | x wins | ties | both bad | y wins | x preferred | 95% CI | sign test p |",
           "|---|---|---:|---:|---:|---:|---:|---|---:|"]
    for p in pairs:
        out.append(f"| {p['systems'][0]} | {p['systems'][1]} | {p['wins']} | {p['ties']} | {p['both_bad']} | "
                   f"{p['losses']} | {_fmt(p['preference_rate'])} | {_fmt(p['interval'])} | {_fmt(p['sign_test_p'])} |")
    return out


def markdown(rep: dict[str, Any]) -> str:
    pb, ag, co = rep["position_bias"], rep["agreement"], rep["consistency"]
    lines = [
        f"# A/B session {rep['session']}: {', '.join(rep['systems'])}",
        "",
        f"Dataset `{rep['dataset']}`, raters {', '.join(rep['raters'])}, seed {rep['seed']}, "
        f"locked {rep['locked_at']}. {rep['first_showings']} first showings ({rep['skipped']} skipped), "
        f"{rep['votes_total']} votes in all; {rep['flagged_items']} items kept with an identity-leak flag.",
        "",
        "## Pairs",
        "",
        *_pair_table(rep["pairs"]),
        "",
        "## Position bias",
        "",
        f"Response A chosen in {pb['a_picks']} of {pb['decisive']} decisive votes "
        f"(share {_fmt(pb['share_a'])}, 95% CI {_fmt(pb['interval'])}, sign test p {_fmt(pb['sign_test_p'])}).",
        "",
        "## Agreement and consistency",
        "",
        f"{ag['units']} items judged by two or more raters: Cohen's kappa {_fmt(ag['cohen_kappa'])}, "
        f"Krippendorff's alpha (nominal) {_fmt(ag['krippendorff_alpha'])}.",
        f"Repeated pairs (sides swapped): {co['consistent']} of {co['repeated']} judged the same "
        f"(rate {_fmt(co['rate'])}, 95% CI {_fmt(co['interval'])}).",
        "",
    ]
    if rep["bradley_terry"]:
        bt = rep["bradley_terry"]
        lines += ["## Bradley–Terry strengths", "",
                  f"Geometric mean 1; 95% intervals from {bt['resamples']} bootstrap resamples of items.", "",
                  "| system | strength | 95% CI |", "|---|---:|---|"]
        lines += [f"| {s} | {_fmt(v['strength'])} | {_fmt(v['interval'])} |" for s, v in bt["strengths"].items()]
        lines.append("")
    for cat, pairs in rep["categories"].items():
        lines += [f"## Category: {cat}", "", *_pair_table(pairs), ""]
    for rater, detail in rep["raters_detail"].items():
        lines += [f"## Rater: {rater} ({detail['votes']} votes)", "", *_pair_table(detail["pairs"]), ""]
    return "\n".join(lines)


def csv_rows(rep: dict[str, Any]) -> list[list[Any]]:
    header = ["scope", "scope_value", "x", "y", "x_wins", "ties", "both_bad", "y_wins", "decisive",
              "x_preferred", "ci_low", "ci_high", "sign_test_p"]
    rows: list[list[Any]] = [header]

    def add(scope: str, value: str, pairs: list[dict[str, Any]]) -> None:
        for p in pairs:
            ci = p["interval"] or [None, None]
            rows.append([scope, value, *p["systems"], p["wins"], p["ties"], p["both_bad"], p["losses"],
                         p["decisive"], p["preference_rate"], ci[0], ci[1], p["sign_test_p"]])

    add("all", "", rep["pairs"])
    for cat, pairs in rep["categories"].items():
        add("category", cat, pairs)
    for rater, detail in rep["raters_detail"].items():
        add("rater", rater, detail["pairs"])
    return rows
