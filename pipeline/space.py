"""Bargaining space: per issue (and target) × period, how far apart two sides are and whether the gap is closing.

Each side's position is the timeline's estimate (confidence-weighted maximalism with its 90 % interval, stance
shares) over the statements that speak for it (`terms.side_rows`). The gap is 0–3:

    gap = opposition × √(maximalism_a × maximalism_b),   opposition = max(0, −lean_a × lean_b),

where lean = favor share − against share. It is 0 when the sides lean the same way (they agree) or when
either concedes (maximalism 0), and 3 when they are wholly opposed and both maximal. There is room to bargain
where they are opposed but at least one side is flexible or conceding (below the "firm" threshold). The trend
compares a period with the last one before it where both sides spoke, with the timeline's shift test on the
gap's interval. docs/bargaining-space.md explains the choice and its limits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .records import Position
from .terms import (
    Evidence,
    Series,
    TermsConfig,
    evidence_for,
    holder_positions,
    load_terms_config,
    majority_stance,
    series_of,
    side_rows,
)

TRENDS = ("closing", "opening", "stable")


@dataclass(frozen=True)
class SidePosition:
    """One side's position on a key in a period."""

    stance: str
    lean: float  # favor share − against share, −1 … 1
    maximalism: float
    maximalism_low: float
    maximalism_high: float
    n: int
    category: str


@dataclass(frozen=True)
class SpaceCell:
    """Both sides on one issue (target None) or target in one period, the gap between them and its trend."""

    issue: str
    target: str | None
    period: str
    period_start: str
    a: SidePosition
    b: SidePosition
    gap: float
    gap_low: float
    gap_high: float
    room: bool
    trend: str  # against the previous period both sides spoke in; "" for the first
    moved_by: tuple[Evidence, ...]  # the statements of the side(s) whose move changed the gap


@dataclass(frozen=True)
class KeyTrend:
    """The gap on one issue or target from the first to the last period both sides spoke in."""

    issue: str
    target: str | None
    first_period: str
    last_period: str
    first_gap: float
    last_gap: float
    trend: str


@dataclass(frozen=True)
class BargainingSpace:
    a: str
    b: str
    period_kind: str
    model_id: str | None
    cells: tuple[SpaceCell, ...]
    trends: tuple[KeyTrend, ...]


def gap(lean_a: float, lean_b: float, maximalism_a: float, maximalism_b: float) -> float:
    """The gap between two positions on the 0–3 scale (see the module docstring)."""
    opposition = max(0.0, -lean_a * lean_b)
    return opposition * math.sqrt(max(maximalism_a, 0.0) * max(maximalism_b, 0.0))


def bargaining_space(rows: Sequence[Mapping], target_rows: Sequence[Mapping], a: str, b: str,
                     period: str = "quarter", config: TermsConfig | None = None) -> BargainingSpace:
    """Cells per key × period where both `a` and `b` (persons or groups) have a position, with the trends."""
    config = config or load_terms_config()
    sides = [series_of([r for r in side_rows(rows, name) if r.get("issues")], target_rows, name) for name in (a, b)]
    positions = [{(p.issue, p.period): p for p in holder_positions(s, period, config)} for s in sides]
    shared = sorted(set(positions[0]) & set(positions[1]), key=lambda k: (k[0], positions[0][k].period_start))
    cells: list[SpaceCell] = []
    for key, label in shared:
        before = cells[-1] if cells and _key_of(cells[-1]) == sides[0].keys[key] else None
        pair = (positions[0][(key, label)], positions[1][(key, label)])
        previous = None if before is None else (positions[0][(key, before.period)], positions[1][(key, before.period)])
        cells.append(_cell(key, pair, previous, before, sides, config))
    model = next((p.model_id for side in positions for p in side.values()), None)
    return BargainingSpace(a, b, period, model, tuple(cells), tuple(_trends(cells, config)))


def _key_of(cell: SpaceCell) -> tuple[str, str | None]:
    return cell.issue, cell.target


def _side(position: Position, config: TermsConfig) -> SidePosition:
    return SidePosition(majority_stance(position), round(position.favor - position.against, 3),
                        round(position.maximalism, 3), round(position.maximalism_low, 3),
                        round(position.maximalism_high, 3), position.n, config.category(position.maximalism))


def _cell(key: str, pair: tuple[Position, Position], previous: tuple[Position, Position] | None,
          before: SpaceCell | None, sides: Sequence[Series], config: TermsConfig) -> SpaceCell:
    a, b = (_side(p, config) for p in pair)
    value = gap(a.lean, b.lean, a.maximalism, b.maximalism)
    low = gap(a.lean, b.lean, a.maximalism_low, b.maximalism_low)
    high = gap(a.lean, b.lean, a.maximalism_high, b.maximalism_high)
    room = a.lean * b.lean < 0 and min(a.maximalism, b.maximalism) < config.categories["firm"]
    trend, moved = "", ()
    if before is not None and previous is not None:
        trend = _trend(before.gap, before.gap_low, before.gap_high, value, low, high, min(a.n, b.n, *_ns(before)),
                       config)
        moved = _moved_by(key, pair, previous, sides, config) if trend != "stable" else ()
    issue, target = sides[0].keys[key]
    return SpaceCell(issue, target, pair[0].period, pair[0].period_start, a, b, round(value, 3), round(low, 3),
                     round(high, 3), room, trend, moved)


def _ns(cell: SpaceCell) -> tuple[int, int]:
    return cell.a.n, cell.b.n


def _trend(gap_before: float, low_before: float, high_before: float, gap_after: float, low_after: float,
           high_after: float, n: int, config: TermsConfig) -> str:
    """Closing or opening where the gap's intervals do not overlap and it moved more than min_change."""
    separated = high_after < low_before or high_before < low_after
    if n < config.min_statements or not separated or abs(gap_after - gap_before) <= config.min_change:
        return "stable"
    return "closing" if gap_after < gap_before else "opening"


def _moved_by(key: str, pair: tuple[Position, Position], previous: tuple[Position, Position],
              sides: Sequence[Series], config: TermsConfig) -> tuple[Evidence, ...]:
    """This period's statements of the side(s) whose position moved: maximalism beyond min_change, or lean
    across zero; both sides' where neither moved alone."""
    moved = [k for k in (0, 1) if abs(pair[k].maximalism - previous[k].maximalism) > config.min_change
             or (pair[k].favor - pair[k].against) * (previous[k].favor - previous[k].against) < 0] or [0, 1]
    found: list[Evidence] = []
    for k in moved:
        found.extend(evidence_for(pair[k].statement_ids, key, sides[k], config.evidence))
    return tuple(found)


def _trends(cells: Sequence[SpaceCell], config: TermsConfig) -> list[KeyTrend]:
    """Per key, the first period both sides spoke in against the last, with the same test as the cells."""
    by_key: dict[tuple[str, str | None], list[SpaceCell]] = {}
    for cell in cells:
        by_key.setdefault(_key_of(cell), []).append(cell)
    trends = []
    for (issue, target), members in by_key.items():
        first, last = members[0], members[-1]
        trend = "" if first is last else _trend(first.gap, first.gap_low, first.gap_high, last.gap, last.gap_low,
                                                last.gap_high, min(*_ns(first), *_ns(last)), config)
        trends.append(KeyTrend(issue, target, first.period, last.period, first.gap, last.gap, trend))
    return trends
