"""Aggregate: statement × prediction rows → positions per actor × issue × period, and shifts between periods.

A position is the confidence-weighted mean maximalism of an actor's statements on one issue in one period,
with a seeded bootstrap 90 % interval and stance shares. People roll up to their group (level "group"), and
each actor's issues to an overall index (issue "_overall"). A shift is a move between consecutive periods
of one series that the noise cannot explain: the two intervals do not overlap.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .config import STANCES
from .errors import TimelineError
from .records import DatedReading, Position, Shift, content_id

PERIODS = ("day", "week", "month", "quarter", "year")
OVERALL = "_overall"
ACTOR, GROUP = "actor", "group"
INTERVAL_PERCENTILES = (5.0, 95.0)  # a 90 % interval
_BOOTSTRAP_CELLS = 1 << 18  # statement draws per block of bootstrap resamples (2 MB of indices)


@dataclass(frozen=True, slots=True)
class _Reading:
    """One statement's prediction on one issue, placed in its period, with the weight it counts for."""

    statement_id: str
    date: dt.date
    actor: str
    actor_group: str
    issue: str
    period: str
    period_start: dt.date
    maximalism: float
    stance: str
    weight: float


@dataclass(frozen=True)
class _Estimate:
    """A position and its bootstrap replicates, which the overall index combines across issues."""

    position: Position
    replicates: np.ndarray


def period_of(date: dt.date, period: str) -> tuple[str, dt.date]:
    """The label and first day of the `period` ("quarter" → "2025-Q3", 2025-07-01) that holds `date`."""
    if period == "day":
        return date.isoformat(), date
    if period == "week":
        year, week, _ = date.isocalendar()
        return f"{year}-W{week:02d}", dt.date.fromisocalendar(year, week, 1)
    if period == "month":
        return f"{date.year}-{date.month:02d}", date.replace(day=1)
    if period == "quarter":
        quarter = (date.month - 1) // 3 + 1
        return f"{date.year}-Q{quarter}", dt.date(date.year, 3 * quarter - 2, 1)
    if period == "year":
        return str(date.year), dt.date(date.year, 1, 1)
    raise TimelineError(f"unknown period '{period}'; use one of {', '.join(PERIODS)}")


def undated_statements(rows: Iterable[Mapping]) -> list[str]:
    """Ids of statements that carry predictions but no date: no period holds them, so timelines skip them."""
    return [row["id"] for row in rows if row.get("issues") and not row.get("date")]


# Predictions flagged low_confidence count half by default: on real-dev they are right about half as often as
# the others (benchmarks/RESULTS.md, "Low-confidence flag"); 0 leaves them out, 1 counts them fully.
LOW_CONFIDENCE_WEIGHT = 0.5


def positions_by_period(rows: Sequence[Mapping], period: str = "quarter", weights: Mapping[str, float] | None = None,
                        seed: int = 0, n_boot: int = 500,
                        low_confidence_weight: float = LOW_CONFIDENCE_WEIGHT) -> list[Position]:
    """Positions per actor and group × issue (and "_overall") × period from `Store.statements()` rows.

    `weights` (issue → weight, default 1) weight issues in the overall index; `low_confidence_weight`
    multiplies the weight of predictions flagged low_confidence (0 leaves them out, 1 counts them fully;
    halved by default). Undated rows are skipped.
    """
    return positions_of_readings(dated_readings(rows), period, _single_model(rows), weights=weights, seed=seed,
                                 n_boot=n_boot, low_confidence_weight=low_confidence_weight)


def positions_of_readings(readings: Iterable[DatedReading], period: str = "quarter", model_id: str = "",
                          weights: Mapping[str, float] | None = None, seed: int = 0, n_boot: int = 500,
                          low_confidence_weight: float = LOW_CONFIDENCE_WEIGHT) -> list[Position]:
    """`positions_by_period` over one model's readings one by one (`Store.dated_readings`): what the engine
    aggregates a period at a time, holding no statement texts. The positions do not depend on the order
    of the readings."""
    _check_options(period, weights, n_boot, low_confidence_weight)
    placed = _readings(readings, period, low_confidence_weight)
    positions: list[Position] = []
    for level in (ACTOR, GROUP):
        estimates = _issue_estimates(placed, level, period, model_id, seed, n_boot)
        positions.extend(e.position for e in estimates)
        positions.extend(_overall_positions(estimates, weights or {}))
    return sorted(positions, key=lambda p: (p.level, p.actor, p.issue, p.period_start))


def dated_readings(rows: Iterable[Mapping]) -> Iterator[DatedReading]:
    """The readings of `Store.statements()` rows, one per statement × predicted issue."""
    for row in rows:
        low = set(row.get("low_confidence") or ())
        for issue in row.get("issues") or ():
            yield DatedReading(row["id"], row.get("date"), row["actor"], row["actor_group"], issue,
                               row["stance"][issue], float(row["maximalism"][issue]), float(row["confidence"][issue]),
                               issue in low)


