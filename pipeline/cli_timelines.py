"""The `redline timeline`, `shifts` and `export` commands: parse, call aggregate/export, print.

Registered on `pipeline.cli.app` when `pipeline.cli` imports this module.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from .aggregate import LOW_CONFIDENCE_WEIGHT
from .cli import app, console, out
from .errors import not_in_store

StoreOption = Annotated[Path, typer.Option("--store", "-s", help="DuckDB store file.")]


class Period(str, Enum):
    day = "day"
    week = "week"
    month = "month"
    quarter = "quarter"
    year = "year"


class TimelineFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


class ExportFormat(str, Enum):
    csv = "csv"
    parquet = "parquet"
    json = "json"
    html = "html"


ByOption = Annotated[Period, typer.Option("--by", help="Period of each position.")]
ModelOption = Annotated[Optional[str], typer.Option(
    "--model", "-m", help="Whose positions: a model id or name that `redline runs` lists (default: the model of "
    "the most recent run).")]
LowConfidenceOption = Annotated[float, typer.Option(
    "--low-confidence-weight", min=0.0, max=1.0,
    help="Weight of predictions flagged low-confidence: 1 counts them fully, 0 leaves them out "
    f"(default {LOW_CONFIDENCE_WEIGHT}).")]


def _timeline(store: Path, by: Period, low_confidence_weight: float, model: str | None):
    from .export import load_timeline
    from .store import Store

    # the stored positions were computed with the default weight; another weight recomputes them
    options = {"low_confidence_weight": low_confidence_weight} if low_confidence_weight != LOW_CONFIDENCE_WEIGHT else {}
    with Store(store, read_only=True) as db:
        return load_timeline(db, by.value, model, **options)


def _report_undated(undated: list[str]) -> None:
    if undated:
        console.print(f"[yellow]{len(undated)} statements without a date left out[/yellow]", highlight=False)


@app.command("timeline")
def timeline_cli(
    store: StoreOption = Path("redline.duckdb"),
    by: ByOption = Period.quarter,
    actor: Annotated[Optional[str], typer.Option(help="Only this actor or group.")] = None,
    issue: Annotated[Optional[str], typer.Option(help="Only this issue (or _overall).")] = None,
    fmt: Annotated[TimelineFormat, typer.Option("--format", "-f")] = TimelineFormat.table,
    plot: Annotated[Optional[Path], typer.Option(help="Also draw the timelines into this PNG.")] = None,
    low_confidence_weight: LowConfidenceOption = LOW_CONFIDENCE_WEIGHT,
    model: ModelOption = None,
) -> None:
    """Maximalism per actor × issue × period with its 90 % interval, stance shares and counts."""
    from .export import POSITION_SCHEMA, position_rows, write_csv_rows

    timeline = _timeline(store, by, low_confidence_weight, model)
    positions = [p for p in timeline.positions
                 if (actor is None or actor in (p.actor, p.actor_group)) and (issue is None or p.issue == issue)]
    _report_undated(timeline.undated)
    if not positions:
        _check_names(timeline.positions, actor, issue)
        console.print(f"no positions of {actor} on {issue} in {store} (each has positions, not together)"
                      if timeline.positions else f"no positions in {store}: no dated statement has been "
                      "classified (run `redline run` with a model)", highlight=False)
    if fmt is TimelineFormat.json:
        out.print(json.dumps(position_rows(positions), ensure_ascii=False), soft_wrap=True, highlight=False,
                  markup=False)
    elif fmt is TimelineFormat.csv:
        write_csv_rows(sys.stdout, position_rows(positions), POSITION_SCHEMA.names)
    elif positions:
        out.print(_positions_table(positions, f"positions by {by.value} from model {timeline.model_id}"))
    if plot is not None and positions:
        from .charts import plot_png

        console.print(f"plot → {plot_png(positions, plot)}", highlight=False)


def _check_names(positions, actor: str | None, issue: str | None) -> None:
    """Refuse an actor or issue that no position names (a misspelling), listing those there are."""
    if not positions:
        return  # nothing classified yet, which the caller says
    if actor is not None and not any(actor in (p.actor, p.actor_group) for p in positions):
        raise not_in_store("positions of", actor, {p.actor for p in positions} | {p.actor_group for p in positions})
    if issue is not None and not any(p.issue == issue for p in positions):
        raise not_in_store("positions on", issue, {p.issue for p in positions})


def _positions_table(positions, caption: str) -> Table:
    table = Table("actor", "level", "issue", "period", "n", "maximalism", "90 % interval", "favor", "against",
                  "neutral", caption=caption)
    for p in positions:
        table.add_row(p.actor, p.level, p.issue, p.period, str(p.n), f"{p.maximalism:.2f}",
                      f"{p.maximalism_low:.2f}–{p.maximalism_high:.2f}", f"{p.favor:.0%}", f"{p.against:.0%}",
                      f"{p.neutral:.0%}")
    return table


@app.command("shifts")
def shifts_cli(
    store: StoreOption = Path("redline.duckdb"),
    by: ByOption = Period.quarter,
    min_statements: Annotated[int, typer.Option(min=1, help="Statements each side needs.")] = 2,
    min_change: Annotated[float, typer.Option(min=0.0, help="Smallest move that counts (0–3 scale).")] = 0.25,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per shift, with its evidence ids.")] = False,
    low_confidence_weight: LowConfidenceOption = LOW_CONFIDENCE_WEIGHT,
    model: ModelOption = None,
) -> None:
    """Moves in maximalism between consecutive periods that the 90 % intervals say are not noise."""
    from .aggregate import detect_shifts, format_shift

    timeline = _timeline(store, by, low_confidence_weight, model)
    _report_undated(timeline.undated)
    shifts = detect_shifts(timeline.positions, min_statements=min_statements, min_change=min_change)
    for shift in shifts:
        line = json.dumps(asdict(shift), ensure_ascii=False) if as_json else \
            f"{format_shift(shift)} ({shift.direction}, {shift.level})"
        out.print(line, soft_wrap=True, highlight=False, markup=False)
    console.print(f"{len(shifts)} shifts by {by.value} (model {timeline.model_id})", highlight=False)


@app.command("export")
def export_cli(
    store: StoreOption = Path("redline.duckdb"),
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f", help="csv, parquet (a folder), json, html (a file).")]
    = ExportFormat.html,
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Folder (csv, parquet) or file (json, html).")] = ...,
    by: ByOption = Period.quarter,
    model: ModelOption = None,
) -> None:
    """Write statements and positions as CSV or Parquet, a JSON timeline, or a self-contained HTML report."""
    from .export import export, pick_model
    from .store import Store

    with Store(store, read_only=True) as db:
        model_id = pick_model(db, model)
        paths = export(db, fmt.value, out_path, period=by.value, model_id=model_id)
    console.print(f"positions and predictions from model {model_id}", highlight=False)
    for path in paths:
        console.print(f"→ {path}", highlight=False)
