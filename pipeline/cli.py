"""The `redline` command: parses arguments and composes the stages. Only this module prints or exits."""

from __future__ import annotations

import csv
import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from .config import DEFAULT_ACTORS
from .errors import RedlineError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Redline: what political actors say → positions over time.")
console = Console(stderr=True)
out = Console()
_state = {"debug": False}


class Format(str, Enum):
    table = "table"
    jsonl = "jsonl"
    csv = "csv"


StoreOption = Annotated[Path, typer.Option("--store", "-s", help="DuckDB store file.")]


@app.callback()
def _main(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False) -> None:
    _state["debug"] = debug


@app.command("run")
def run_cli(
    inputs: Annotated[list[Path], typer.Argument(help="Files or folders (.txt/.md/.jsonl/.csv) or saved datasets.")],
    store: StoreOption = Path("redline.duckdb"),
    actors: Annotated[Path, typer.Option(help="Actor dictionary YAML.")] = DEFAULT_ACTORS,
    batch_size: Annotated[int, typer.Option(min=1, help="Documents per batch (one transaction each).")] = 32,
    text_field: Annotated[Optional[str], typer.Option(help="Text column of JSONL/CSV/datasets input.")] = None,
) -> None:
    """Read INPUTS, find their statements and who holds each, and add them to the store."""
    from .engine import run

    with Progress(SpinnerColumn(), TextColumn("[progress.description]{task.description}"), BarColumn(),
                  TextColumn("{task.fields[docs]} documents, {task.fields[stmts]} statements"),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task("reading", total=None, docs=0, stmts=0)
        summary = run([str(i) for i in inputs], store, actors, batch_size=batch_size, text_field=text_field,
                      on_progress=lambda s: progress.update(task, docs=s.documents_read, stmts=s.statements_added))
    for problem in summary.problems:
        where = f"{problem.path}:{problem.line}" if problem.line else problem.path
        label = "[red]quarantined[/red]" if problem.level == "error" else "[yellow]warning[/yellow]"
        console.print(f"{label} {where}: {problem.reason}", highlight=False, soft_wrap=True)
    console.print(f"[bold]{summary.documents_added}[/bold] documents added ({summary.documents_skipped} already in "
                  f"the store), [bold]{summary.statements_added}[/bold] statements, "
                  f"{len(summary.quarantined)} quarantined → {store}", highlight=False, soft_wrap=True)


@app.command("statements")
def statements_cli(
    store: StoreOption = Path("redline.duckdb"),
    actor: Annotated[Optional[str], typer.Option(help="Only this actor or actor group.")] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
    limit: Annotated[Optional[int], typer.Option(help="At most this many rows.")] = None,
) -> None:
    """List the statements in the store with who holds them."""
    from .store import Store

    with Store(store, read_only=True) as db:
        rows = db.statements(actor=actor, limit=limit)
    fields = ["id", "doc_id", "text", "start", "end", "actor", "actor_group", "attribution", "date"]
    if fmt is Format.jsonl:
        for row in rows:
            out.print(json.dumps({k: row[k] for k in fields + _prediction_fields(row)}, ensure_ascii=False),
                      soft_wrap=True, highlight=False, markup=False)
    elif fmt is Format.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    else:
        table = Table("actor", "group", "how", "date", "text", show_lines=False)
        for row in rows:
            table.add_row(row["actor"], row["actor_group"], row["attribution"], row["date"] or "",
                          row["text"] if len(row["text"]) < 140 else row["text"][:137] + "...")
        out.print(table)


def _prediction_fields(row: dict) -> list[str]:
    return ["issues", "stance", "maximalism", "confidence", "targets"] if row.get("model_id") else []


@app.command("quarantine")
def quarantine_cli(store: StoreOption = Path("redline.duckdb")) -> None:
    """List inputs that could not be read, with path, line and reason."""
    from .store import Store

    with Store(store, read_only=True) as db:
        rows = db.quarantined()
    table = Table("level", "path", "line", "reason")
    for row in rows:
        table.add_row(row["level"], row["path"], str(row["line"] or ""), row["reason"])
    out.print(table)


@app.command("runs")
def runs_cli(store: StoreOption = Path("redline.duckdb")) -> None:
    """List the runs that wrote to the store, with their counts, model and timing."""
    from .store import Store

    with Store(store, read_only=True) as db:
        rows = db.runs()
    table = Table("run", "started", "status", "model", "documents", "statements", "predictions", "quarantined", "s")
    for r in rows:
        table.add_row(r["id"], str(r["started"])[:19], r["status"], r["model_id"] or "-", str(r["documents"]),
                      str(r["statements"]), str(r["predictions"]), str(r["quarantined"]),
                      f"{r['seconds']:.1f}" if r["seconds"] is not None else "-")
    out.print(table)


def main() -> None:
    """Entry point: user errors print one line (the traceback only with --debug) and exit 2."""
    try:
        app(standalone_mode=False)
    except RedlineError as e:
        if _state["debug"]:
            raise
        console.print(f"[red]error:[/red] {e}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        console.print("aborted")
        sys.exit(130)
    except Exception as e:  # click usage errors and the like
        import click

        if isinstance(e, click.ClickException):
            e.show()
            sys.exit(e.exit_code)
        raise


if __name__ == "__main__":
    main()
