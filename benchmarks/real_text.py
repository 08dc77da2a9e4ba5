"""Real text: a Redline model on real statements and documents (real-dev), beside the corpus test split and the
samples, with three peers scored on the same real statements.

Run: .venv/bin/python benchmarks/real_text.py [--model DIR] [--write]   (--write updates benchmarks/RESULTS.md)
Real-dev (../shared/datasets/real-dev/: statements.jsonl, documents/ and documents-gold.jsonl) is read at run
time, never copied, and the run stops with a message when it is absent. Rows whose `note` holds "doubt:" are
scored with and without. Peers: zero-shot similarity to the taxonomy's descriptions, TF-IDF + logistic regression
trained on the corpus, and logistic regression on frozen MiniLM embeddings cross-validated *within* real-dev (the
bar a written corpus must clear; a comparator only, nothing fitted on real-dev is saved).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._embedding_peers import ZeroShotSimilarityPeer, cross_validated_logistic  # noqa: E402
from benchmarks._peers import Predicted, TfidfLogisticPeer, gold_pairs, score  # noqa: E402
from benchmarks._results import machine_line, write_section  # noqa: E402
from benchmarks.attribution import SETS as DOCUMENT_SETS  # noqa: E402
from benchmarks.attribution import matched_pairs, score_set  # noqa: E402
from pipeline.attribute import INTERVIEWER_CUE, ActorResolver  # noqa: E402
from pipeline.config import (  # noqa: E402
    DEFAULT_MODEL,
    DEFAULT_TAXONOMY,
    MAXIMALISM_LEVELS,
    STANCES,
    load_actors,
    load_taxonomy,
)
from pipeline.corpus import load_rows  # noqa: E402
from pipeline.evaluate import evaluate_model, read_jsonl  # noqa: E402

REAL_DEV = ROOT.parent / "shared" / "datasets" / "real-dev"
STATEMENTS = REAL_DEV / "statements.jsonl"
CORPUS = ROOT / "corpora" / "statements"
SAMPLES_GOLD = ROOT / "corpora" / "samples" / "gold.jsonl"
DOUBT = "doubt:"


def is_doubt(row: dict) -> bool:
    """A row whose annotator noted that a second reading is defensible."""
    return DOUBT in (row.get("note") or "").lower()


# --- one model's predictions, row by row --------------------------------------------------------


def predict_rows(model, rows: Sequence[dict], embeddings=None) -> list[dict]:
    """Per row, what `evaluate_model` scores: the chosen issues, each issue's probability, and stance and expected
    maximalism at every issue the model scores (read at the gold issues for the metrics)."""
    scores = model.score([r["text"] for r in rows], [r.get("actor_group") for r in rows], embeddings)
    chosen = model.decide(scores)
    levels = np.asarray(MAXIMALISM_LEVELS, dtype=float)
    out = []
    for i in range(len(rows)):
        out.append({"issues": {scores.issues[j] for j in np.flatnonzero(chosen[i])},
                    "probs": {issue: float(scores.issue_probs[i, j]) for j, issue in enumerate(scores.issues)},
                    "stance": {issue: STANCES[int(scores.stance_probs[i, j].argmax())]
                               for j, issue in enumerate(scores.issues)},
                    "maximalism": {issue: float(scores.maximalism_probs[i, j] @ levels)
                                   for j, issue in enumerate(scores.issues)}})
    return out


def as_predicted(rows: Sequence[dict], predictions: Sequence[dict]) -> Predicted:
    """Row predictions in the peers' shape (stance and maximalism per gold pair), for `_peers.score`."""
    by_row = {id(r): p for r, p in zip(rows, predictions)}
    pairs = gold_pairs(rows)
    return Predicted([p["issues"] for p in predictions], [by_row[id(r)]["stance"][i] for r, i in pairs],
                     [by_row[id(r)]["maximalism"][i] for r, i in pairs])


