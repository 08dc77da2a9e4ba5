"""The annotation loop's commands: `redline annotate export|fit-doubt|import` and `redline models list|promote`.

Registered on `pipeline.cli.app` when `pipeline.cli` imports this module.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from .cli import app, console, out
from .config import DEFAULT_TAXONOMY
from .registry import MODELS

annotate_app = typer.Typer(no_args_is_help=True, help="Pick statements to annotate and bring the answers back.")
models_app = typer.Typer(no_args_is_help=True, help="List models and choose the default one.")
app.add_typer(annotate_app, name="annotate")
app.add_typer(models_app, name="models")

ModelsDirOption = Annotated[Path, typer.Option("--models-dir", help="Folder of model folders.")]


class Strategy(str, Enum):
    uncertainty = "uncertainty"
    diverse = "diverse"
    random = "random"


class TaskFormat(str, Enum):
    prodigy = "prodigy"
    labelstudio = "labelstudio"
    jsonl = "jsonl"


@annotate_app.command("export")
def export_cli(
    store: Annotated[Path, typer.Option("--store", "-s", help="DuckDB store file.")],
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Task file to write.")],
    model: Annotated[Optional[str], typer.Option(help="Model folder or name (default: the default model).")] = None,
    n: Annotated[int, typer.Option("--n", min=1, help="How many statements.")] = 200,
    strategy: Annotated[Strategy, typer.Option(help="Which statements first.")] = Strategy.uncertainty,
    fmt: Annotated[TaskFormat, typer.Option("--format", "-f", help="Task format.")] = TaskFormat.prodigy,
    corpus: Annotated[Optional[list[Path]], typer.Option(
        help="Corpus files or folders whose statements to skip (default: the model's training corpus).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of random and diverse picks.")] = 0,
) -> None:
    """Write N statements from the store as annotation tasks, pre-annotated by the model."""
    from .annotate import export_tasks
    from .classify import RedlineModel
    from .registry import resolve_model
    from .store import Store
    from .train import _project_path

    classifier = RedlineModel.load(resolve_model(model))
    if corpus is None:
        corpus = [p for p in map(_project_path, classifier.card["corpus"]["paths"]) if p.exists()]
    with Store(store, create=False) as db:  # statements to pick from: an empty new store would hold none
        summary = export_tasks(db, classifier, n, strategy.value, fmt.value, out_path, corpus, seed)
    doubt = "" if strategy is Strategy.random else \
        (", doubt learned from fold errors" if classifier.learned_doubt is not None
         else ", doubt from the model's probabilities (`redline annotate fit-doubt` learns a sharper one)")
    console.print(f"{summary.tasks} tasks by {strategy.value} from {summary.pool} statements "
                  f"({summary.in_corpus} already in the corpus, {summary.already_exported} exported before), "
                  f"pre-annotated by {classifier.model_id}{doubt}", highlight=False)
    for path in summary.paths:
        console.print(f"→ {path}", highlight=False)


@annotate_app.command("fit-doubt")
def fit_doubt_cli(
    model: Annotated[Optional[str], typer.Option(help="Model folder or name (default: the default model).")] = None,
    folds: Annotated[int, typer.Option(min=2, help="Folds of the training split, a model trained per fold.")] = 5,
    force: Annotated[bool, typer.Option("--force", help="Keep the learned doubt even where the formula ranked "
                                                        "the held-out folds as well or better.")] = False,
) -> None:
    """Learn where the model's readings go wrong, for `annotate export --strategy uncertainty`: train a model
    per fold of its training split (its own config.yaml), read each fold with the model that never saw it, and
    fit the doubt on those errors. It is kept (doubt.safetensors in the model folder) if, fitted fold by fold, it
    ranks the held-out folds better than the formula; predictions do not change."""
    from .doubt import fit_doubt
    from .registry import resolve_model

    path = resolve_model(model)
    fitted = fit_doubt(path, folds, log=lambda line: console.print(line, highlight=False), force=force)
    check = fitted["check"]
    console.print(f"doubt fitted for {fitted['model_id']} on {fitted['rows']} out-of-fold readings "
                  f"({fitted['wrong']} wrong, {fitted['error_rate']:.1%}); on held-out folds the most doubtful "
                  f"{check['top']} hold {check['learned']:.1%} errors by it, {check['formula']:.1%} by the formula",
                  highlight=False)
    console.print(f"kept → {path}" if fitted["kept"] else
                  "not kept: `annotate export` ranks by the formula (--force keeps the learned doubt)",
                  highlight=False)


@annotate_app.command("import")
def import_cli(
    path: Annotated[Path, typer.Argument(help="Prodigy db-out JSONL, Label Studio JSON export, or corrected JSONL.")],
    into: Annotated[Path, typer.Option(help="Corpus file to append to (corpora/statements/NAME.jsonl).")],
    taxonomy: Annotated[Path, typer.Option("--taxonomy", "-t", help="Issue taxonomy YAML.")] = DEFAULT_TAXONOMY,
    fmt: Annotated[Optional[TaskFormat], typer.Option("--format", "-f", help="Default: from the content.")] = None,
    annotator: Annotated[Optional[str], typer.Option(help="Who answered, where the file does not say.")] = None,
) -> None:
    """Check the answers against the taxonomy and append the settled ones to a corpus file."""
    from .annotate_import import import_annotations
    from .config import load_taxonomy

    result = import_annotations(path, into, load_taxonomy(taxonomy), fmt.value if fmt else None, annotator)
    console.print(f"{len(result.added)} statements added to {result.into} ({result.already} already there, "
                  f"{result.rejected} rejected, {result.ignored} ignored, {len(result.conflicts)} conflicts)",
                  highlight=False)
    for conflict in result.conflicts:
        out.print(f"conflict: line {conflict['line']}, annotators {', '.join(conflict['annotators'])} disagree: "
                  f"{conflict['text']}", highlight=False, markup=False, soft_wrap=True)
    if result.agreement:
        table = Table("field", "Cohen's kappa", "raw agreement", "items", "annotator pairs",
                      title="agreement between annotators")
        for name, figures in result.agreement.items():
            kappa = "n/a" if figures["kappa"] is None else f"{figures['kappa']:.3f}"
            table.add_row(name, kappa, f"{figures['agreement']:.3f}", str(figures["items"]), str(figures["pairs"]))
        out.print(table)


@models_app.command("list")
def models_list_cli(models_dir: ModelsDirOption = MODELS,
                    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per model.")] = False
                    ) -> None:
    """The model folders with their card's figures; * marks the default."""
    from .registry import list_models

    models = list_models(models_dir)
    if as_json:
        for model in models:
            out.print(json.dumps(model), soft_wrap=True, highlight=False, markup=False)
        return
    table = Table("", "name", "model id", "dev issues", "dev stance", "dev MAE", "test issues", "test stance",
                  "from", caption="figures: issues and stance macro-F1, maximalism MAE, from each card")
    for m in models:
        table.add_row("*" if m["default"] else "", m["name"], m["model_id"],
                      *(_cell(m[k]) for k in ("dev_issues_macro_f1", "dev_stance_macro_f1", "dev_maximalism_mae",
                                              "test_issues_macro_f1", "test_stance_macro_f1")),
                      Path(m["start_from"]).name if m["start_from"] else "")
    out.print(table)


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


@models_app.command("promote")
def models_promote_cli(
    name: Annotated[str, typer.Argument(help="Model folder name under the models folder.")],
    models_dir: ModelsDirOption = MODELS,
    force: Annotated[bool, typer.Option("--force", help="Promote even if it scores lower.")] = False,
    data: Annotated[Optional[list[Path]], typer.Option(
        help="Annotated JSONL to compare on (default: the candidate's dev split).")] = None,
) -> None:
    """Make NAME the default model if it is not worse than the current one on the same dev rows."""
    from .registry import promote

    record = promote(name, models_dir, force=force, data=data)
    for role in ("candidate", "current"):
        figures = record[role]
        if figures:
            console.print(f"{role}: score {figures['score']:.4f} (issues macro-F1 {figures['issues_macro_f1']:.3f}, "
                          f"stance macro-F1 {figures['stance_macro_f1']:.3f}, maximalism MAE "
                          f"{figures['maximalism_mae']:.3f})", highlight=False)
    console.print(f"{record['promoted']} is the default model{' (forced)' if record['forced'] else ''}, "
                  f"replacing {record['replaced']}; compared on {record['compared_on']} ({record['rows']} rows)",
                  highlight=False)
