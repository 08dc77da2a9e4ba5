"""Export: store → files. Statements and positions as CSV or Parquet, a JSON timeline, an HTML report.

Statements are written one row per statement × issue (a statement with no issue is one row with an empty
issue); positions one row per position. Exporters are registered by name in `EXPORTERS`.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TextIO

import pyarrow as pa
import pyarrow.parquet as pq

from .aggregate import detect_shifts, positions_by_period, undated_statements
from .errors import TimelineError
from .records import Position
from .store import Store

STATEMENT_SCHEMA = pa.schema([
    ("id", pa.string()), ("doc_id", pa.string()), ("date", pa.date32()), ("actor", pa.string()),
    ("actor_group", pa.string()), ("attribution", pa.string()), ("cue", pa.string()), ("text", pa.string()),
    ("start", pa.int32()), ("end", pa.int32()), ("source_path", pa.string()), ("title", pa.string()),
    ("source_type", pa.string()), ("url", pa.string()), ("model_id", pa.string()), ("issue", pa.string()),
    ("stance", pa.string()), ("maximalism", pa.float64()), ("confidence", pa.float64()),
    ("zero_shot", pa.bool_()), ("low_confidence", pa.bool_()), ("targets", pa.list_(pa.string())),
])
POSITION_SCHEMA = pa.schema([
    ("model_id", pa.string()), ("period_kind", pa.string()), ("level", pa.string()), ("actor", pa.string()),
    ("actor_group", pa.string()), ("issue", pa.string()), ("period", pa.string()), ("period_start", pa.date32()),
    ("n", pa.int32()), ("maximalism", pa.float64()), ("maximalism_low", pa.float64()),
    ("maximalism_high", pa.float64()), ("favor", pa.float64()), ("against", pa.float64()),
    ("neutral", pa.float64()), ("statement_ids", pa.list_(pa.string())),
])
STATEMENT_FIELDS = STATEMENT_SCHEMA.names[:STATEMENT_SCHEMA.names.index("issue")]  # the same for every issue
LIST_SEPARATOR = ";"  # joins list fields (targets, statement_ids) in CSV cells


@dataclass(frozen=True)
class Timeline:
    """What every export reads from the store: statement rows, positions of one period kind, undated ids."""

    rows: list[dict]
    positions: list[Position]
    undated: list[str]
    period: str
    model_id: str | None
    target_rows: list[dict] = field(default_factory=list)  # per-target readings (pipeline/targets.py)


Exporter = Callable[[Timeline, Path], list[Path]]
EXPORTERS: dict[str, Exporter] = {}


def exporter(name: str) -> Callable[[Exporter], Exporter]:
    def register(function: Exporter) -> Exporter:
        EXPORTERS[name] = function
        return function

    return register


def load_timeline(store: Store, period: str = "quarter", model_id: str | None = None, **options) -> Timeline:
    """Statement rows and positions of one model: the stored positions, or computed when options or period differ.

    `options` go to `positions_by_period` (weights, seed, n_boot, low_confidence_weight).
    """
    model_id = pick_model(store, model_id)
    rows = store.statements(model_id=model_id)
    stored = [] if options else store.positions(model_id, period)
    positions = stored or positions_by_period(rows, period, **options)
    return Timeline(rows, positions, undated_statements(rows), period, model_id, store.target_predictions(model_id))


def pick_model(store: Store, wanted: str | None = None) -> str | None:
    """The id of the model whose positions to show: `wanted` as an id or a name (the part before '@', its most
    recent run), or by default the model of the store's most recent run."""
    if wanted is None:
        return store.latest_model()
    used = [run["model_id"] for run in reversed(store.runs()) if run["model_id"]]  # most recent first
    for model_id in used:
        if wanted in (model_id, model_id.split("@", 1)[0]):
            return model_id
    known = ", ".join(dict.fromkeys(used)) or "none (no run has classified statements yet)"
    raise TimelineError(f"no model '{wanted}' in {store.path}; the runs there used: {known}. "
                        "Pick one of these with --model (`redline runs` lists them)")


def export(store: Store, fmt: str, out: str | Path, period: str = "quarter", model_id: str | None = None,
           **options) -> list[Path]:
    """Write the store's statements and positions as `fmt` (csv, parquet: a folder; json, html: a file)."""
    if fmt not in EXPORTERS:
        raise TimelineError(f"unknown export format '{fmt}'; use one of {', '.join(EXPORTERS)}")
    timeline = load_timeline(store, period, model_id, **options)
    return EXPORTERS[fmt](timeline, Path(out))


# --- rows -------------------------------------------------------------------------------------


