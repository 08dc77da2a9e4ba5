"""Active learning: do `uncertainty` picks find the model's errors, and does annotating them help more?

Run: .venv/bin/python benchmarks/active_learning.py [--seeds 2] [--start 600] [--picks 200] [--write]

(a) Error finding: the default model reads the corpus dev and test rows; 200 rows picked by each strategy of
`redline annotate export` are compared by the share of them the model gets wrong (an issue set that differs
from gold, or a wrong stance on a gold issue). Random picks are averaged over 20 seeds.
(b) A simulated loop: heads are trained on `--start` rows of the corpus train split (seeded sample), then
`--picks` more rows are picked from the rest of the train split by each strategy, their gold labels added as
an annotator would, and the model retrained with `--from` the start model; dev macro-F1 is compared. Each
start model gets its doubt fitted on folds of its own rows first (`redline annotate fit-doubt`), and the formula
doubt runs as one more strategy beside it (fit-doubt keeps a learned doubt only where its held-out check
favours it; otherwise `uncertainty` is the formula too).
The encoder is frozen in heads mode, so embeddings are computed once and reused by every training here.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._results import machine_line, write_section  # noqa: E402
from pipeline.annotate import choose, pick  # noqa: E402
from pipeline.classify import RedlineModel  # noqa: E402
from pipeline.config import load_taxonomy  # noqa: E402
from pipeline.corpus import load_rows  # noqa: E402
from pipeline.doubt import LearnedDoubt, doubt, fit_doubt, formula_doubt, reading_errors  # noqa: E402
from pipeline.encoder import Encoder  # noqa: E402
from pipeline.train import config_yaml, load_training_config, train  # noqa: E402

STRATEGIES = ("uncertainty", "diverse", "random")
FORMULA = "uncertainty, formula doubt"
RANDOM_REPEATS = 20


def cache_embeddings() -> None:
    """Memoise Encoder.encode by text: every training here uses the same frozen encoder."""
    original = Encoder.encode
    memo: dict[tuple[str, str], np.ndarray] = {}

    def encode(self, texts, batch_size: int = 64):
        import torch

        missing = [t for t in dict.fromkeys(texts) if (self.name, t) not in memo]
        if missing:
            for text, vector in zip(missing, original(self, missing, batch_size)):
                memo[(self.name, text)] = vector
        return torch.stack([memo[(self.name, t)] for t in texts]) if texts else original(self, texts, batch_size)

    Encoder.encode = encode


def error_finding(model, rows: list[dict], n: int) -> dict:
    errors, scores = reading_errors(model, rows)
    doubts = doubt(model, scores, [r["text"] for r in rows])
    shares = {"uncertainty": float(errors[pick("uncertainty", doubts, n)].mean())}
    if model.learned_doubt is not None:  # the same strategy without the fitted doubt, for comparison
        shares[FORMULA] = float(errors[pick("uncertainty", formula_doubt(model, scores), n)].mean())
    embeddings = model.encoder.last_layer(model.encoder.encode([r["text"] for r in rows])).numpy()
    shares["diverse"] = float(errors[pick("diverse", doubts, n, embeddings, seed=0)].mean())
    shares["random"] = float(np.mean([errors[pick("random", doubts, n, seed=s)].mean()
                                      for s in range(RANDOM_REPEATS)]))
    return {"rows": len(rows), "errors": int(errors.sum()), "shares": shares, "doubt": model.card.get("doubt")}


def _write(rows: list[dict], path: Path) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _dev(model) -> dict:
    dev = model.card["metrics"]["dev"]
    return {"issues": dev["issues"]["macro_f1"], "stance": dev["stance"]["macro_f1"], "mae": dev["maximalism"]["mae"]}


def simulated_loop(rows: list[dict], seed: int, start: int, picks: int, folder: Path, log) -> dict:
    """Dev figures of the start model and of each strategy's retrained model, for one seed."""
    rng = np.random.default_rng(seed)
    train_rows = [r for r in rows if r["split"] == "train"]
    held = [r for r in rows if r["split"] != "train"]
    order = rng.permutation(len(train_rows))
    seed_rows = [train_rows[i] for i in order[:start]]
    pool = [train_rows[i] for i in order[start:]]
    base = load_training_config(ROOT / "configs/train/default.yaml", seed=seed, name=f"start-{seed}")
    config = base.model_copy(update={"corpus": (str(_write(seed_rows + held, folder / f"start-{seed}.jsonl")),)})
    started = time.perf_counter()
    model = train(config)
    model.save(folder / f"start-{seed}", config_yaml(config))
    log(f"seed {seed}: start model on {start} rows in {time.perf_counter() - started:.0f} s: {_dev(model)}")
    started = time.perf_counter()
    fitted = fit_doubt(folder / f"start-{seed}", folds=5)  # as a user would: `redline annotate fit-doubt`
    learned = LearnedDoubt.load(folder / f"start-{seed}")  # None where the held-out check kept the formula
    log(f"seed {seed}: doubt fitted in {time.perf_counter() - started:.0f} s: {fitted['check']}, kept: {fitted['kept']}")
    result = {"start": _dev(model)}
    errors, scores = reading_errors(model, pool)  # (a') the start model finding its own errors in the unseen pool
    model.learned_doubt = learned
    doubts = doubt(model, scores, [r["text"] for r in pool])
    result["finding"] = {"pool": len(pool), "errors": int(errors.sum()),
                         "uncertainty": float(errors[pick("uncertainty", doubts, picks)].mean()),
                         FORMULA: float(errors[pick("uncertainty", formula_doubt(model, scores), picks)].mean()),
                         "random": float(np.mean([errors[pick("random", doubts, picks, seed=s)].mean()
                                                  for s in range(RANDOM_REPEATS)])),
                         "check": fitted["check"], "kept": fitted["kept"]}
    log(f"seed {seed}: error finding in the pool: {result['finding']}")
    by_id = {r["id"]: r for r in pool}
    for strategy in (*STRATEGIES, FORMULA):
        model.learned_doubt = None if strategy == FORMULA else learned
        chosen = choose(model, pool, picks, "uncertainty" if strategy == FORMULA else strategy, set(), seed=seed)
        added = [by_id[c.statement["id"]] for c in chosen]
        corpus = _write(seed_rows + added + held, folder / f"{strategy}-{seed}.jsonl")
        retrained = train(config.model_copy(update={"corpus": (str(corpus),), "name": f"{strategy}-{seed}",
                                                    "start_from": str(folder / f"start-{seed}")}))
        result[strategy] = _dev(retrained)
        log(f"seed {seed}: {strategy}: {result[strategy]}")
    return result


