"""Where end-to-end time goes: the engine's two stages alone, side by side, and together in the engine.

`redline run` parses with spaCy (segmentation and attribution) in its main thread and classifies in a second
one (benchmarks/speed.py measures it against the encoder alone). This benchmark asks how much of the two
stages' work the engine overlaps on this machine, on the same generated input (speed_input.py):

1. parse alone: segment and attribute every batch, nothing else (one process);
2. classify alone: the classifier over those statements, batch by batch, each distinct sentence encoded once
   (one process, the encoder at its default threads);
3. both at once, as two processes (no shared interpreter lock): what two cores give two independent stages;
4. the engine: `pipeline.engine.run` into a fresh store.

If the cores scaled perfectly, (3) would take as long as the slower stage alone and the engine could approach
it; the sum of (1) and (2) is the time of running them one after the other. Each figure comes from a fresh
interpreter.

Run: .venv/bin/python benchmarks/overlap.py [--documents 1000] [--work DIR] [--write]
"""

from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._results import machine_line, write_section  # noqa: E402
from benchmarks.speed import load  # noqa: E402
from benchmarks.speed_input import write_input  # noqa: E402

BATCH = 32  # documents per batch, as `redline run`


def _input(work: Path, documents: int) -> Path:
    """The folder of the generated input, written on first use."""
    folder = work / f"input-{documents}"
    if not folder.exists():
        write_input(folder, documents)
    return folder


def _documents(work: Path, documents: int) -> list:
    from pipeline.ingest import MAX_DOCUMENT_MB, read_inputs

    return list(read_inputs(sorted(_input(work, documents).glob("*.jsonl")), None, MAX_DOCUMENT_MB))


def parse(work: Path, documents: int) -> dict:
    from pipeline.attribute import ActorResolver
    from pipeline.config import DEFAULT_ACTORS, load_actors
    from pipeline.engine import statements_for
    from pipeline.segment import load_spacy

    docs = _documents(work, documents)
    nlp, resolver = load_spacy(), ActorResolver(load_actors(DEFAULT_ACTORS))
    start = time.perf_counter()
    batches = [statements_for(docs[k:k + BATCH], resolver, nlp) for k in range(0, len(docs), BATCH)]
    seconds = time.perf_counter() - start
    (work / f"statements-{documents}.pickle").write_bytes(pickle.dumps(batches))
    return {"seconds": seconds, "statements": sum(map(len, batches))}


def classify(work: Path, documents: int) -> dict:
    from pipeline.classify import RedlineModel
    from pipeline.config import DEFAULT_MODEL
    from pipeline.embedding_cache import EmbeddingCache
    from pipeline.engine import classify_with_targets
    from pipeline.segment import load_spacy
    from pipeline.terms import load_terms_config

    batches = pickle.loads((work / f"statements-{documents}.pickle").read_bytes())
    model, nlp, terms = RedlineModel.load(DEFAULT_MODEL), load_spacy(), load_terms_config()
    backend = model.encoder.use_backend("auto")
    start = time.perf_counter()
    with model.encoder.caching(EmbeddingCache(model.encoder.key(), None)):
        for batch in batches:
            classify_with_targets(model, batch, nlp, terms)
    return {"seconds": time.perf_counter() - start, "backend": backend}


def engine(work: Path, documents: int) -> dict:
    from pipeline.classify import RedlineModel
    from pipeline.config import DEFAULT_MODEL
    from pipeline.engine import run

    folder = _input(work, documents)
    model = RedlineModel.load(DEFAULT_MODEL)
    store = work / f"overlap-{documents}.duckdb"
    store.unlink(missing_ok=True)
    start = time.perf_counter()
    summary = run([folder], store, classifier=model)
    return {"seconds": time.perf_counter() - start, "statements": summary.statements_added}


STAGES = {"parse": parse, "classify": classify, "engine": engine}


def _start(stage: str, work: Path, documents: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, "--stage", stage, "--work", str(work),
                             "--documents", str(documents)], stdout=subprocess.PIPE, text=True)


def _result(process: subprocess.Popen) -> dict:
    out, _ = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"a stage failed (exit {process.returncode}): {' '.join(process.args)}")
    return json.loads(out.strip().splitlines()[-1])


def measure(work: Path, documents: int, log) -> dict:
    figures = {"load_start": load()}
    for stage in ("parse", "classify"):  # parse first: classify reads its statements
        figures[stage] = _result(_start(stage, work, documents))
        log(f"{stage} alone: {figures[stage]}")
    both = [_start(stage, work, documents) for stage in ("parse", "classify")]
    figures["parse_beside"], figures["classify_beside"] = (_result(p) for p in both)
    log(f"side by side: {figures['parse_beside']} {figures['classify_beside']}")
    figures["engine"] = _result(_start("engine", work, documents))
    log(f"engine: {figures['engine']}")
    figures["load_end"] = load()
    (work / f"figures-{documents}.json").write_text(json.dumps(figures), encoding="utf-8")
    return figures


def report(f: dict, documents: int) -> str:
    parse_s, classify_s = f["parse"]["seconds"], f["classify"]["seconds"]
    beside = max(f["parse_beside"]["seconds"], f["classify_beside"]["seconds"])
    rows = [("parse alone (spaCy: segmentation, attribution)", parse_s),
            (f"classify alone (encoder on {f['classify']['backend']}, heads, word models, per-target readings)",
             classify_s),
            ("one after the other (no overlap)", parse_s + classify_s),
            ("the slower of the two (what perfect overlap would take)", max(parse_s, classify_s)),
            (f"both at once as two processes: parse {f['parse_beside']['seconds']:.0f} s, classify "
             f"{f['classify_beside']['seconds']:.0f} s", beside),
            ("the engine (`redline run`, parse and classify threads in one process)", f["engine"]["seconds"])]
    lines = [machine_line(), "", f"{documents:,} generated documents, {f['parse']['statements']:,} statements; "
             f"load average {f['load_start']:.1f} at the start, {f['load_end']:.1f} at the end.", "",
             "| what ran | seconds |", "|---|---|"]
    lines += [f"| {name} | {seconds:.1f} |" for name, seconds in rows]
    lines += ["", f"Side by side, the two stages slow each other: parse ×{f['parse_beside']['seconds'] / parse_s:.2f}, "
              f"classify ×{f['classify_beside']['seconds'] / classify_s:.2f} against alone, so running them at once "
              f"takes {beside / (parse_s + classify_s):.0%} of running them one after the other, where perfect "
              f"overlap would take {max(parse_s, classify_s) / (parse_s + classify_s):.0%}. The engine takes "
              f"{f['engine']['seconds'] / (parse_s + classify_s):.0%} of the one-after-the-other time (it also "
              "writes the store and keeps the embedding cache).", "",
              f"Command: `.venv/bin/python benchmarks/overlap.py --documents {documents} --write`."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "redline-overlap")
    parser.add_argument("--write", action="store_true", help="write the section of benchmarks/RESULTS.md")
    parser.add_argument("--report", action="store_true", help="only report the figures an earlier run left in --work")
    parser.add_argument("--stage", choices=sorted(STAGES), help=argparse.SUPPRESS)  # one stage, in a child
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.stage:
        print(json.dumps(STAGES[args.stage](args.work, args.documents)))
        return
    figures = (json.loads((args.work / f"figures-{args.documents}.json").read_text(encoding="utf-8"))
               if args.report else measure(args.work, args.documents, lambda line: print(line, flush=True)))
    section = report(figures, args.documents)
    print(section)
    if args.write:
        write_section("Where end-to-end time goes", section)


if __name__ == "__main__":
    main()