def subset(rows: Sequence[dict], predicted: Predicted, keep: Sequence[bool]) -> tuple[list[dict], Predicted]:
    """The rows kept, and the part of a peer's output that belongs to them."""
    pair_keep = [k for row, k in zip(rows, keep) for _ in row["issues"]]
    return ([r for r, k in zip(rows, keep) if k],
            Predicted([p for p, k in zip(predicted.issues, keep) if k],
                      [s for s, k in zip(predicted.stance, pair_keep) if k],
                      [m for m, k in zip(predicted.maximalism, pair_keep) if k]))


# --- documents: gold units, and what segmentation and attribution made of them ------------------


def end_to_end_rows(pairs: Sequence[tuple[dict, object]]) -> tuple[list[dict], list[bool]]:
    """Each gold unit as the pipeline sees it: the text and holder group of the statement matched to it (the
    unit itself where none overlaps), and whether the engine skips it as an interviewer's question."""
    rows, skipped = [], []
    for unit, statement in pairs:
        row = dict(unit)
        if statement is not None:
            row.update(text=statement.text, actor=statement.actor, actor_group=statement.actor_group)
        rows.append(row)
        skipped.append(statement is not None and statement.cue.startswith(INTERVIEWER_CUE))
    return rows, skipped


def end_to_end_predictions(model, pairs, embeddings=None) -> tuple[list[dict], list[dict]]:
    """Rows and predictions for documents run through segment → attribute → classify, as the engine does."""
    rows, skipped = end_to_end_rows(pairs)
    predictions = predict_rows(model, rows, embeddings)
    for prediction, skip in zip(predictions, skipped):
        if skip:
            prediction["issues"] = set()
    return rows, predictions


# --- the run ------------------------------------------------------------------------------------


class Embedder:
    """Frozen MiniLM embeddings, computed once per text list; shared with the model when its encoder is frozen."""

    def __init__(self, model):
        from pipeline.encoder import Encoder

        frozen = model.encoder.name == "minilm" and not model.encoder.lora_rank and model.encoder.max_length == 128
        self.encoder = model.encoder if frozen else Encoder("minilm")
        self.for_model = frozen

    def __call__(self, texts: Sequence[str]):
        return self.encoder.encode(list(texts))


def peer_results(inputs: Inputs, x: dict, embedder: Embedder, log) -> list:
    """(name, Predicted on all real-dev rows, what it was trained on) for each peer."""
    taxonomy, splits, real = inputs.taxonomy, inputs.splits, inputs.real
    started = time.perf_counter()
    # the peers read the last layer's vectors (the model's encoder may pool earlier layers after them)
    x = {key: embedder.encoder.last_layer(vectors) for key, vectors in x.items()}
    zero = ZeroShotSimilarityPeer(taxonomy, embedder.encoder).fit(splits["train"], splits["dev"], x["dev"].numpy())
    log(f"zero-shot: threshold {zero.threshold_:.2f} on the corpus dev split ({time.perf_counter() - started:.0f} s)")
    started = time.perf_counter()
    tfidf = TfidfLogisticPeer(taxonomy).fit(splits["train"], splits["dev"])
    log(f"TF-IDF + logistic regression trained on the corpus ({time.perf_counter() - started:.0f} s)")
    started = time.perf_counter()
    within = cross_validated_logistic(real, x["real"].numpy(), list(taxonomy.ids), list(inputs.model.groups))
    log(f"frozen MiniLM + logistic regression, 5-fold within real-dev ({time.perf_counter() - started:.0f} s)")
    return [(f"{zero.name}, threshold {zero.threshold_:.2f}", zero.predict(real, x["real"].numpy()),
             "corpus dev for the threshold; stance and maximalism: per-issue majority of corpus train"),
            (tfidf.name, tfidf.predict(real), "corpus train, C tuned on corpus dev"),
            ("frozen MiniLM + logistic regression (the bar)", within,
             "5-fold cross-validation within real-dev; C by inner 3-fold CV")]


def _brief(m: dict) -> str:
    return (f"issues macro-F1 {m['issues']['macro_f1']:.3f}, stance macro-F1 {m['stance']['macro_f1']:.3f}, "
            f"maximalism MAE {m['maximalism']['mae']:.3f}, within-1 {m['maximalism']['within_1']:.3f}")


