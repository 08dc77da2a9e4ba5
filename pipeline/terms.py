"""Terms: what an actor insists on and where it bends, issue by issue and target by target, as of a date.

A term is the actor's position on one issue (or one target of an issue: "border · North Province") over the
window of statements up to the date: confidence-weighted maximalism with its bootstrap 90 % interval (the
timeline's estimate), the majority stance, a category (non-negotiable, firm, flexible, conceded; thresholds
in configs/terms.yaml), the statements behind it, and the change against the window a period earlier (the
timeline's shift test: hardened, softened, unchanged; new where the actor said nothing on it then).
A person's terms include what is held by their group itself ("the capital signalled ..." for its president).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from pydantic import Field, model_validator

from .aggregate import OVERALL, detect_shifts, positions_by_period
from .config import CONFIGS, STANCES, Strict, known_targets, load_config
from .errors import ConfigError, TimelineError, not_in_store
from .records import Position

DEFAULT_TERMS = CONFIGS / "terms.yaml"
CATEGORIES = ("non-negotiable", "firm", "flexible", "conceded")
CHANGES = ("hardened", "softened", "unchanged", "new")
TARGET_JOIN = " · "  # "border · North Province": issue ids have no spaces, so this key cannot be an issue id


class TermsConfig(Strict):
    """configs/terms.yaml: category thresholds, windows, the shift test, and which targets belong to which issue."""

    categories: dict[str, float]
    window_days: int = Field(183, ge=1)
    since_days: int = Field(365, ge=1)
    min_statements: int = Field(2, ge=1)
    min_change: float = Field(0.25, ge=0)
    evidence: int = Field(5, ge=1)
    seed: int = 0
    n_boot: int = Field(500, ge=1)
    target_issues: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    target_parts: dict[str, tuple[str, ...]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _categories_in_order(self) -> TermsConfig:
        if tuple(self.categories) != CATEGORIES:
            raise ValueError(f"categories must be {list(CATEGORIES)} in that order, found {list(self.categories)}")
        values = list(self.categories.values())
        if values != sorted(values, reverse=True) or len(set(values)) < len(values) or values[-1] != 0:
            raise ValueError(f"category thresholds {values} must fall strictly and end at 0 (conceded is the rest)")
        return self

    def category(self, maximalism: float) -> str:
        """The category of a maximalism value: the first whose threshold it reaches."""
        return next(name for name, low in self.categories.items() if maximalism >= low)

    def targets_of(self, issue: str, named: str) -> tuple[str, ...]:
        """The targets of `issue` that a text naming `named` speaks about ("the east" → North Province, South Province)."""
        own = self.target_issues.get(issue, ())
        return tuple(t for t in self.target_parts.get(named, (named,)) if t in own)


def load_terms_config(path: str | Path = DEFAULT_TERMS) -> TermsConfig:
    """Read a terms config; every target it names must be in the targets dictionary."""
    config = load_config(path, TermsConfig)
    known = known_targets()
    named = {("target_issues", k, t) for k, ts in config.target_issues.items() for t in ts}
    named |= {("target_parts", k, t) for k, ts in config.target_parts.items() for t in (k, *ts)}
    unknown = sorted(where for where in named if where[2] not in known)
    if unknown:
        key, issue, target = unknown[0]
        raise ConfigError(f"{path}: key '{key}.{issue}' names the target '{target}', which the targets dictionary "
                          "does not have; add it to configs/targets/ or correct the spelling")
    return config


# --- the statements that speak for a side -------------------------------------------------------


def side_rows(rows: Sequence[Mapping], name: str) -> list[Mapping]:
    """`Store.statements()` rows that speak for `name`: every member's for a group; a person's own and those
    held by the person's group itself (the state for its president)."""
    if any(row["actor_group"] == name for row in rows):
        return [row for row in rows if row["actor_group"] == name]
    own = [row for row in rows if row["actor"] == name]
    if not own:
        raise not_in_store("statements of", name, {row["actor"] for row in rows if row.get("issues")}
                           | {row["actor_group"] for row in rows})
    group = own[0]["actor_group"]
    return [row for row in rows if row["actor"] == name or row["actor"] == group == row["actor_group"]]


