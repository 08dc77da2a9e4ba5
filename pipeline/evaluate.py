"""Evaluate: score Redline's outputs against gold annotations (attribution now; classifiers later)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from .errors import InputError
from .records import Statement


def read_jsonl(path: str | Path) -> list[dict]:
    """Rows of a JSONL file; a malformed line is an error naming the file and line."""
    rows = []
    with open(path, encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except ValueError as e:
                raise InputError(f"{path}:{lineno}: malformed JSON line: {e}") from e
    return rows


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def match_units(gold: Sequence[dict], statements: Sequence[Statement]) -> list[tuple[dict, Statement | None]]:
    """Each gold unit with the predicted statement that overlaps it most (same document)."""
    pairs = []
    for unit in gold:
        span = (unit["start"], unit["end"])
        best = max(statements, key=lambda s: _overlap(span, (s.start, s.end)), default=None)
        if best is not None and _overlap(span, (best.start, best.end)) == 0:
            best = None
        # two gold rows on one span (two holders): credit any overlapping statement with the right actor
        same_actor = [s for s in statements if _overlap(span, (s.start, s.end)) > 0
                      and s.actor in _accepted_actors(unit)]
        pairs.append((unit, same_actor[0] if same_actor else best))
    return pairs


def _accepted_actors(unit: dict) -> set[str]:
    accepted = {unit["actor"]}
    alt = unit.get("alt_actor")
    if alt:
        accepted.update(alt if isinstance(alt, list) else [alt])
    return accepted


def attribution_scores(pairs: Iterable[tuple[dict, Statement | None]], groups_of: dict[str, str] | None = None) -> dict:
    """Share of gold units whose actor (an `alt_actor` counts) and actor group are right, overall and per kind."""
    total = defaultdict(int)
    actor_ok = defaultdict(int)
    group_ok = defaultdict(int)
    for unit, predicted in pairs:
        for key in ("all", unit.get("attribution", "?")):
            total[key] += 1
            if predicted is not None and predicted.actor in _accepted_actors(unit):
                actor_ok[key] += 1
            accepted_groups = {unit["actor_group"]} | {(groups_of or {}).get(a, "") for a in _accepted_actors(unit)}
            if predicted is not None and predicted.actor_group in accepted_groups:
                group_ok[key] += 1
    return {key: {"n": total[key], "actor": actor_ok[key] / total[key], "group": group_ok[key] / total[key]}
            for key in sorted(total, key=lambda k: (k != "all", k))}