def _cells(m: dict) -> str:
    return (f"{m['issues']['macro_f1']:.3f} | {m['stance']['macro_f1']:.3f} | {m['maximalism']['mae']:.3f} | "
            f"{m['maximalism']['within_1']:.3f}")


def sets_table(results: dict[str, dict]) -> list[str]:
    lines = ["| set | statements | issues micro-F1 | issues macro-F1 | stance macro-F1 (pairs) | maximalism MAE | "
             "within-1 | issue ECE |", "|---|---|---|---|---|---|---|---|"]
    for name, m in results.items():
        ece = f"{m['calibration']['issue_ece']:.3f}" if "calibration" in m else "–"
        lines.append(f"| {name} | {m['n']} | {m['issues']['micro_f1']:.3f} | "
                     f"{m['issues']['macro_f1']:.3f} | {m['stance']['macro_f1']:.3f} ({m['stance']['n']}) | "
                     f"{m['maximalism']['mae']:.3f} | {m['maximalism']['within_1']:.3f} | {ece} |")
    return lines


def per_label_table(columns: dict[str, dict]) -> list[str]:
    """Issue F1 (support) per label, one column per set (short name → metrics); the first set's P / R beside."""
    lines = ["| issue | " + " | ".join(f"{c}: F1 (n)" for c in columns) + " | real-dev all: precision / recall |",
             "|---|" + "---|" * (len(columns) + 1)]
    first = next(iter(columns.values()))["issues"]["per_label"]
    for label in first:
        cells = []
        for metrics in columns.values():
            v = metrics["issues"]["per_label"][label]
            cells.append(f"{v['f1']:.2f} ({v['support']})" if v["support"] else "– (0)")
        lines.append(f"| {label} | {' | '.join(cells)} | {first[label]['precision']:.2f} / {first[label]['recall']:.2f} |")
    return lines


def peers_table(ours: tuple[str, dict, dict], peers: list, real: list[dict], labels: Sequence[str]) -> list[str]:
    keep = [not is_doubt(r) for r in real]
    lines = ["| system | trained on | issues macro-F1 | stance macro-F1 | maximalism MAE | within-1 | "
             "issues macro-F1 | stance macro-F1 | maximalism MAE | within-1 |",
             "|---|---|---|---|---|---|---|---|---|---|",
             f"| {ours[0]} | corpus (committed model) | {_cells(ours[1])} | {_cells(ours[2])} |"]
    for name, predicted, note in peers:
        clear_rows, clear = subset(real, predicted, keep)
        lines.append(f"| {name} | {note} | {_cells(score(real, predicted, labels))} | "
                     f"{_cells(score(clear_rows, clear, labels))} |")
    return lines


def attribution_table(resolver: ActorResolver, pairs_by_set: dict) -> list[str]:
    lines = ["| set | units | actor right | group right | by attribution kind (actor right) |", "|---|---|---|---|---|"]
    for name, pairs in pairs_by_set.items():
        documents_dir, gold_path = DOCUMENT_SETS[name]
        scores, _ = score_set(documents_dir, gold_path, resolver, pairs)
        kinds = ", ".join(f"{k} {v['actor']:.0%} (n={v['n']})" for k, v in scores.items() if k != "all")
        overall = scores["all"]
        lines.append(f"| {name} | {overall['n']} | {overall['actor']:.1%} | {overall['group']:.1%} | {kinds} |")
    return lines


SET_NAMES = {"all": "real-dev statements, all rows", "clear": "real-dev statements, without doubt rows",
             "doubt": "real-dev statements, doubt rows only", "test": "corpus test split",
             "samples": "samples (corpora/samples/gold.jsonl)", "units": "real-dev document units, gold holder",
             "e2e": "real-dev document units, segmented and attributed"}


@dataclass
class Inputs:
    """Everything one run reads: the model, the corpus splits, real-dev, the samples, the documents' units."""

    model: object
    taxonomy: object
    splits: dict[str, list[dict]]
    real: list[dict]
    samples: list[dict]
    resolver: ActorResolver
    pairs_by_set: dict[str, list]

    @property
    def doubt(self) -> np.ndarray:
        return np.array([is_doubt(r) for r in self.real])


