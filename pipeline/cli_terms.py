"""The `redline terms` and `space` commands: parse, call terms/space, print.

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

from .cli import app, console, out
from .cli_timelines import ByOption, Period, StoreOption


class TermsFormat(str, Enum):
    table = "table"
    json = "json"
    md = "md"


class SpaceFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


SPACE_COLUMNS = ("issue", "target", "period", "a_stance", "a_maximalism", "a_low", "a_high", "a_n", "a_category",
                 "b_stance", "b_maximalism", "b_low", "b_high", "b_n", "b_category", "gap", "gap_low", "gap_high",
                 "room", "trend", "moved_by")


def _readings(store: Path) -> tuple[list[dict], list[dict]]:
    """Statement rows and per-target readings of the store's latest model."""
    from .store import Store

    with Store(store, read_only=True) as db:
        model_id = db.latest_model()
        return db.statements(model_id=model_id), db.target_predictions(model_id)


def _print(text: str) -> None:
    out.print(text, soft_wrap=True, highlight=False, markup=False)


@app.command("terms")
def terms_cli(
    actor: Annotated[str, typer.Option("--actor", "-a", help="A person (with their group's own statements) or a group.")],
    store: StoreOption = Path("redline.duckdb"),
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="Date (YYYY-MM-DD); default: the actor's latest.")]
    = None,
    since: Annotated[Optional[str], typer.Option(help="Compare with this long before: 1y, 6m, 2w, 90d "
                                                      "(default: configs/terms.yaml).")] = None,
    fmt: Annotated[TermsFormat, typer.Option("--format", "-f", help="table, json, or md (a one-page brief).")]
    = TermsFormat.table,
    out_path: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write to this file instead.")] = None,
) -> None:
    """An actor's terms per issue and target as of a date: stance, maximalism, category, change, evidence."""
    from .config import load_taxonomy
    from .terms import parse_since, terms_json, terms_markdown, terms_sheet

    rows, target_rows = _readings(store)
    sheet = terms_sheet(rows, target_rows, actor, as_of, parse_since(since) if since else None)
    if fmt is TermsFormat.md:
        text = terms_markdown(sheet, {i.id: i.proposition for i in load_taxonomy().issues})
    elif fmt is TermsFormat.json:
        text = json.dumps(terms_json(sheet), ensure_ascii=False, indent=1)
    else:
        text = ""
    if out_path is not None:
        out_path.write_text(text + "\n", encoding="utf-8")
        console.print(f"→ {out_path}", highlight=False)
    elif text:
        _print(text)
    else:
        out.print(_terms_table(sheet))
    if not sheet.terms:
        console.print(f"no statements of {actor} between {sheet.window_start} and {sheet.as_of}", highlight=False)


def _terms_table(sheet) -> Table:
    table = Table("issue", "target", "stance", "max", "90 % interval", "n", "category", "change", "latest evidence",
                  title=f"Terms of {sheet.actor} as of {sheet.as_of} (since {sheet.window_start})")
    for t in sheet.terms:
        quote = (t.evidence[0].clause or t.evidence[0].text) if t.evidence else ""
        table.add_row(t.issue, t.target or "", t.stance, f"{t.maximalism:.2f}",
                      f"{t.maximalism_low:.2f}–{t.maximalism_high:.2f}", str(t.n), t.category, t.change,
                      quote if len(quote) <= 60 else quote[:59] + "…")
    return table


@app.command("space")
def space_cli(
    a: Annotated[str, typer.Option("--a", help="One side: a person or a group.")],
    b: Annotated[str, typer.Option("--b", help="The other side.")],
    store: StoreOption = Path("redline.duckdb"),
    by: ByOption = Period.quarter,
    fmt: Annotated[SpaceFormat, typer.Option("--format", "-f")] = SpaceFormat.table,
    plot: Annotated[Optional[Path], typer.Option(help="Also draw the gap (issue × period) into this PNG.")] = None,
) -> None:
    """Bargaining space between two sides per issue and target × period: the gap, room to bargain, trend."""
    from .export import write_csv_rows
    from .space import bargaining_space

    rows, target_rows = _readings(store)
    space = bargaining_space(rows, target_rows, a, b, by.value)
    if fmt is SpaceFormat.json:
        _print(json.dumps(asdict(space), ensure_ascii=False, indent=1))
    elif fmt is SpaceFormat.csv:
        write_csv_rows(sys.stdout, [_space_row(cell) for cell in space.cells], SPACE_COLUMNS)
    else:
        out.print(_space_table(space))
        out.print(_trends_table(space))
    if not space.cells:
        console.print(f"{a} and {b} never spoke on the same issue in the same {by.value}", highlight=False)
    if plot is not None and space.cells:
        from .charts import plot_space_png

        console.print(f"plot → {plot_space_png(space, plot)}", highlight=False)


def _space_row(cell) -> dict:
    sides = {f"{name}_{field}": getattr(getattr(cell, name), attr) for name in ("a", "b")
             for field, attr in (("stance", "stance"), ("maximalism", "maximalism"), ("low", "maximalism_low"),
                                 ("high", "maximalism_high"), ("n", "n"), ("category", "category"))}
    return {"issue": cell.issue, "target": cell.target, "period": cell.period, **sides, "gap": cell.gap,
            "gap_low": cell.gap_low, "gap_high": cell.gap_high, "room": cell.room, "trend": cell.trend,
            "moved_by": [e.statement_id for e in cell.moved_by]}


def _space_table(space) -> Table:
    table = Table("issue", "target", "period", space.a, space.b, "gap", "room", "trend",
                  title=f"Bargaining space: {space.a} vs {space.b} by {space.period_kind}")
    for c in space.cells:
        table.add_row(c.issue, c.target or "", c.period, f"{c.a.stance} {c.a.maximalism:.1f} ({c.a.n})",
                      f"{c.b.stance} {c.b.maximalism:.1f} ({c.b.n})", f"{c.gap:.2f}", "yes" if c.room else "",
                      c.trend)
    return table


def _trends_table(space) -> Table:
    table = Table("issue", "target", "from", "to", "gap then", "gap now", "trend", title="Trend over the span")
    for t in space.trends:
        table.add_row(t.issue, t.target or "", t.first_period, t.last_period, f"{t.first_gap:.2f}",
                      f"{t.last_gap:.2f}", t.trend or "one period")
    return table