def _check_options(period: str, weights: Mapping[str, float] | None, n_boot: int, low_weight: float) -> None:
    if period not in PERIODS:
        raise TimelineError(f"unknown period '{period}'; use one of {', '.join(PERIODS)}")
    if n_boot < 1:
        raise TimelineError(f"n_boot is {n_boot}; the bootstrap needs at least 1 resample (500 is the default)")
    if not 0.0 <= low_weight <= 1.0:
        raise TimelineError(f"low_confidence_weight is {low_weight}; use a number from 0 (leave "
                            "low-confidence predictions out) to 1 (count them fully)")
    bad = {k: v for k, v in (weights or {}).items() if not isinstance(v, int | float) or v < 0}
    if bad:
        raise TimelineError(f"issue weights {bad} are not numbers ≥ 0; give each issue a weight like 1.0 (0 drops it)")


def _single_model(rows: Sequence[Mapping]) -> str:
    models = sorted({row.get("model_id") or "" for row in rows if row.get("issues")})
    if len(models) > 1:
        raise TimelineError(f"the rows hold predictions of several models ({', '.join(models)}); aggregate one "
                            "model at a time, e.g. Store.statements(model_id=...)")
    return models[0] if models else ""


def _readings(readings: Iterable[DatedReading], period: str, low_confidence_weight: float) -> list[_Reading]:
    placed = []
    for reading in readings:
        if not reading.date:
            continue
        date = _as_date(reading.date, reading.statement_id)
        label, start = period_of(date, period)
        weight = reading.confidence * (low_confidence_weight if reading.low_confidence else 1.0)
        if weight > 0:
            placed.append(_Reading(reading.statement_id, date, reading.actor, reading.actor_group, reading.issue,
                                   label, start, reading.maximalism, reading.stance, weight))
    return placed


