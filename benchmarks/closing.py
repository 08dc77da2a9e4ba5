"""Memory of the closing steps of `redline run` as the store grows, without a multi-hour run.

Run: .venv/bin/python benchmarks/closing.py --store /tmp/redline-speed/store-10000.duckdb [--times 1 10] [--write]

After its last batch, `run` classifies what is left unclassified, reads targets still unread and recomputes the
model's positions per quarter over every prediction in the store (`engine.finish_classifying`). Those steps read
the whole store, so their memory is the part of a run most likely to grow with the input. This takes the store a
speed run left (`benchmarks/speed.py`: 10,000 documents, ~99,000 statements), copies it with every document,
statement and reading repeated `times` times under new ids (dates, actors and readings as they were: the density
per quarter grows as a larger input's would), and in a fresh process per copy loads the default model and spaCy
as `run` does, then runs the closing steps and reports how far they raise RSS above the loaded process.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._results import machine_line, write_section  # noqa: E402
from benchmarks.speed import peak_rss_mb  # noqa: E402

# every table that holds one row per document or statement, with its id columns
REPEATED = {"documents": ("id",), "statements": ("id", "doc_id"), "predictions": ("statement_id",),
            "classified": ("statement_id",), "target_predictions": ("statement_id",),
            "targets_read": ("statement_id",)}


def current_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def repeat_store(source: Path, target: Path, times: int) -> None:
    """`target`: `source` with each document and its rows present `times` times (copy k's ids end in ~k)."""
    import duckdb

    shutil.copyfile(source, target)
    db = duckdb.connect(str(target))
    try:
        for table, ids in REPEATED.items():
            names = [row[0] for row in db.execute(f"DESCRIBE {table}").fetchall()]
            for k in range(1, times):
                columns = ", ".join(f"{n} || '~{k}'" if n in ids else n for n in names)
                db.execute(f"INSERT INTO {table} SELECT {columns} FROM {table} WHERE NOT contains({ids[0]}, '~')")
        db.execute("DELETE FROM meta WHERE key LIKE 'engine_positions:%'")  # positions are recomputed
        db.execute("CHECKPOINT")
    finally:
        db.close()


def measure(store_path: Path) -> dict:
    """In this (fresh) process: load what `run` loads, then the closing steps; RSS before and the peak."""
    from pipeline.classify import RedlineModel
    from pipeline.engine import RunSummary, finish_classifying
    from pipeline.segment import load_spacy
    from pipeline.store import Store

    model = RedlineModel.load(ROOT / "models" / "default")
    nlp = load_spacy()
    model.encoder.use_backend("auto")
    model.score(["The ceasefire must hold."], [None])  # the encoder's first pass allocates its buffers
    with Store(store_path) as store:
        statements = store.counts()["statements"]
        summary = RunSummary(store.start_run([str(store_path)], model.model_id))
        loaded, peak_before = current_rss_mb(), peak_rss_mb()
        started = time.perf_counter()
        finish_classifying(store, model, nlp, summary, 32, True)
        seconds = time.perf_counter() - started
    return {"statements": statements, "seconds": seconds, "loaded_mb": loaded, "peak_before_mb": peak_before,
            "peak_mb": peak_rss_mb(), "positions": summary.positions_written,
            "predictions_added": summary.predictions_added, "targets_added": summary.target_predictions_added}


def section(results: list[dict], source: Path) -> str:
    lines = [machine_line(), "",
             f"The closing steps of `redline run` (`finish_classifying`) on the store a 10,000-document speed run left "
             f"(`{source.name}`) and on copies with every document repeated; each in a fresh process that first "
             "loads the default model and spaCy as `run` does.", "",
             "| copies | statements | closing s | RSS loaded MB | peak MB | rise MB | positions |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['times']} | {r['statements']:,} | {r['seconds']:.0f} | {r['loaded_mb']:.0f} | "
                     f"{r['peak_mb']:.0f} | {r['peak_mb'] - r['loaded_mb']:.0f} | {r['positions']:,} |")
    lines += ["", "Rise: the peak during the closing steps above the loaded process. A run's own peak is the larger "
              "of its streaming peak and what the closing steps add to the memory the run still holds. Command: "
              "`.venv/bin/python benchmarks/closing.py --store STORE --times 1 10 --write`."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True, help="A store a speed run left.")
    parser.add_argument("--times", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--write", action="store_true", help="Write the section of benchmarks/RESULTS.md.")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # one store, in a child process
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    results = []
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        for times in args.times:
            copy = Path(tmp) / f"closing-{times}.duckdb"
            repeat_store(args.store, copy, times)
            done = subprocess.run([sys.executable, __file__, "--store", str(args.store), "--measure", str(copy)],
                                  capture_output=True, text=True, check=False)
            if done.returncode != 0:
                sys.exit(f"measuring {copy} failed:\n{done.stderr[-3000:]}")
            results.append({"times": times, **json.loads(done.stdout.strip().splitlines()[-1])})
            print(json.dumps(results[-1]), flush=True)
            copy.unlink()
    body = section(results, args.store)
    print(body)
    if args.write:
        write_section("Closing steps", body)


if __name__ == "__main__":
    main()