def _section(finding: dict, loops: dict[int, dict], args) -> str:
    shares = finding["shares"]
    lines = [machine_line(), "",
             f"**(a) Error finding** (default model, corpus dev + test: {finding['rows']} rows, "
             f"{finding['errors']} read wrongly: issue set or stance of a gold issue). Share of errors among "
             f"{args.picks} picks:", "", "| strategy | errors among the picks | × random |", "|---|---|---|"]
    lines += [f"| {s} | {shares[s]:.1%} | {shares[s] / shares['random']:.2f} |" for s in (*STRATEGIES, FORMULA)
              if s in shares]
    if FORMULA in shares:
        lines += ["", "uncertainty: the doubt learned from fold errors (`redline annotate fit-doubt`: "
                  f"{finding['doubt']['folds']} models on folds of the train split, {finding['doubt']['rows']} "
                  f"out-of-fold readings, {finding['doubt']['error_rate']:.1%} wrong; its held-out check: "
                  f"{finding['doubt']['check']['learned']:.1%} errors among the most doubtful quarter against the "
                  f"formula's {finding['doubt']['check']['formula']:.1%}); formula doubt: the model's own "
                  "probabilities, the doubt a model folder without a kept one uses."]
    lines += ["", f"(random: mean of {RANDOM_REPEATS} seeded draws; the base rate is "
              f"{finding['errors'] / finding['rows']:.1%}.)", "",
              f"**(b) Simulated loop**: heads trained on {args.start} rows of the train split, then {args.picks} "
              "more picked from the rest of it by each strategy (gold labels added), retrained with `--from` the "
              "start model; dev split figures (issues and stance macro-F1, maximalism MAE). Each start model's doubt "
              f"is fitted on 5 folds of its own {args.start} rows, as `redline annotate fit-doubt` does, and kept only "
              "where its held-out check favours it (otherwise uncertainty picks by the formula); the last strategy "
              "always picks by the formula doubt.", "",
              "| seed | model | issues macro-F1 | stance macro-F1 | maximalism MAE |", "|---|---|---|---|---|"]
    for seed, result in loops.items():
        for name in ("start", *STRATEGIES, FORMULA):
            r = result[name]
            lines.append(f"| {seed} | {name} | {r['issues']:.3f} | {r['stance']:.3f} | {r['mae']:.3f} |")
    lines += ["", "Within the loop, the start model finding its own errors among the rows it has not seen (the rest of the "
              "train split):", "", "| seed | learned doubt kept (held-out check: learned / formula) | pool | errors | "
              "uncertainty picks | formula doubt picks | random picks | × random | × random, formula |",
              "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {seed} | {'yes' if f['kept'] else 'no'} ({f['check']['learned']:.1%} / {f['check']['formula']:.1%}) | "
              f"{f['pool']} | {f['errors']} | {f['uncertainty']:.1%} | {f[FORMULA]:.1%} | {f['random']:.1%} | "
              f"{f['uncertainty'] / f['random']:.2f} | {f[FORMULA] / f['random']:.2f} |"
              for seed, f in ((seed, r["finding"]) for seed, r in loops.items())]
    lines += ["", "| strategy | mean gain in dev issues macro-F1 | mean gain in dev stance macro-F1 |", "|---|---|---|"]
    for name in (*STRATEGIES, FORMULA):
        gains = [(loops[s][name]["issues"] - loops[s]["start"]["issues"],
                  loops[s][name]["stance"] - loops[s]["start"]["stance"]) for s in loops]
        lines.append(f"| {name} | {np.mean([g[0] for g in gains]):+.3f} | {np.mean([g[1] for g in gains]):+.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--start", type=int, default=600)
    parser.add_argument("--picks", type=int, default=200)
    parser.add_argument("--write", action="store_true", help="write the section to benchmarks/RESULTS.md")
    args = parser.parse_args()

    def log(line: str) -> None:
        print(line, flush=True)

    cache_embeddings()
    taxonomy = load_taxonomy()
    rows = load_rows([ROOT / "corpora" / "statements"], taxonomy)
    model = RedlineModel.load(ROOT / "models" / "default")
    finding = error_finding(model, [r for r in rows if r["split"] in ("dev", "test")], args.picks)
    log(f"error finding: {finding}")
    loops = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            loops[seed] = simulated_loop(rows, seed, args.start, args.picks, Path(tmp), log)
    section = _section(finding, loops, args)
    print(section)
    if args.write:
        write_section("Active learning", section)


if __name__ == "__main__":
    main()