@dataclass(frozen=True)
class Series:
    """The readings of one side, one row per statement, keyed by issue or "issue · target"."""

    rows: list[dict]
    keys: dict[str, tuple[str, str | None]]  # key → (issue, target or None)
    by_id: dict[str, Mapping]  # statement id → its `Store.statements()` row
    clauses: dict[tuple[str, str], str]  # (statement id, key) → the clause a target reading was scored on


def series_of(rows: Sequence[Mapping], target_rows: Sequence[Mapping], holder: str) -> Series:
    """The side's statement rows as `positions_by_period` reads them, with one extra key per target reading;
    every row is relabelled to the holder `holder`, so a person and their group's own statements pool."""
    targets: dict[str, list[Mapping]] = defaultdict(list)
    for reading in target_rows:
        targets[reading["statement_id"]].append(reading)
    keys: dict[str, tuple[str, str | None]] = {}
    clauses: dict[tuple[str, str], str] = {}
    series = []
    for row in rows:
        if not row.get("issues"):
            continue
        out = {"id": row["id"], "date": row["date"], "actor": holder, "actor_group": holder,
               "model_id": row.get("model_id"), "issues": list(row["issues"]), "stance": dict(row["stance"]),
               "maximalism": dict(row["maximalism"]), "confidence": dict(row["confidence"]),
               "low_confidence": list(row.get("low_confidence") or ())}
        keys.update({issue: (issue, None) for issue in row["issues"]})
        for key, readings in _by_key(targets[row["id"]], set(row["issues"])).items():
            keys[key] = (readings[0]["issue"], readings[0]["target"])
            out["issues"].append(key)
            out["stance"][key] = readings[0]["stance"]
            out["maximalism"][key] = sum(r["maximalism"] for r in readings) / len(readings)
            out["confidence"][key] = row["confidence"][readings[0]["issue"]]
            if readings[0]["issue"] in out["low_confidence"]:
                out["low_confidence"].append(key)
            if any(r["split"] for r in readings):
                clauses[(row["id"], key)] = " … ".join(r["clause"] for r in readings)
        series.append(out)
    return Series(series, keys, {row["id"]: row for row in rows}, clauses)


def _by_key(readings: Sequence[Mapping], issues: set[str]) -> dict[str, list[Mapping]]:
    """A statement's target readings by key; a target named in two clauses has two (`series_of` averages them)."""
    grouped: dict[str, list[Mapping]] = defaultdict(list)
    for reading in readings:
        if reading["issue"] in issues:
            grouped[f"{reading['issue']}{TARGET_JOIN}{reading['target']}"].append(reading)
    return grouped


def holder_positions(series: Series, period: str, config: TermsConfig) -> list[Position]:
    """Positions per key × period of one side (its overall index left out)."""
    positions = positions_by_period(series.rows, period, seed=config.seed, n_boot=config.n_boot)
    return [p for p in positions if p.level == "actor" and p.issue != OVERALL]


def majority_stance(position: Position) -> str:
    """The stance with the largest confidence-weighted share (favor, then against, on a tie)."""
    return max(STANCES, key=lambda s: getattr(position, s))


# --- evidence -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """One statement behind a term: when, who, what (the scored clause for a target), where, how sure."""

    statement_id: str
    date: str
    actor: str
    text: str
    clause: str | None
    source: str
    url: str
    stance: str
    maximalism: float
    confidence: float


def evidence_for(ids: Sequence[str], key: str, series: Series, limit: int) -> tuple[Evidence, ...]:
    """The statements `ids` on `key`, most recent first and, on one date, most confident first."""
    readings = {row["id"]: row for row in series.rows}
    found = []
    for statement_id in ids:
        row, reading = series.by_id[statement_id], readings[statement_id]
        source = row.get("title") or Path(row.get("source_path") or "").name
        kind = f" ({row['source_type']})" if row.get("source_type") else ""
        found.append(Evidence(statement_id, row["date"], row["actor"], row["text"],
                              series.clauses.get((statement_id, key)), f"{source}{kind}", row.get("url") or "",
                              reading["stance"][key], round(float(reading["maximalism"][key]), 3),
                              round(float(reading["confidence"][key]), 3)))
    found.sort(key=lambda e: (e.date, e.confidence), reverse=True)
    return tuple(found[:limit])


