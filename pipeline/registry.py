"""Models as a registry: which folder under `models/` is the default, listing models, promoting one.

The default model is `models/default/` unless `models/registry.json` names another folder
(`{"default": "mine"}`); `redline models promote` writes that pointer and appends the decision to
`models/PROMOTIONS.jsonl`, so a checkout without a registry behaves as before. Promotion compares the
candidate and the current default on the same dev rows (the candidate's dev split) and refuses a candidate
that scores lower, unless forced. `start_heads` reads a model's head weights to start a new training from.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .classify import CARD, HEADS
from .config import ROOT
from .errors import ModelError

MODELS = ROOT / "models"
REGISTRY = "registry.json"
PROMOTIONS = "PROMOTIONS.jsonl"
DEFAULT_NAME = "default"


def default_model_path(models_dir: str | Path = MODELS) -> Path:
    """The default model's folder: the registry's pointer when there is one, else `models/default`."""
    path = _pointed(Path(models_dir))
    if (Path(models_dir) / REGISTRY).exists() and not (path / CARD).exists():
        raise ModelError(f"{path} is not a model folder, but {Path(models_dir) / REGISTRY} names it as the default "
                         "model; promote another one with `redline models promote NAME`")
    return path


def _pointed(models_dir: Path) -> Path:
    """The folder the registry names (whether or not it holds a model), or `default` without a registry."""
    registry = models_dir / REGISTRY
    if not registry.exists():
        return models_dir / DEFAULT_NAME
    try:
        return models_dir / json.loads(registry.read_text(encoding="utf-8"))["default"]
    except (ValueError, KeyError, TypeError) as e:
        raise ModelError(f"{registry}: expected {{\"default\": \"FOLDER\"}}: {e}; fix it or delete it to fall "
                         f"back to {models_dir / DEFAULT_NAME}") from e


def resolve_model(name_or_path: str | Path | None, models_dir: str | Path = MODELS) -> Path:
    """A model folder from a path, a folder name under `models_dir`, or None for the default model."""
    if name_or_path is None:
        return default_model_path(models_dir)
    path = Path(name_or_path)
    if (path / CARD).exists():
        return path
    named = Path(models_dir) / str(name_or_path)
    if (named / CARD).exists():
        return named
    known = [m["name"] for m in list_models(models_dir)]
    raise ModelError(f"no model '{name_or_path}': neither a folder with {CARD} nor one of {known} in {models_dir}")


def _card(path: Path) -> dict:
    try:
        return json.loads((path / CARD).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelError(f"{path / CARD}: cannot read the model card: {e}") from e


def list_models(models_dir: str | Path = MODELS) -> list[dict]:
    """Every model folder under `models_dir` with its card's figures, the default marked."""
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        return []
    default = _pointed(models_dir).resolve()
    models = []
    for path in sorted(p for p in models_dir.iterdir() if (p / CARD).exists()):
        card = _card(path)
        metrics = card.get("metrics", {})
        models.append({
            "name": path.name, "path": str(path), "default": path.resolve() == default,
            "model_id": f"{card['name']}@{card['fingerprint']}", "mode": card["mode"],
            "taxonomy": card.get("taxonomy", ""), "issues": len(card["labels"]["issues"]),
            "corpus_sizes": card["corpus"]["sizes"], "start_from": (card.get("start_from") or {}).get("path"),
            **{f"{split}_{name}": _figure(metrics.get(split), name) for split in ("dev", "test")
               for name in ("issues_macro_f1", "stance_macro_f1", "maximalism_mae")}})
    return models


def _figure(metrics: dict | None, name: str) -> float | None:
    if not metrics:
        return None
    field, figure = {"issues_macro_f1": ("issues", "macro_f1"), "stance_macro_f1": ("stance", "macro_f1"),
                     "maximalism_mae": ("maximalism", "mae")}[name]
    return metrics[field][figure]


# --- promotion ----------------------------------------------------------------------------------


def promotion_rows(candidate: Path, data: list[Path] | None = None) -> tuple[list[dict], str]:
    """The rows both models are compared on, and what they are: `data` files whole, or the candidate's dev split."""
    from .config import load_taxonomy
    from .corpus import load_rows
    from .evaluate import read_jsonl
    from .train import _project_path

    if data:
        return [row for path in data for row in read_jsonl(path)], ", ".join(map(str, data))
    card = _card(candidate)
    taxonomy = load_taxonomy(_project_path(card["config"]["taxonomy"]))
    rows = load_rows([_project_path(p) for p in card["corpus"]["paths"]], taxonomy)
    return [r for r in rows if r["split"] == "dev"], f"dev split of {', '.join(card['corpus']['paths'])}"