def _as_date(value: object, statement_id: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError as e:
        raise TimelineError(f"statement {statement_id} has the date '{value}'; expected an ISO date "
                            "(YYYY-MM-DD)") from e


def _issue_estimates(readings: Sequence[_Reading], level: str, period: str, model_id: str, seed: int,
                     n_boot: int) -> list[_Estimate]:
    series: dict[tuple[str, str, str], list[_Reading]] = defaultdict(list)
    for reading in readings:
        holder = reading.actor if level == ACTOR else reading.actor_group
        series[(holder, reading.issue, reading.period)].append(reading)
    estimates = []
    for (holder, issue, label), members in sorted(series.items()):
        members.sort(key=lambda r: (r.date, r.statement_id))  # the bootstrap draws the same whatever the read order
        # one generator per series, so a series' interval does not depend on which other series exist
        rng = np.random.default_rng([seed, int(content_id(level, holder, issue, label), 16)])
        estimates.append(_estimate(level, holder, issue, period, members, model_id, rng, n_boot))
    return estimates


def _estimate(level: str, holder: str, issue: str, period: str, members: Sequence[_Reading], model_id: str,
              rng: np.random.Generator, n_boot: int) -> _Estimate:
    """The position of one holder × issue × period from its readings, with its bootstrap replicates."""
    values = np.array([r.maximalism for r in members])
    weights = np.array([r.weight for r in members])
    replicates = _bootstrap_means(values, weights, rng, n_boot)
    mean = float(np.average(values, weights=weights))
    low, high = _interval(mean, replicates)
    shares = {s: float(sum(r.weight for r in members if r.stance == s) / weights.sum()) for s in STANCES}
    ids = tuple(r.statement_id for r in members)
    first = members[0]
    position = Position(actor=holder, actor_group=holder if level == GROUP else first.actor_group, level=level,
                        issue=issue, period_kind=period, period=first.period,
                        period_start=first.period_start.isoformat(), n=len(ids), maximalism=mean,
                        maximalism_low=low, maximalism_high=high, favor=shares["favor"], against=shares["against"],
                        neutral=shares["neutral"], statement_ids=ids, model_id=model_id)
    return _Estimate(position, replicates)


def _bootstrap_means(values: np.ndarray, weights: np.ndarray, rng: np.random.Generator, n_boot: int) -> np.ndarray:
    """Weighted means of `n_boot` resamples (with replacement) of the statements, drawn a block of resamples
    at a time so that a series of many statements holds no n_boot × n index matrix (the draws are the same)."""
    means = np.empty(n_boot)
    block = max(1, _BOOTSTRAP_CELLS // len(values))
    for first in range(0, n_boot, block):
        picks = rng.integers(0, len(values), size=(min(block, n_boot - first), len(values)))
        picked = weights[picks]
        means[first:first + len(picks)] = (picked * values[picks]).sum(axis=1) / picked.sum(axis=1)
    return means


def _interval(estimate: float, replicates: np.ndarray) -> tuple[float, float]:
    low, high = np.percentile(replicates, INTERVAL_PERCENTILES)
    # percentile intervals of a small skewed sample can miss the estimate itself; widen them to hold it
    return float(min(low, estimate)), float(max(high, estimate))


def _overall_positions(estimates: Sequence[_Estimate], weights: Mapping[str, float]) -> list[Position]:
    """Per holder × period, the weighted mean of its issue positions; replicates combine the same way."""
    by_holder: dict[tuple[str, str], list[_Estimate]] = defaultdict(list)
    for estimate in estimates:
        by_holder[(estimate.position.actor, estimate.position.period)].append(estimate)
    overall = []
    for members in by_holder.values():
        issue_weights = np.array([float(weights.get(e.position.issue, 1.0)) for e in members])
        if issue_weights.sum() <= 0:
            continue
        overall.append(_combine(members, issue_weights / issue_weights.sum()))
    return overall


def _combine(members: Sequence[_Estimate], shares: np.ndarray) -> Position:
    first = members[0].position
    mean = float(sum(s * e.position.maximalism for s, e in zip(shares, members)))
    replicates = sum(s * e.replicates for s, e in zip(shares, members))
    low, high = _interval(mean, replicates)
    ids = tuple(dict.fromkeys(i for e in members for i in e.position.statement_ids))

    def share(stance: str) -> float:
        return float(sum(s * getattr(e.position, stance) for s, e in zip(shares, members)))

    return Position(actor=first.actor, actor_group=first.actor_group, level=first.level, issue=OVERALL,
                    period_kind=first.period_kind, period=first.period, period_start=first.period_start, n=len(ids),
                    maximalism=mean, maximalism_low=low, maximalism_high=high, favor=share("favor"),
                    against=share("against"), neutral=share("neutral"), statement_ids=ids, model_id=first.model_id)


# --- shifts -------------------------------------------------------------------------------------


def detect_shifts(positions: Iterable[Position], min_statements: int = 2, min_change: float = 0.25,
                  include_overall: bool = False) -> list[Shift]:
    """Moves between consecutive periods of one actor × issue × level whose 90 % intervals do not overlap.

    Periods with fewer than `min_statements` statements are left out before periods are paired. A move must
    also exceed `min_change` (on the 0–3 scale): repeated wording gives intervals too narrow to mean anything.
    The overall index is left out unless `include_overall`: it also moves when the mix of issues changes.
    """
    if min_statements < 1:
        raise TimelineError(f"min_statements is {min_statements}; use 1 or more (2 is the default)")
    if min_change < 0:
        raise TimelineError(f"min_change is {min_change}; use 0 or more on the 0–3 scale (0.25 is the default)")
    series: dict[tuple[str, str, str, str], list[Position]] = defaultdict(list)
    for position in positions:
        if position.n >= min_statements and (include_overall or position.issue != OVERALL):
            series[(position.level, position.actor, position.issue, position.period_kind)].append(position)
    shifts = []
    for members in series.values():
        members.sort(key=lambda p: p.period_start)
        for before, after in zip(members, members[1:]):
            if _separated(before, after) and abs(after.maximalism - before.maximalism) > min_change:
                shifts.append(_shift(before, after))
    return sorted(shifts, key=lambda s: (s.level, s.actor, s.issue, s.from_period))


def _separated(before: Position, after: Position) -> bool:
    return before.maximalism_high < after.maximalism_low or after.maximalism_high < before.maximalism_low


def _shift(before: Position, after: Position) -> Shift:
    return Shift(actor=before.actor, actor_group=before.actor_group, level=before.level, issue=before.issue,
                 period_kind=before.period_kind, from_period=before.period, to_period=after.period,
                 from_maximalism=before.maximalism, to_maximalism=after.maximalism,
                 from_interval=(before.maximalism_low, before.maximalism_high),
                 to_interval=(after.maximalism_low, after.maximalism_high), from_n=before.n, to_n=after.n,
                 direction="hardened" if after.maximalism > before.maximalism else "softened",
                 from_statement_ids=before.statement_ids, to_statement_ids=after.statement_ids,
                 model_id=before.model_id)


def format_shift(shift: Shift) -> str:
    """One line: "<actor> · <issue>: 3.0 (2024-Q2) → 2.1 (2025-Q3), 14 → 9 statements"."""
    return (f"{shift.actor} · {shift.issue}: {shift.from_maximalism:.1f} ({shift.from_period}) → "
            f"{shift.to_maximalism:.1f} ({shift.to_period}), {shift.from_n} → {shift.to_n} statements")