def read_inputs(model_path: Path, log) -> Inputs | None:
    import pipeline

    if not STATEMENTS.exists():
        log(f"real-dev is not there ({STATEMENTS}); nothing to measure, skipped")
        return None
    taxonomy = load_taxonomy(DEFAULT_TAXONOMY)
    corpus = load_rows([CORPUS], taxonomy)
    resolver = ActorResolver(load_actors())
    pairs_by_set = {name: matched_pairs(documents_dir, gold_path, resolver)
                    for name, (documents_dir, gold_path) in DOCUMENT_SETS.items() if gold_path.exists()}
    log(f"segmented and attributed the documents of {', '.join(pairs_by_set)}")
    return Inputs(pipeline.load(model_path), taxonomy,
                  {s: [r for r in corpus if r["split"] == s] for s in ("train", "dev", "test")},
                  read_jsonl(STATEMENTS), read_jsonl(SAMPLES_GOLD), resolver, pairs_by_set)


def model_results(inputs: Inputs, x: dict, for_model: bool, log) -> dict[str, dict]:
    """The model on every set, keyed by SET_NAMES' short names; `x` are the frozen embeddings of each set."""
    doubt = inputs.doubt

    def own(key: str, keep: np.ndarray | None = None):
        """The embeddings to hand the model (None: it encodes itself, its encoder is not the frozen one)."""
        if not for_model:
            return None
        return x[key] if keep is None else x[key][torch.from_numpy(keep)]

    units = [u for u, _ in inputs.pairs_by_set["real-dev"]]
    sets = {"all": (inputs.real, own("real")),
            "clear": ([r for r, d in zip(inputs.real, doubt) if not d], own("real", ~doubt)),
            "doubt": ([r for r, d in zip(inputs.real, doubt) if d], own("real", doubt)),
            "test": (inputs.splits["test"], own("test")), "samples": (inputs.samples, own("samples")),
            "units": (units, own("units"))}
    results = {}
    for key, (rows, embeddings) in sets.items():
        results[key] = evaluate_model(inputs.model, rows, embeddings)
        log(f"Redline on {SET_NAMES[key]}: {_brief(results[key])}")
    rows, predictions = end_to_end_predictions(inputs.model, inputs.pairs_by_set["real-dev"], own("e2e"))
    results["e2e"] = score(rows, as_predicted(rows, predictions), inputs.model.scores_issues())
    log(f"Redline on {SET_NAMES['e2e']}: {_brief(results['e2e'])}")
    return results


def embed_inputs(inputs: Inputs, embedder: Embedder, log) -> dict:
    e2e_rows, _ = end_to_end_rows(inputs.pairs_by_set["real-dev"])
    texts = {"real": inputs.real, "test": inputs.splits["test"], "dev": inputs.splits["dev"],
             "samples": inputs.samples, "units": [u for u, _ in inputs.pairs_by_set["real-dev"]], "e2e": e2e_rows}
    x = {key: embedder([r["text"] for r in rows]) for key, rows in texts.items()}
    log(f"embedded {sum(len(v) for v in texts.values())} texts")
    return x