def promote(name: str | Path, models_dir: str | Path = MODELS, force: bool = False,
            data: list[Path] | None = None) -> dict:
    """Make `name` the default model if it scores at least as well as the current one on the same dev rows
    (or `force`); writes the registry pointer, appends the record to PROMOTIONS.jsonl and returns it."""
    models_dir = Path(models_dir)
    candidate = resolve_model(name, models_dir)
    if candidate.resolve().parent != models_dir.resolve():
        raise ModelError(f"{candidate} is not in {models_dir}; copy the folder there first (the registry "
                         "points at a folder name under the models folder)")
    current = _pointed(models_dir)
    rows, what = promotion_rows(candidate, data)
    if not rows:
        raise ModelError(f"no rows to compare the models on ({what}); pass annotated data with --data")
    has_current = (current / CARD).exists()  # a models folder may have no default yet
    scores = {"candidate": _dev_figures(candidate, rows, what, force),
              "current": _dev_figures(current, rows, what, force) if has_current else None}
    unjudged = scores["candidate"] is None or (has_current and scores["current"] is None)  # only with force
    worse = has_current and not unjudged and scores["candidate"]["score"] < scores["current"]["score"]
    if worse and not force:
        raise ModelError(f"{candidate.name} scores {scores['candidate']['score']:.4f} on {what} ({len(rows)} rows), "
                         f"below the current default {current.name} ({scores['current']['score']:.4f}); "
                         "it stays as it is (use --force to promote anyway)")
    record = {"promoted": candidate.name, "model_id": _model_id(candidate), "replaced": current.name,
              "replaced_model_id": _model_id(current) if has_current else None,
              "at": dt.datetime.now().isoformat(timespec="seconds"), "forced": worse or unjudged,
              "compared_on": what, "rows": len(rows), **scores}
    _write_promotion(models_dir, candidate, record)
    return record


def _dev_figures(path: Path, rows: list[dict], what: str, force: bool) -> dict | None:
    """The model's promotion score and figures on `rows`; None (with `force`) when it cannot read them."""
    from .classify import RedlineModel
    from .evaluate import evaluate_model
    from .train import _selection_score

    try:
        metrics = evaluate_model(RedlineModel.load(path), rows)
    except ModelError as e:
        if not force:
            raise ModelError(f"cannot compare {path} on {what}: {e}; promote with --force to skip it") from e
        return None
    return {"score": round(_selection_score(metrics), 4), "issues_macro_f1": metrics["issues"]["macro_f1"],
            "stance_macro_f1": metrics["stance"]["macro_f1"], "maximalism_mae": metrics["maximalism"]["mae"]}


def _model_id(path: Path) -> str:
    card = _card(path)
    return f"{card['name']}@{card['fingerprint']}"


def _write_promotion(models_dir: Path, candidate: Path, record: dict) -> None:
    """The registry pointer, the log line, and the promotion in the candidate's card."""
    (models_dir / REGISTRY).write_text(json.dumps({"default": candidate.name}, indent=2) + "\n", encoding="utf-8")
    with open(models_dir / PROMOTIONS, "a", encoding="utf-8") as log:
        log.write(json.dumps(record, ensure_ascii=False) + "\n")
    card = _card(candidate)
    card.setdefault("promotions", []).append({k: record[k] for k in ("at", "replaced", "forced", "compared_on")})
    (candidate / CARD).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def promotions(models_dir: str | Path = MODELS) -> list[dict]:
    path = Path(models_dir) / PROMOTIONS
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _members(state: dict) -> list[dict]:
    """The per-member state dicts of saved heads: one for a single set, one per member for an ensemble."""
    if not any(k.startswith("members.") for k in state):
        return [state]
    grouped: dict[int, dict] = {}
    for key, value in state.items():
        _, n, rest = key.split(".", 2)
        grouped.setdefault(int(n), {})[rest] = value
    return [grouped[n] for n in sorted(grouped)]


# --- starting a training from a model -----------------------------------------------------------


@dataclass(frozen=True)
class StartingHeads:
    """Head weights of an existing model to start training from, and the input space they expect."""

    path: str
    model_id: str
    groups: tuple[str, ...]
    state: dict

    def load_into(self, heads) -> None:
        """Load the weights into `heads`. Between one set of heads and an ensemble, or ensembles of different
        sizes, member n starts from the starting model's member n modulo its size (one set counts as one)."""
        members = getattr(heads, "members", None)
        sources = _members(self.state)
        try:
            if members is None and len(sources) == 1:
                heads.load_state_dict(sources[0])
            elif members is None:
                raise RuntimeError(f"an ensemble of {len(sources)} heads cannot start a single set of heads")
            else:
                for n, member in enumerate(members):
                    member.load_state_dict(sources[n % len(sources)])
        except RuntimeError as e:
            raise ModelError(f"{self.path}: its head weights do not fit this version's heads ({e}); "
                             "train from scratch (no --from)") from e


def start_heads(path: str | Path, labels: tuple[str, ...], encoder: str, hidden: int,
                layers: Sequence[int] = ()) -> StartingHeads:
    """The heads of the model at `path`, refused unless its issues, encoder (and the layers pooled from it) and
    hidden size match the training."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = resolve_model(path)
    card = _card(path)
    problems = []
    if tuple(card["labels"]["issues"]) != tuple(labels):
        problems.append(f"its issues {card['labels']['issues']} differ from the training's {list(labels)}")
    if card["encoder"]["name"] != encoder:
        problems.append(f"its encoder '{card['encoder']['name']}' differs from '{encoder}'")
    if card["heads"]["hidden"] != hidden:
        problems.append(f"its hidden size {card['heads']['hidden']} differs from {hidden}")
    if list(card["encoder"].get("layers", [])) != list(layers):
        problems.append(f"its maximalism head reads encoder layers {card['encoder'].get('layers', [])}, "
                        f"not {list(layers)}")
    if problems:
        raise ModelError(f"cannot start from {path}: {'; '.join(problems)}; train from scratch (no --from) or "
                         "use the taxonomy, encoder (and layers) and hidden size it was trained with")
    try:
        state = load_file(str(path / HEADS))
    except (OSError, SafetensorError) as e:
        raise ModelError(f"{path / HEADS}: cannot read the head weights to start from: {e}") from e
    return StartingHeads(str(path), f"{card['name']}@{card['fingerprint']}", tuple(card["labels"]["groups"]), state)