def statement_rows(rows: Sequence[Mapping]) -> list[dict]:
    """One flat row per statement × issue from `Store.statements()` rows; no issue → one row, issue ""."""
    flat = []
    for row in rows:
        base = {name: row.get(name) for name in STATEMENT_FIELDS}
        for issue in row.get("issues") or [""]:
            flat.append({**base, "issue": issue, "stance": row["stance"].get(issue),
                         "maximalism": row["maximalism"].get(issue), "confidence": row["confidence"].get(issue),
                         "zero_shot": issue in row.get("zero_shot", ()) if issue else None,
                         "low_confidence": issue in row.get("low_confidence", ()) if issue else None,
                         "targets": list(row.get("targets") or [])})
    return [{name: row[name] for name in STATEMENT_SCHEMA.names} for row in flat]


def position_rows(positions: Sequence[Position]) -> list[dict]:
    """One flat row per position, in the columns of POSITION_SCHEMA."""
    rows = []
    for p in positions:
        fields = asdict(p)
        fields["statement_ids"] = list(p.statement_ids)
        rows.append({name: fields[name] for name in POSITION_SCHEMA.names})
    return rows


def timeline_json(timeline: Timeline, shifts_min_statements: int = 2) -> dict:
    """Positions keyed level ("actors", "groups") → actor → issue → period, with the shifts among them."""
    positions = timeline.positions
    tree: dict[str, dict] = {"actors": {}, "groups": {}}
    for p in positions:
        entry = {k: v for k, v in asdict(p).items() if k not in ("actor", "level", "issue", "period", "model_id",
                                                                   "period_kind")}
        entry["statement_ids"] = list(p.statement_ids)
        level = tree["actors" if p.level == "actor" else "groups"]
        level.setdefault(p.actor, {}).setdefault(p.issue, {})[p.period] = entry
    shifts = [asdict(s) for s in detect_shifts(positions, shifts_min_statements)]
    return {"model_id": timeline.model_id, "period_kind": timeline.period, **tree, "shifts": shifts,
            "undated_statements": timeline.undated}


# --- writers ----------------------------------------------------------------------------------


def _arrow_table(rows: Sequence[Mapping], schema: pa.Schema) -> pa.Table:
    dates = [f.name for f in schema if f.type == pa.date32()]
    converted = [{k: _as_date(v) if k in dates else v for k, v in row.items()} for row in rows]
    return pa.Table.from_pylist(converted, schema=schema)


def _as_date(value: object) -> dt.date | None:
    return dt.date.fromisoformat(value) if isinstance(value, str) and value else None


def _folder(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise TimelineError(f"{out} is a file; CSV and Parquet exports write two files into a folder, "
                            "so give --out a folder path")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _file(out: Path, suffix: str) -> Path:
    if out.is_dir():
        raise TimelineError(f"{out} is a folder; give --out a file path such as {out / ('timeline' + suffix)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


@exporter("parquet")
def write_parquet(timeline: Timeline, out: Path) -> list[Path]:
    folder = _folder(out)
    paths = [folder / "statements.parquet", folder / "positions.parquet"]
    pq.write_table(_arrow_table(statement_rows(timeline.rows), STATEMENT_SCHEMA), paths[0])
    pq.write_table(_arrow_table(position_rows(timeline.positions), POSITION_SCHEMA), paths[1])
    return paths


@exporter("csv")
def write_csv(timeline: Timeline, out: Path) -> list[Path]:
    folder = _folder(out)
    paths = [folder / "statements.csv", folder / "positions.csv"]
    for path, rows, schema in ((paths[0], statement_rows(timeline.rows), STATEMENT_SCHEMA),
                               (paths[1], position_rows(timeline.positions), POSITION_SCHEMA)):
        with path.open("w", encoding="utf-8", newline="") as handle:
            write_csv_rows(handle, rows, schema.names)
    return paths


def write_csv_rows(handle: TextIO, rows: Sequence[Mapping], columns: Sequence[str]) -> None:
    """CSV with a header; lists joined by LIST_SEPARATOR, booleans as true/false, None as an empty cell."""
    writer = csv.DictWriter(handle, fieldnames=list(columns))
    writer.writeheader()
    writer.writerows({k: _csv_cell(v) for k, v in row.items()} for row in rows)


def _csv_cell(value: object) -> object:
    if isinstance(value, list | tuple):
        return LIST_SEPARATOR.join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value


@exporter("json")
def write_json(timeline: Timeline, out: Path) -> list[Path]:
    path = _file(out, ".json")
    path.write_text(json.dumps(timeline_json(timeline), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return [path]


@exporter("html")
def write_html(timeline: Timeline, out: Path) -> list[Path]:
    from .report import render_report

    path = _file(out, ".html")
    shifts = detect_shifts(timeline.positions)
    path.write_text(render_report(timeline.positions, shifts, timeline.rows, undated=len(timeline.undated),
                                  target_rows=timeline.target_rows), encoding="utf-8")
    return [path]
