"""Accuracy against the peers a user would pick instead: corpus test split, real statements, SemEval-2016 stance.

Run: .venv/bin/python benchmarks/accuracy.py [--write] [--skip-setfit] [--skip-semeval] [--retrain]
Every system is trained on the corpus train split (dev for tuning only) and scored with the metric functions
of pipeline/evaluate.py. Real statements (../shared/datasets/real-dev/statements.jsonl) and the TweetEval
stance folder are read from ../shared at run time, never copied, and skipped when absent.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._peers import (  # noqa: E402
    SetFitPeer,
    SpacyTextcatPeer,
    TfidfLogisticPeer,
    score,
    setfit_unavailable,
)
from benchmarks._results import machine_line, write_section  # noqa: E402
from pipeline.config import STANCES, load_taxonomy  # noqa: E402
from pipeline.corpus import load_rows  # noqa: E402
from pipeline.datasets_stance import (  # noqa: E402
    SEMEVAL_TAXONOMY,
    materialise_tweeteval,
    semeval_training_config,
    tweeteval_rows,
)
from pipeline.errors import InputError  # noqa: E402
from pipeline.evaluate import evaluate_model, read_jsonl, stance_metrics, unknown_issue_ids  # noqa: E402

CORPUS = ROOT / "corpora" / "statements"
TAXONOMY = ROOT / "configs" / "issues" / "russia_ukraine.yaml"
OUR_MODELS = {"Redline default (heads)": ROOT / "models" / "default", "Redline finetune": ROOT / "models" / "finetune"}
SHARED = ROOT.parent / "shared" / "datasets"
REAL_DEV = SHARED / "real-dev" / "statements.jsonl"
TWEETEVAL = SHARED / "tweeteval-stance"
# Published F_avg on the SemEval-2016 task A test set, as ../shared/datasets/tweeteval-stance/SOURCE.md gives them.
PUBLISHED = [("SemEval-2016 best system (MITRE)", "67.8"), ("TweetEval SVM", "67.3"),
             ("TweetEval RoBERTa-base", "68.0"), ("TweetEval BERTweet", "71.2")]
PUBLISHED_NOTE = ("Published figures are quoted from the data's SOURCE.md; TweetEval's pool the five targets' test "
                  "tweets, so compare them with the pooled column. SOURCE.md calls the SemEval-2016 67.8 a "
                  "per-target macro, but the task paper's per-target figures for that system are far lower, so it "
                  "is most likely pooled too; check the paper before setting it beside the macro column.")


def corpus_splits(taxonomy) -> dict[str, list[dict]]:
    rows = load_rows([CORPUS], taxonomy)
    return {s: [r for r in rows if r["split"] == s] for s in ("train", "dev", "test")}


def real_dev_rows(taxonomy) -> list[dict] | None:
    """The real statements, or None when ../shared is not there; an issue the taxonomy lacks is an error."""
    if not REAL_DEV.exists():
        return None
    rows = read_jsonl(REAL_DEV)
    unknown = unknown_issue_ids(rows, taxonomy.ids)
    if unknown:
        raise InputError(f"{REAL_DEV}: issue ids {unknown} are not in {TAXONOMY}; update the taxonomy or the data")
    return rows


# --- the corpus and real statements -------------------------------------------------------------


def run_peer(peer, splits: dict, real_dev: list[dict] | None, log) -> dict:
    """Train one peer on train (+dev for tuning), time it, and score it on test and real-dev."""
    log(f"{peer.name}: training on {len(splits['train'])} statements")
    start = time.perf_counter()
    peer.fit(splits["train"], splits["dev"])
    seconds = time.perf_counter() - start
    result = {"name": peer.name, "seconds": seconds,
              "test": score(splits["test"], peer.predict(splits["test"]), peer.labels)}
    if real_dev is not None:
        result["real-dev"] = score(real_dev, peer.predict(real_dev), peer.labels)
    log(f"{peer.name}: {seconds:.0f} s; test {_brief(result['test'])}")
    return result


def run_ours(name: str, path: Path, splits: dict, real_dev: list[dict] | None, log, retrain: bool) -> dict:
    """A committed Redline model scored with `evaluate_model`; with `retrain`, also retrained from its config.yaml
    to time it (and to check that the retrained weights are the committed ones)."""
    import pipeline

    model = pipeline.load(path)
    seconds = _retrain_seconds(path, model, log) if retrain else None
    result = {"name": f"{name} `{model.model_id}`", "seconds": seconds, "test": evaluate_model(model, splits["test"])}
    if real_dev is not None:
        result["real-dev"] = evaluate_model(model, real_dev)
    log(f"{name}: test {_brief(result['test'])}")
    return result


def _retrain_seconds(path: Path, model, log) -> float:
    from pipeline.train import load_training_config, train

    log(f"retraining {path.name} from its config.yaml")
    start = time.perf_counter()
    retrained = train(load_training_config(path / "config.yaml"))
    seconds = time.perf_counter() - start
    same = retrained.card["fingerprint"] == model.card["fingerprint"]
    log(f"retrained {path.name} in {seconds:.0f} s; fingerprint {'matches' if same else 'DIFFERS from'} the committed one")
    return seconds


def _brief(metrics: dict) -> str:
    return (f"issues macro-F1 {metrics['issues']['macro_f1']:.3f}, stance macro-F1 "
            f"{metrics['stance']['macro_f1']:.3f}, maximalism MAE {metrics['maximalism']['mae']:.3f}")


def metrics_table(results: list[dict], split: str) -> list[str]:
    lines = ["| system | issues micro-F1 | issues macro-F1 | stance macro-F1 | maximalism MAE | within-1 | training |",
             "|---|---|---|---|---|---|---|"]
    for result in results:
        if split not in result:
            continue
        m = result[split]
        trained = f"{result['seconds']:.0f} s" if result["seconds"] is not None else "committed"
        lines.append(f"| {result['name']} | {m['issues']['micro_f1']:.3f} | {m['issues']['macro_f1']:.3f} | "
                     f"{m['stance']['macro_f1']:.3f} | {m['maximalism']['mae']:.3f} | "
                     f"{m['maximalism']['within_1']:.3f} | {trained} |")
    return lines


# --- SemEval-2016 Task 6 ------------------------------------------------------------------------


def semeval_scores(rows: list[dict], predicted: list[str]) -> dict:
    """F_avg per target, their macro average, and F_avg pooled over every test tweet (TweetEval's way)."""
    gold = [r["stance"][r["issues"][0]] for r in rows]
    per_target = {}
    for target in sorted({r["issues"][0] for r in rows}):
        index = [i for i, r in enumerate(rows) if r["issues"][0] == target]
        per_target[target] = stance_metrics([gold[i] for i in index], [predicted[i] for i in index])["f_avg"]
    return {"per_target": per_target, "macro": sum(per_target.values()) / len(per_target),
            "pooled": stance_metrics(gold, predicted)["f_avg"], "n": len(rows)}


def semeval_ours(rows: list[dict], log) -> dict:
    """Train Redline (heads) through `pipeline.train.train` on the converted tweets; stance at the gold target."""
    from pipeline.train import train

    test = [r for r in rows if r["split"] == "test"]
    with tempfile.TemporaryDirectory(prefix="redline-semeval-") as folder:
        path = materialise_tweeteval(TWEETEVAL, Path(folder) / "rows.jsonl")
        log(f"Redline on SemEval: training on {path}")
        start = time.perf_counter()
        model = train(semeval_training_config(path))
        seconds = time.perf_counter() - start
    scores = model.score([r["text"] for r in test], [r["actor_group"] for r in test])
    position = {issue: j for j, issue in enumerate(scores.issues)}
    predicted = [STANCES[int(scores.stance_probs[i, position[r["issues"][0]]].argmax())] for i, r in enumerate(test)]
    return {"name": "Redline heads (all-MiniLM-L6-v2)", "seconds": seconds, **semeval_scores(test, predicted)}


def semeval_tfidf(rows: list[dict], log) -> dict:
    taxonomy = load_taxonomy(SEMEVAL_TAXONOMY)
    splits = {s: [r for r in rows if r["split"] == s] for s in ("train", "dev", "test")}
    log("TF-IDF + logistic regression on SemEval")
    start = time.perf_counter()
    peer = TfidfLogisticPeer(taxonomy).fit_stance(splits["train"], splits["dev"])
    seconds = time.perf_counter() - start
    return {"name": peer.name, "seconds": seconds, **semeval_scores(splits["test"], peer.predict_stance(splits["test"]))}


def semeval_section(log) -> list[str]:
    if not TWEETEVAL.exists():
        return [f"SemEval-2016: skipped, {TWEETEVAL} is not there."]
    rows = tweeteval_rows(TWEETEVAL)
    results = [semeval_tfidf(rows, log), semeval_ours(rows, log)]
    targets = list(results[0]["per_target"])
    lines = ["| system | F_avg pooled | F_avg macro over targets | " + " | ".join(targets) + " | training |",
             "|---|---|---|" + "---|" * len(targets) + "---|"]
    for r in results:
        cells = " | ".join(f"{100 * r['per_target'][t]:.1f}" for t in targets)
        lines.append(f"| {r['name']} | {100 * r['pooled']:.1f} | {100 * r['macro']:.1f} | {cells} | "
                     f"{r['seconds']:.0f} s |")
        log(f"SemEval {r['name']}: pooled {100 * r['pooled']:.1f}, macro {100 * r['macro']:.1f}")
    for name, figure in PUBLISHED:
        lines.append("| " + " | ".join([f"{name} (published)", figure, *[""] * (len(targets) + 2)]) + " |")
    return [f"Test set: {results[0]['n']} tweets; trained on train, val as dev; each tweet's target is given "
            "(stance read at that issue). F_avg = mean of F1(favor) and F1(against), in percent.", "", *lines,
            "", PUBLISHED_NOTE]


# --- the run ------------------------------------------------------------------------------------


def corpus_section(skip_setfit: bool, retrain: bool, log) -> list[str]:
    taxonomy = load_taxonomy(TAXONOMY)
    splits, real_dev = corpus_splits(taxonomy), real_dev_rows(taxonomy)
    results = [run_ours(name, path, splits, real_dev, log, retrain) for name, path in OUR_MODELS.items()
               if (path / "card.json").exists()]
    results += [run_peer(TfidfLogisticPeer(taxonomy), splits, real_dev, log),
                run_peer(SpacyTextcatPeer(taxonomy), splits, real_dev, log)]
    setfit_note = "SetFit: skipped (--skip-setfit)." if skip_setfit else setfit_unavailable()
    if setfit_note is None:
        results.append(run_peer(SetFitPeer(taxonomy), splits, real_dev, log))
    elif not skip_setfit:
        setfit_note = f"SetFit: not run, {setfit_note}."
    sizes = ", ".join(f"{s} {len(v)}" for s, v in splits.items())
    lines = [f"### Corpus test split ({len(splits['test'])} statements; trained on train, tuned on dev; {sizes})",
             "", *metrics_table(results, "test")]
    if real_dev is not None:
        lines += ["", f"### Real statements (real-dev, {len(real_dev)} statements, read from ../shared)", "",
                  *metrics_table(results, "real-dev")]
    lines += ["", "Stance and maximalism are scored on the gold issues. `committed`: loaded from `models/`, not "
              "retrained in this run (`--retrain` times it)."]
    return lines + ([setfit_note] if setfit_note else [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    parser.add_argument("--skip-setfit", action="store_true", help="leave out the SetFit peer (the slowest)")
    parser.add_argument("--skip-semeval", action="store_true", help="leave out SemEval-2016 stance")
    parser.add_argument("--retrain", action="store_true", help="also retrain Redline's committed models, to time them")
    args = parser.parse_args()
    started, load = time.perf_counter(), os.getloadavg()[0]

    def log(line: str) -> None:
        print(f"[{time.perf_counter() - started:6.0f} s] {line}", flush=True)

    lines = [machine_line(), "", *corpus_section(args.skip_setfit, args.retrain, log)]
    if not args.skip_semeval:
        lines += ["", "### SemEval-2016 Task 6 stance (TweetEval layout, read from ../shared)", "",
                  *semeval_section(log)]
    flags = " ".join(f for f, on in (("--skip-setfit", args.skip_setfit), ("--skip-semeval", args.skip_semeval),
                                     ("--retrain", args.retrain)) if on)
    lines += ["", f"Whole run: {(time.perf_counter() - started) / 60:.1f} min (load average {load:.1f} at the start: "
              "other jobs on the machine slow every timing). Command: "
              f"`.venv/bin/python benchmarks/accuracy.py --write{' ' + flags if flags else ''}`."]
    print("\n".join(lines))
    if args.write:
        write_section("Accuracy", "\n".join(lines))


if __name__ == "__main__":
    main()