# --- the terms sheet ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """The actor's position on one issue (target None) or one target of it, as of the sheet's date."""

    issue: str
    target: str | None
    stance: str
    maximalism: float
    maximalism_low: float
    maximalism_high: float
    n: int
    category: str
    change: str
    earlier_maximalism: float | None
    earlier_n: int
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class TermsSheet:
    """An actor's terms as of a date from the statements in (window_start, as_of], compared with
    (earlier_start, earlier_end]."""

    actor: str
    holders: tuple[str, ...]
    as_of: str
    window_start: str
    earlier_start: str
    earlier_end: str
    model_id: str | None
    statements: int  # classified statements in the window
    terms: tuple[Term, ...]


def terms_sheet(rows: Sequence[Mapping], target_rows: Sequence[Mapping], actor: str, as_of: str | None = None,
                since_days: int | None = None, config: TermsConfig | None = None) -> TermsSheet:
    """The terms of `actor` (a person or a group) from `Store.statements()` rows and `Store.target_predictions()`.

    `as_of` defaults to the actor's latest dated statement; `since_days` (default from config) sets the period
    the change column looks back.
    """
    config = config or load_terms_config()
    mine = [row for row in side_rows(rows, actor) if row.get("date") and row.get("issues")]
    end = _as_of(mine, as_of, actor)
    since = dt.timedelta(days=since_days if since_days is not None else config.since_days)
    window = dt.timedelta(days=config.window_days)
    now = [r for r in mine if end - window < _date(r) <= end]
    then = [r for r in mine if end - since - window < _date(r) <= end - since]
    series = series_of([{**r, "date": end.isoformat()} for r in now]
                       + [{**r, "date": (end - since).isoformat()} for r in then], target_rows, actor)
    positions = holder_positions(series, "day", config)
    current = {p.issue: p for p in positions if p.period == end.isoformat()}
    earlier = {p.issue: p for p in positions if p.period != end.isoformat()}
    shifts = {s.issue: s.direction for s in detect_shifts(positions, config.min_statements, config.min_change)}
    dated = series_of(now, target_rows, actor)  # the same readings with their own dates, for the evidence
    terms = [_term(key, position, earlier.get(key), shifts.get(key), dated, config)
             for key, position in current.items()]
    terms.sort(key=lambda t: (t.issue, t.target is not None, t.target or ""))
    return TermsSheet(actor, tuple(sorted({r["actor"] for r in mine})), end.isoformat(),
                      (end - window).isoformat(), (end - since - window).isoformat(), (end - since).isoformat(),
                      positions[0].model_id if positions else None, len(now), tuple(terms))


def _as_of(rows: Sequence[Mapping], as_of: str | None, actor: str) -> dt.date:
    if as_of is None:
        if not rows:
            raise TimelineError(f"'{actor}' has no dated, classified statement in the store, so there are no terms "
                                "to show; run `redline run` with a model on documents that carry dates")
        return max(_date(r) for r in rows)
    try:
        return dt.date.fromisoformat(as_of)
    except ValueError as e:
        raise TimelineError(f"--as-of '{as_of}' is not a date; write it as YYYY-MM-DD, e.g. 2025-09-08") from e


def _date(row: Mapping) -> dt.date:
    return dt.date.fromisoformat(str(row["date"])[:10])