def report(inputs: Inputs, results: dict[str, dict], peers: list, model_path: Path) -> list[str]:
    model, splits = inputs.model, inputs.splits
    sizes = f"train {len(splits['train'])}, dev {len(splits['dev'])}, test {len(splits['test'])}"
    where = model_path.resolve().relative_to(ROOT) if model_path.resolve().is_relative_to(ROOT) else model_path
    ours = (f"Redline `{model.model_id}`", results["all"], results["clear"])
    return [f"Model: `{model.model_id}` ({where}). Corpus: {sizes}. Real-dev: {len(inputs.real)} statements "
            f"({int(inputs.doubt.sum())} with `doubt:` in their note); {len(inputs.pairs_by_set['real-dev'])} gold "
            "units in its 8 documents.",
            "", "### The model on each set", "", *sets_table({SET_NAMES[k]: v for k, v in results.items()}),
            "", "Stance and maximalism are scored on the gold issues. Document units, gold holder: the gold unit's "
            "text with its gold holder group. Segmented and attributed: the text and group of the statement "
            "Redline's segmentation and attribution made over each unit (matched by span overlap), interviewer "
            "questions skipped as the engine skips them; no ECE there (the engine's skip has no probability).",
            "", "### Issues per label", "",
            *per_label_table({"real-dev all": results["all"], "real-dev without doubt": results["clear"],
                              "corpus test": results["test"], "samples": results["samples"]}),
            "", "### Peers on the same real statements (left: all rows; right: without doubt rows)", "",
            *peers_table(ours, peers, inputs.real, list(inputs.taxonomy.ids)),
            "", "Zero-shot stance and maximalism are a trivial baseline, not a zero-shot prediction: for each gold "
            "issue, the corpus train split's most common stance and maximalism level for that issue. The bar is "
            "cross-validated within real-dev (issues one-vs-rest; stance per statement-issue pair with the issue "
            "and the holder group one-hot; maximalism per pair with the issue one-hot, expected level); it is a "
            "comparator, and nothing fitted on real-dev is kept.",
            "", "### Attribution on documents", "", *attribution_table(inputs.resolver, inputs.pairs_by_set),
            "", "Units matched to statements by span overlap; an `alt_actor` counts as right. Per-error reading: "
            "`docs/error-analysis.md` (`benchmarks/error_analysis.py`)."]


def low_confidence_table(model, rows: Sequence[dict]) -> list[str]:
    """How the `low_confidence` flag (threshold chosen on the corpus dev split) splits real-dev predictions."""
    scores = model.score([r["text"] for r in rows], [r.get("actor_group") for r in rows])
    chosen = model.decide(scores)
    graded = {True: [], False: []}
    for i, row in enumerate(rows):
        for j in np.flatnonzero(chosen[i]):
            issue, stance = scores.issues[j], ("favor", "against", "neutral")[int(scores.stance_probs[i, j].argmax())]
            flagged = float(scores.issue_probs[i, j] * scores.stance_probs[i, j].max()) < model.low_confidence
            graded[flagged].append((issue in row["issues"], issue in row["issues"] and row["stance"][issue] == stance))
    lines = [f"Threshold {model.low_confidence:.2f} (issue probability × stance probability), chosen on the corpus "
             "dev split.", "", "| predictions | n | issue right | issue and stance right |", "|---|---|---|---|"]
    for flagged, name in ((False, "kept"), (True, "flagged low_confidence")):
        items = graded[flagged]
        lines.append(f"| {name} | {len(items)} | {_share(items, 0)} | {_share(items, 1)} |")
    return lines


def _share(items: list[tuple[bool, bool]], k: int) -> str:
    return f"{sum(x[k] for x in items) / len(items):.1%}" if items else "–"


def run(model_path: Path, log) -> list[str] | None:
    inputs = read_inputs(model_path, log)
    if inputs is None:
        return None
    embedder = Embedder(inputs.model)
    x = embed_inputs(inputs, embedder, log)
    results = model_results(inputs, x, embedder.for_model, log)
    peers = peer_results(inputs, x, embedder, log)
    return [*report(inputs, results, peers, model_path), "", "### Low-confidence flag on real-dev", "",
            *low_confidence_table(inputs.model, inputs.real)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="model folder (default: models/default)")
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = parser.parse_args()
    started = time.perf_counter()

    def log(line: str) -> None:
        print(f"[{time.perf_counter() - started:6.0f} s] {line}", flush=True)

    body = run(args.model, log)
    if body is None:
        return
    model_arg = "" if args.model.resolve() == DEFAULT_MODEL.resolve() else f" --model {args.model}"
    lines = [machine_line(), "", *body, "", f"Whole run: {(time.perf_counter() - started) / 60:.1f} min. Command: "
             f"`.venv/bin/python benchmarks/real_text.py{model_arg} --write`."]
    print("\n".join(lines))
    if args.write:
        write_section("Real text", "\n".join(lines))


if __name__ == "__main__":
    main()
