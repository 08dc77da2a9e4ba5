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

from .config import DEFAULT_ACTORS, DEFAULT_TAXONOMY, MAXIMALISM_LEVELS, STANCES
from .errors import ConfigError, RedlineError, not_in_store
from .ingest import MAX_DOCUMENT_MB

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Redline: what political actors say → positions over time.")
console = Console(stderr=True)
out = Console()
_state = {"debug": False}


class Format(str, Enum):
    table = "table"
    jsonl = "jsonl"
    csv = "csv"


class Engine(str, Enum):
    local = "local"
    ray = "ray"


class EncoderBackend(str, Enum):
    auto = "auto"
    torch = "torch"
    onnx = "onnx"
    onnx_int8 = "onnx-int8"


StoreOption = Annotated[Path, typer.Option("--store", "-s", help="DuckDB store file.")]
TaxonomyOption = Annotated[Path, typer.Option("--taxonomy", "-t", help="Issue taxonomy YAML.")]
corpus_app = typer.Typer(no_args_is_help=True, help="Check, describe and split annotated corpora.")
app.add_typer(corpus_app, name="corpus")


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
    model: Annotated[Optional[str], typer.Option(help="Model folder or name under models/ (default: the "
                                                      "default model, see `redline models list`).")] = None,
    taxonomy: Annotated[Optional[Path], typer.Option(help="Taxonomy with extra issues to detect zero-shot.")] = None,
    no_classify: Annotated[bool, typer.Option("--no-classify", help="Only find statements and holders.")] = False,
    max_document_mb: Annotated[float, typer.Option(
        min=0.001, help="Set aside (quarantine) any document larger than this, unread.")] = MAX_DOCUMENT_MB,
    engine: Annotated[Engine, typer.Option(help="local: this machine; ray: Ray Data stages (docs/scale-out.md).")]
    = Engine.local,
    address: Annotated[Optional[str], typer.Option(help="Ray cluster address (--engine ray; default: start Ray "
                                                        "here).")] = None,
    encoder_backend: Annotated[EncoderBackend, typer.Option(
        help="auto: ONNX Runtime on a CPU, PyTorch on a GPU; onnx-int8 is faster but less accurate.")]
    = EncoderBackend.auto,
    device: Annotated[Optional[str], typer.Option(help="cpu, cuda, cuda:1 ... (default: cuda if present).")] = None,
) -> None:
    """Read INPUTS, find their statements and who holds each, tag them, and add them to the store.

    A file that cannot be read is set aside (quarantined) with its reason and the run goes on; the exit
    status is 1 only when nothing could be read at all."""
    from .engine import run

    if address and engine is Engine.local:
        raise ConfigError(f"--address {address} names a Ray cluster, but the engine is local; add --engine ray")
    classifier = None if no_classify else _load_model(model, taxonomy, device)
    if engine is Engine.ray:
        from functools import partial

        from .ray_engine import run_ray

        run = partial(run_ray, address=address)

    with Progress(SpinnerColumn(), TextColumn("[progress.description]{task.description}"), BarColumn(),
                  TextColumn("{task.fields[docs]} documents, {task.fields[stmts]} statements"),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task("reading", total=None, docs=0, stmts=0)
        summary = run([str(i) for i in inputs], store, actors, batch_size=batch_size, text_field=text_field,
                      max_document_mb=max_document_mb, encoder_backend=encoder_backend.value,
                      classifier=classifier, on_progress=lambda s: progress.update(task, docs=s.documents_read, stmts=s.statements_added))
    for problem in summary.problems:
        where = f"{problem.path}:{problem.line}" if problem.line else problem.path
        label = "[red]quarantined[/red]" if problem.level == "error" else "[yellow]warning[/yellow]"
        console.print(f"{label} {where}: {problem.reason}", highlight=False, soft_wrap=True)
    console.print(f"[bold]{summary.documents_added}[/bold] documents added ({summary.documents_skipped} already in "
                  f"the store), [bold]{summary.statements_added}[/bold] statements, "
                  f"{summary.predictions_added} predictions, "
                  f"{summary.quarantined_count} quarantined → {store}", highlight=False, soft_wrap=True)
    if summary.quarantined_count and not summary.documents_read:
        console.print("[red]nothing could be read[/red]: every input was set aside", highlight=False)
        raise typer.Exit(1)


@app.command("statements")
def statements_cli(
    store: StoreOption = Path("redline.duckdb"),
    actor: Annotated[Optional[str], typer.Option(help="Only this actor or actor group.")] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
    limit: Annotated[Optional[int], typer.Option(min=0, help="At most this many rows (0: all).")] = None,
) -> None:
    """List the statements in the store with who holds them."""
    from .store import Store

    with Store(store, read_only=True) as db:
        rows = db.statements(actor=actor, limit=limit)
        if actor is not None and not rows:
            raise not_in_store("statements of", actor, db.holders())
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
        table = Table("actor", "group", "how", "date", "positions (stance, maximalism 0–3)", "text", show_lines=False)
        for row in rows:
            table.add_row(row["actor"], row["actor_group"], row["attribution"], row["date"] or "",
                          _positions_cell(row), row["text"] if len(row["text"]) < 140 else row["text"][:137] + "...")
        out.print(table)


def _positions_cell(row: dict) -> str:
    return "\n".join(f"{issue}: {row['stance'][issue]} {row['maximalism'][issue]:.1f}" for issue in row["issues"])


def _load_model(name: str | None, taxonomy: Path | None, device: str | None = None):
    from .classify import RedlineModel
    from .registry import resolve_model

    return RedlineModel.load(resolve_model(name), taxonomy=taxonomy, device=device)


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


@app.command("train")
def train_cli(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Model folder to write.")],
    config: Annotated[Optional[Path], typer.Option(
        "--config", "-c", help="Training config YAML (configs/train/); default with --from: that model's.")] = None,
    start_from: Annotated[Optional[str], typer.Option(
        "--from", help="Start the heads from this model (folder or name under models/); same issues.")] = None,
    corpus: Annotated[Optional[list[Path]], typer.Option(
        help="Corpus file or folder, repeatable; replaces the config's corpus list.")] = None,
    name: Annotated[Optional[str], typer.Option(help="Model name in its card (default: the config's).")] = None,
    mode: Annotated[Optional[str], typer.Option(help="Override the config's mode: heads or finetune.")] = None,
    device: Annotated[Optional[str], typer.Option(help="cpu, cuda, cuda:1 ... (default: cuda if present).")] = None,
    seed: Annotated[Optional[int], typer.Option(
        help="Override the config's seed (train a few seeds to see how much a figure moves by chance).")] = None,
) -> None:
    """Train a model from a corpus and write its folder with weights and card.json."""
    from .classify import CONFIG
    from .errors import ConfigError
    from .registry import resolve_model
    from .train import config_yaml, load_training_config, train

    start = resolve_model(start_from) if start_from else None
    if config is None and start is None:
        raise ConfigError("give a training config (--config configs/train/default.yaml) or a model to start "
                          "from (--from models/default), whose config is used")
    cfg = load_training_config(config or start / CONFIG, mode=mode, device=device, name=name, seed=seed,
                               start_from=str(start) if start else None,
                               corpus=tuple(str(c) for c in corpus) if corpus else None)
    model = train(cfg, log=lambda line: console.print(line, highlight=False))
    model.save(out_dir, config_yaml(cfg))
    for split, m in model.card["metrics"].items():
        if m:
            console.print(f"{split}: issues macro-F1 {m['issues']['macro_f1']:.3f}, stance macro-F1 "
                          f"{m['stance']['macro_f1']:.3f}, maximalism MAE {m['maximalism']['mae']:.3f}, "
                          f"within-1 {m['maximalism']['within_1']:.3f}", highlight=False)
    console.print(f"model {model.model_id} → {out_dir}", highlight=False)


@app.command("evaluate")
def evaluate_cli(
    data: Annotated[list[Path], typer.Option("--data", "-d", help="Annotated JSONL (ANNOTATION.md format).")],
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Model folder or name (default: the default model).")] = None,
    compare: Annotated[Optional[str], typer.Option(help="A second model to compare with (folder or name).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    resamples: Annotated[int, typer.Option(min=100, help="Bootstrap resamples for --compare.")] = 2000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed for --compare.")] = 0,
) -> None:
    """Score a model on annotated statements: issues, stance, maximalism; with --compare, the differences
    per label and a bootstrap 90 % interval on the macro-F1 differences."""
    from .classify import RedlineModel
    from .evaluate import compare_models, evaluate_model, read_jsonl
    from .registry import resolve_model

    rows = [row for path in data for row in read_jsonl(path)]
    first = resolve_model(model)
    if compare is None:
        result = evaluate_model(RedlineModel.load(first), rows)
        if as_json:
            out.print(json.dumps(result), soft_wrap=True, highlight=False, markup=False)
        else:
            _print_metrics({str(first): result})
        return
    second = resolve_model(compare)
    comparison = compare_models(RedlineModel.load(first), RedlineModel.load(second), rows, resamples, seed)
    if as_json:
        results = {str(first): comparison["first"], str(second): comparison["second"],
                   "difference": comparison["difference"]}
        out.print(json.dumps(results), soft_wrap=True, highlight=False, markup=False)
        return
    _print_metrics({str(first): comparison["first"], str(second): comparison["second"]})
    _print_difference(comparison, f"{first.name} − {second.name}")


def _print_difference(comparison: dict, label: str) -> None:
    difference = comparison["difference"]
    level = f"{comparison['level']:.0%}"
    for metric in ("issues_macro_f1", "stance_macro_f1"):
        d = difference[metric]
        out.print(f"{metric.replace('_', ' ')} difference ({label}): {d['observed']:+.3f}, {level} bootstrap "
                  f"interval [{d['low']:+.3f}, {d['high']:+.3f}] ({comparison['resamples']} resamples, seed "
                  f"{comparison['seed']})", highlight=False)
    table = Table("label", f"F1 difference ({label})")
    for field in ("issues_f1", "stance_f1"):
        for name, value in difference[field].items():
            table.add_row(f"{field.split('_')[0]} {name}", f"{value:+.3f}")
    out.print(table)


def _print_metrics(results: dict[str, dict]) -> None:
    names = list(results)
    table = Table("metric", *names)
    first = results[names[0]]
    metrics = [("issues micro-F1", lambda r: r["issues"]["micro_f1"]), ("issues macro-F1", lambda r: r["issues"]["macro_f1"]),
               ("stance macro-F1", lambda r: r["stance"]["macro_f1"]), ("stance F_avg", lambda r: r["stance"]["f_avg"]),
               ("maximalism MAE", lambda r: r["maximalism"]["mae"]),
               ("maximalism within-1", lambda r: r["maximalism"]["within_1"]),
               ("maximalism Spearman", lambda r: r["maximalism"]["spearman"]),
               ("issue ECE", lambda r: r["calibration"]["issue_ece"])]
    metrics += [(f"  F1 {label}", lambda r, label=label: r["issues"]["per_label"].get(label, {}).get("f1", 0.0))
                for label in first["issues"]["per_label"]]
    for name, get in metrics:
        table.add_row(name, *(f"{get(results[n]):.3f}" for n in names))
    out.print(f"{first['n']} statements")
    out.print(table)


@corpus_app.command("check")
def corpus_check_cli(paths: Annotated[list[Path], typer.Argument(help="JSONL files or folders.")],
                     taxonomy: TaxonomyOption = DEFAULT_TAXONOMY) -> None:
    """Report every schema error with file and line; exit 1 if there is any."""
    from .config import load_taxonomy
    from .corpus import check_corpus, cross_split_duplicates

    tax = load_taxonomy(taxonomy)
    rows, errors = check_corpus(paths, tax)
    for error in errors:
        out.print(error, highlight=False, markup=False, soft_wrap=True)
    if errors:
        console.print(f"[red]{len(errors)} error(s)[/red] in {len(rows)} rows", highlight=False)
        raise typer.Exit(1)
    data = [r.data for r in rows]
    if all(r.get("split") for r in data):
        share, pairs = cross_split_duplicates(data)
        console.print(f"near-duplicates across splits: {share:.2%} of dev+test ({len(pairs)} pairs)", highlight=False)
        if share > 0.01:
            console.print("[red]more than 1 % of dev+test rows have a near-duplicate in another split[/red]")
            raise typer.Exit(1)
    console.print(f"[green]ok[/green]: {len(rows)} rows, no errors (taxonomy {tax.name})", highlight=False)


@corpus_app.command("stats")
def corpus_stats_cli(paths: Annotated[list[Path], typer.Argument(help="JSONL files or folders.")],
                     taxonomy: TaxonomyOption = DEFAULT_TAXONOMY,
                     top_actors: Annotated[int, typer.Option(min=1, help="Actors to list.")] = 40) -> None:
    """Counts per issue × stance × maximalism, per actor, per year and per split."""
    from .config import load_taxonomy
    from .corpus import corpus_stats, load_rows

    tax = load_taxonomy(taxonomy)
    stats = corpus_stats(load_rows(paths, tax), tax)
    n = stats["rows"]
    out.print(f"{n} statements; no issue {stats['negatives']} ({stats['negatives'] / n:.0%}); "
              f"two or more issues {stats['multi_issue']} ({stats['multi_issue'] / n:.0%}); "
              f"{len(stats['actors'])} actors", highlight=False)
    table = Table("issue", "total", *STANCES, *(f"max {m}" for m in MAXIMALISM_LEVELS), title="issue × stance × maximalism")
    for issue, counts in stats["issues"].items():
        table.add_row(issue, str(sum(counts.values())),
                      *(str(sum(v for (s, _), v in counts.items() if s == st)) for st in STANCES),
                      *(str(sum(v for (_, m), v in counts.items() if m == lv)) for lv in MAXIMALISM_LEVELS))
    out.print(table)
    for key in ("splits", "years", "groups", "source_types", "forms"):
        out.print(f"{key}: " + ", ".join(f"{k} {v}" for k, v in sorted(stats[key].items())), highlight=False)
    out.print("actors: " + ", ".join(f"{k} {v}" for k, v in stats["actors"].most_common(top_actors)), highlight=False)


@corpus_app.command("split")
def corpus_split_cli(paths: Annotated[list[Path], typer.Argument(help="JSONL files or folders.")]) -> None:
    """Assign train/dev/test to every row (rewrites the files); near-duplicates share a split."""
    from .corpus import write_splits

    counts = write_splits(paths)
    console.print(", ".join(f"{k} {v}" for k, v in sorted(counts.items())), highlight=False)


def main() -> None:
    """Entry point: user errors and files that cannot be read or written print one line (the traceback only with
    --debug) and exit 2."""
    try:
        code = app(standalone_mode=False)  # a command's typer.Exit(n) comes back as n
    except (RedlineError, OSError) as e:  # OSError: a file to read or write that the system refused
        if _state["debug"]:
            raise
        console.print(f"[red]error:[/red] {_one_line(e)}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        console.print("aborted")
        sys.exit(130)
    except _click_errors() as e:  # usage errors: unknown command or option, bad value
        e.show()
        sys.exit(e.exit_code)
    if isinstance(code, int) and code:
        sys.exit(code)


def _one_line(error: Exception) -> str:
    """What a user error says; for a file the system refused, its path and the reason."""
    if isinstance(error, OSError) and error.strerror:
        return f"{error.filename}: {error.strerror}" if error.filename else error.strerror
    return str(error)


def _click_errors() -> tuple[type[Exception], ...]:
    """Click's error classes: recent typer releases carry their own copy of click beside the installed one."""
    import click

    kinds: list[type[Exception]] = [click.ClickException]
    try:
        from typer._click.exceptions import ClickException as vendored
    except ImportError:
        return tuple(kinds)
    return (*kinds, vendored)


from . import (  # noqa: E402,F401  (each registers its commands)
    cli_annotate,  # annotate export/import, models list/promote
    cli_terms,  # terms, space
    cli_timelines,  # timeline, shifts, export
)

if __name__ == "__main__":
    # `python -m pipeline.cli` runs this file as __main__; the package module holds every command
    from pipeline.cli import main as package_main

    package_main()