def _term(key: str, position: Position, earlier: Position | None, direction: str | None, series: Series,
          config: TermsConfig) -> Term:
    issue, target = series.keys[key]
    change = "new" if earlier is None else direction or "unchanged"
    return Term(issue, target, majority_stance(position), round(position.maximalism, 3),
                round(position.maximalism_low, 3), round(position.maximalism_high, 3), position.n,
                config.category(position.maximalism), change,
                round(earlier.maximalism, 3) if earlier else None, earlier.n if earlier else 0,
                evidence_for(position.statement_ids, key, series, config.evidence))


def parse_since(value: str) -> int:
    """Days in a period written "1y", "6m", "90d" or "2w" (a year 365 days, a month 30)."""
    units = {"y": 365, "m": 30, "w": 7, "d": 1}
    number, unit = value[:-1], value[-1:].lower()
    if unit not in units or not number.isdigit() or int(number) < 1:
        raise TimelineError(f"--since '{value}' is not a period; write a number and a unit: 1y, 6m, 2w or 90d")
    return int(number) * units[unit]


# --- output -------------------------------------------------------------------------------------


def terms_json(sheet: TermsSheet) -> dict:
    """The sheet as JSON-ready data: its window and one row per term, each with actor, issue and target first."""
    head = {k: v for k, v in asdict(sheet).items() if k != "terms"}
    return {**head, "terms": [{"actor": sheet.actor, **asdict(term)} for term in sheet.terms]}


def terms_markdown(sheet: TermsSheet, propositions: Mapping[str, str] | None = None,
                   config: TermsConfig | None = None, quote_chars: int = 220) -> str:
    """A one-page brief: the terms by category, each with its interval, change and latest evidence."""
    config = config or load_terms_config()
    propositions = propositions or {}
    holders = ", ".join(sheet.holders[:-1]) + " and " * (len(sheet.holders) > 1) + sheet.holders[-1] \
        if sheet.holders else sheet.actor
    lines = [f"# Terms of {sheet.actor} as of {sheet.as_of}", "",
             f"From {_count(sheet.statements, 'statement')} of {holders} between {sheet.window_start} and "
             f"{sheet.as_of}, compared with {sheet.earlier_start} – {sheet.earlier_end}. Model `{sheet.model_id}`.",
             ""]
    for category in CATEGORIES:
        members = [t for t in sheet.terms if t.category == category]
        if not members:
            continue
        lines += [f"## {category.capitalize()}", ""]
        lines += [_brief_line(t, propositions, quote_chars) for t in members]
        lines.append("")
    thresholds = ", ".join(f"{name} ≥ {low:g}" for name, low in config.categories.items() if low > 0)
    lines += ["## How to read this", "",
              f"Maximalism runs from 0 (concession) to 3 (non-negotiable): {thresholds}, conceded below. Each "
              "figure is the confidence-weighted mean of the statements in the window with its bootstrap 90 % "
              "interval; *change* compares it with the earlier window (hardened or softened only where the two "
              "intervals do not overlap). Stance is towards the issue's proposition as the taxonomy words it. "
              "The statements are machine-read: check the evidence before quoting a line.", ""]
    return "\n".join(lines)


def _brief_line(term: Term, propositions: Mapping[str, str], quote_chars: int) -> str:
    """One term; a target's line quotes only a clause of its own (else its issue's line has the quote)."""
    name = f"{term.issue} · {term.target}" if term.target else term.issue
    toward = f" “{propositions[term.issue]}”" if term.issue in propositions and not term.target else ""
    change = term.change if term.earlier_maximalism is None else \
        f"{term.change} (earlier {term.earlier_maximalism:.1f} from {_count(term.earlier_n, 'statement')})"
    line = (f"- **{name}**: {term.stance}{toward}, maximalism {term.maximalism:.1f} "
            f"[{term.maximalism_low:.1f}–{term.maximalism_high:.1f}] from {_count(term.n, 'statement')}, {change}.")
    first = term.evidence[0] if term.evidence else None
    if first is not None and (first.clause or not term.target):
        quote = first.clause or first.text
        quote = quote if len(quote) <= quote_chars else quote[:quote_chars - 1].rstrip() + "…"
        line += f" “{quote}” ({first.actor}, {first.date}, {first.source})"
    return line


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"
