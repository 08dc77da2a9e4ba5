"""Speed and memory of `redline run` against the encoder alone and against naive peers, on one input.

For each size (documents from `speed_input.py`: news reports, transcripts, speeches, repeated wire quotes)
a fresh subprocess runs the local engine end to end into a fresh store and reports statements/second and
its peak RSS; it then reruns the same input into the same store, and runs it once more into a new store
that holds only the first run's embedding cache. On the sentences of the largest size up to 10k documents
it measures the encoder alone at its best batch size (the floor), each encoder backend with its accuracy
on the corpus test split, a naive Hugging Face `pipeline("text-classification")` per sentence with one
model per task, and a spaCy `textcat`. Peers run with random or barely trained heads: speed only.

Run: .venv/bin/python benchmarks/speed.py [--sizes 1000 10000 100000] [--work DIR] [--write]
A size cut short (`--timeout`, or the machine taken back) goes on where it stopped with `--resume` (the engine
skips the documents already stored), and the report marks it as run in two sittings.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._results import machine_line, write_section  # noqa: E402
from benchmarks.speed_input import write_input  # noqa: E402

SAMPLE = 3000  # sentences the encoder floor and the batched peers run over
NAIVE_SAMPLE = 300  # sentences the per-sentence peer runs over (three models each)
BATCH_SIZES = (16, 32, 64, 128, 256)
CACHE_ONLY_MAX = 1000  # documents up to which the cache-only run is measured (it repeats all of spaCy's work)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load() -> float:
    return os.getloadavg()[0]


# --- one size, in its own process ---------------------------------------------------------------


def measure_size(documents: int, work: Path, resume: bool = False) -> dict:
    """End-to-end run, rerun, and a run with only the cache carried over, on `documents` documents. With
    `resume`, a run of this size cut short goes on in the store it left (the engine skips the documents stored):
    its seconds and statements add to those of the first sitting, its peak RSS is the larger of the two."""
    from pipeline.classify import RedlineModel
    from pipeline.engine import run
    from pipeline.store import Store

    folder = work / f"input-{documents}"
    if not folder.exists():
        write_input(folder, documents)
    store, fresh = work / f"store-{documents}.duckdb", work / f"store-{documents}-cache-only.duckdb"
    before = last_progress(work, documents) if resume and store.exists() else None
    for path in (fresh,) if before else (store, fresh):
        path.unlink(missing_ok=True)
    model = RedlineModel.load(ROOT / "models" / "default")
    progress = work / f"progress-{documents}.jsonl"
    start, load_start = time.perf_counter(), load()
    first = run([folder], store, classifier=model, on_progress=_progress_writer(progress, start, before))
    first_s, rss = time.perf_counter() - start, peak_rss_mb()
    rerun_s = _timed(lambda: run([folder], store, classifier=model))
    cache_only_s = None
    if documents <= CACHE_ONLY_MAX:
        with Store(fresh) as target:
            target.db.execute(f"ATTACH '{store}' AS first (READ_ONLY)")
            target.db.execute("INSERT INTO embeddings SELECT * FROM first.embeddings")
            target.db.execute("DETACH first")
        cache_only_s = _timed(lambda: run([folder], fresh, classifier=model))
    statements, first_s = first.statements_added + _earlier(before, "statements"), first_s + _earlier(before, "seconds")
    return {"documents": documents, "statements": statements, "seconds": first_s,
            "statements_per_s": statements / first_s, "peak_rss_mb": max(rss, _earlier(before, "peak_rss_mb")),
            "sittings": 2 if before else 1,  # the first sitting's encoder counts are not kept: none then
            "embeddings_computed": None if before else first.embeddings_computed,
            "embeddings_cached": None if before else first.embeddings_cached,
            "rerun_s": rerun_s, "cache_only_s": cache_only_s, "load_start": load_start, "load_end": load(),
            "backend": model.encoder.backend}


def _timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _earlier(before: dict | None, key: str) -> float:
    return before[key] if before else 0


def _progress_writer(path: Path, start: float, before: dict | None = None):
    """Append (documents, statements, seconds, peak RSS) per batch: a run cut short still tells its figures.
    Going on from `before` (the last line of a sitting cut short), statements and seconds count from there."""
    if before is None:
        path.unlink(missing_ok=True)

    def write(summary) -> None:
        with path.open("a", encoding="utf-8") as out:
            out.write(json.dumps({
                "documents": summary.documents_read,
                "statements": summary.statements_added + _earlier(before, "statements"),
                "seconds": round(time.perf_counter() - start + _earlier(before, "seconds"), 1),
                "peak_rss_mb": round(max(peak_rss_mb(), _earlier(before, "peak_rss_mb"))), "load": load()}) + "\n")
    return write


# --- the floor and the peers, on a sample of the same sentences ------------------------------------


def sample_sentences(store_path: Path, n: int) -> list[str]:
    """The texts the engine classified (interviewer questions excluded), a seeded sample of `n`."""
    from pipeline.attribute import INTERVIEWER_CUE
    from pipeline.store import Store

    with Store(store_path, read_only=True) as store:
        texts = [r[0] for r in store.db.execute("SELECT text FROM statements WHERE NOT starts_with(cue, ?)",
                                                [INTERVIEWER_CUE]).fetchall()]
    return random.Random(0).sample(texts, min(n, len(texts)))


def encoder_floor(texts: list[str]) -> dict:
    """Sentences/second of the encoder alone, every sentence encoded (no dedup), per backend and batch size."""
    from pipeline.encoder import Encoder

    encoder = Encoder()
    rates: dict[str, dict[int, float]] = {}
    for backend in ("onnx", "torch"):
        encoder.use_backend(backend)
        encoder.embed(texts[:64], 64)  # warm up
        rates[backend] = {size: len(texts) / _timed(lambda size=size: encoder.embed(texts, size))
                          for size in BATCH_SIZES}
    return rates


def backend_accuracy() -> dict:
    """Corpus test split metrics and encoder seconds of the default model on each backend (and torch int8)."""
    import torch

    from pipeline.classify import RedlineModel
    from pipeline.evaluate import evaluate_model, read_jsonl

    rows = [r for p in sorted((ROOT / "corpora" / "statements").glob("*.jsonl")) for r in read_jsonl(p)
            if r.get("split") == "test"]
    model = RedlineModel.load(ROOT / "models" / "default")
    found = {}
    for backend in ("torch", "onnx", "onnx-int8", "torch-int8"):
        model.encoder.use_backend(backend.replace("torch-int8", "torch"))
        if backend == "torch-int8":
            model.encoder.model = torch.ao.quantization.quantize_dynamic(model.encoder.model, {torch.nn.Linear},
                                                                         dtype=torch.qint8)
        model._issue_vectors = None
        seconds = _timed(lambda: model.encoder.embed([r["text"] for r in rows], 64))
        metrics = evaluate_model(model, rows)
        found[backend] = {"seconds": seconds, "n": len(rows), "issues_macro_f1": metrics["issues"]["macro_f1"],
                          "stance_macro_f1": metrics["stance"]["macro_f1"], "maximalism_mae": metrics["maximalism"]["mae"]}
    return found


def naive_peer(texts: list[str], labels: dict[str, int]) -> float:
    """Sentences/second of three HF text-classification pipelines (issues, stance, maximalism), one call
    per sentence per task, as a first attempt would run them; the heads are random (speed only)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    from pipeline.encoder import resolve_encoder

    location = resolve_encoder("minilm")
    tokenizer = AutoTokenizer.from_pretrained(location)
    tasks = []
    with tempfile.TemporaryDirectory() as folder:
        for task, count in labels.items():
            model = AutoModelForSequenceClassification.from_pretrained(location, num_labels=count)
            model.save_pretrained(f"{folder}/{task}")
            tokenizer.save_pretrained(f"{folder}/{task}")
            tasks.append(pipeline("text-classification", model=f"{folder}/{task}", device="cpu"))
        start = time.perf_counter()
        for text in texts:
            for classify in tasks:
                classify(text)
        return len(texts) / (time.perf_counter() - start)


def spacy_textcat(texts: list[str], labels: list[str]) -> float:
    """Sentences/second of a small spaCy `textcat_multilabel` (blank en, a few training steps): speed only."""
    import spacy
    from spacy.training import Example

    nlp = spacy.blank("en")
    textcat = nlp.add_pipe("textcat_multilabel")
    for label in labels:
        textcat.add_label(label)
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": {label: float(i % len(labels) == k)
                                                             for k, label in enumerate(labels)}})
                for i, t in enumerate(texts[:200])]
    optimizer = nlp.initialize(lambda: examples)
    for start in range(0, len(examples), 32):
        nlp.update(examples[start:start + 32], sgd=optimizer)
    return len(texts) / _timed(lambda: list(nlp.pipe(texts, batch_size=256)))


def spacy_options(texts: list[str]) -> dict:
    """Sentences/second of the spaCy pipeline as the engine runs it, with n_process=2, and without each
    component attribution could spare; and whether attribution of the samples stays the same without it."""
    from pipeline.attribute import ActorResolver
    from pipeline.config import load_actors
    from pipeline.engine import statements_for
    from pipeline.ingest import read_inputs
    from pipeline.records import Document
    from pipeline.segment import load_spacy, parsing, set_blas

    nlp = load_spacy()
    resolver = ActorResolver(load_actors())
    samples = [d for d in read_inputs([ROOT / "corpora" / "samples" / "documents"]) if isinstance(d, Document)]
    reference = statements_for(samples, resolver, nlp)

    def rate(n_process: int = 1) -> float:
        with parsing():  # the workers of n_process fork inside it, as in `segment_documents`
            return len(texts) / _timed(lambda: list(nlp.pipe(texts, batch_size=64, n_process=n_process)))

    found = {"all components": rate(), "all, n_process=2": rate(n_process=2)}
    same = {}
    for component in ("lemmatizer", "attribute_ruler", "ner"):
        with nlp.select_pipes(disable=[component]):
            found[f"without {component}"] = rate()
            same[component] = statements_for(samples, resolver, nlp) == reference
    set_blas(nlp, blis=True)
    try:
        found["all, multiplying with blis"] = rate()
        same["all, multiplying with blis"] = statements_for(samples, resolver, nlp) == reference
    finally:
        set_blas(nlp)
    return {"rates": found, "attribution_unchanged": same}


def measure_peers(store_path: Path) -> dict:
    from pipeline.config import MAXIMALISM_LEVELS, STANCES, load_taxonomy

    issues = list(load_taxonomy(ROOT / "models" / "default" / "taxonomy.yaml").ids)
    texts = sample_sentences(store_path, SAMPLE)
    return {"sample": len(texts), "floor": encoder_floor(texts), "load": load(),
            "naive_per_s": naive_peer(texts[:NAIVE_SAMPLE], {"issues": len(issues), "stance": len(STANCES),
                                                             "maximalism": len(MAXIMALISM_LEVELS)}),
            "textcat_per_s": spacy_textcat(texts, issues), "backends": backend_accuracy(),
            "spacy": spacy_options(texts[:1000])}


# --- the report ---------------------------------------------------------------------------------


def in_child(flag: str, value: str, work: Path, timeout: float | None = None, *extra: str) -> dict | None:
    """Run one measurement in a fresh interpreter (a clean peak RSS); its JSON result (also kept in `work`,
    for --report), or None if cut short."""
    command = [sys.executable, __file__, flag, value, "--work", str(work), *extra]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-3000:])
        return None
    result = json.loads(done.stdout.strip().splitlines()[-1])
    (work / f"result{flag}-{value}.json").write_text(json.dumps(result), encoding="utf-8")
    return result


def kept_results(work: Path, sizes: list[int]) -> tuple[list[dict], list[dict], dict | None]:
    """The results a run left in `work`: finished sizes, sizes cut short (their last progress), peers."""
    finished, partial = [], []
    for documents in sorted(sizes):
        path = work / f"result--size-{documents}.json"
        if path.exists():
            finished.append(json.loads(path.read_text(encoding="utf-8")))
        elif (progress := last_progress(work, documents)) is not None:
            partial.append({**progress, "target": documents})
    peers = sorted(work.glob("result--peers-*.json"))
    return finished, partial, json.loads(peers[0].read_text(encoding="utf-8")) if peers else None


def last_progress(work: Path, documents: int) -> dict | None:
    path = work / f"progress-{documents}.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return json.loads(lines[-1]) if lines else None


def report(sizes: list[dict], partial: list[dict], peers: dict | None, growth: str = "",
           command: str = "--sizes 1000 10000 100000 --write") -> str:
    lines = [machine_line(), "",
             "No GPU was available to this session: every figure is CPU-only; GPU throughput is not measured.", "",
             "| documents | statements | end-to-end stmt/s | s | peak RSS MB | encoder passes (cached) | "
             "rerun s (speed-up) | cache-only run s (speed-up) | load avg |", "|---|---|---|---|---|---|---|---|---|"]
    for r in sizes:
        sittings = f" ({r['sittings']} sittings)" if r.get("sittings", 1) > 1 else ""
        passes = f"{r['embeddings_computed']:,} ({r['embeddings_cached']:,})" if r["embeddings_computed"] is not None \
            else "–"
        lines.append(f"| {r['documents']:,}{sittings} | {r['statements']:,} | {r['statements_per_s']:.1f} | "
                     f"{r['seconds']:.0f} | {r['peak_rss_mb']:.0f} | {passes} | "
                     f"{r['rerun_s']:.1f} ({r['seconds'] / r['rerun_s']:.0f}×) | {_cache_only(r)} | "
                     f"{r['load_start']:.1f}–{r['load_end']:.1f} |")
    for p in partial:
        lines.append(f"| {p['target']:,} (cut short at {p['documents']:,}) | {p['statements']:,} | "
                     f"{p['statements'] / max(p['seconds'], 1e-9):.1f} | {p['seconds']:.0f} | {p['peak_rss_mb']:.0f} "
                     f"| – | – | – | {p['load']:.1f} |")
    if sizes and len(sizes) + len(partial) > 1:
        small = min(sizes, key=lambda r: r["documents"])
        lines += ["", f"Peak RSS relative to {small['documents']:,} documents: " + ", ".join(
            f"{r['documents']:,}: {r['peak_rss_mb'] / small['peak_rss_mb']:.2f}×" for r in [*sizes, *partial]
            if r is not small) + f" (goal ≤ 1.3× at 100k).{growth}"]
    lines += _goal_lines(sizes, partial, peers)
    if peers is not None:
        lines += _peer_lines(sizes, peers)
    lines += ["", "Rerun: the same input into the same store (every document is known and skipped before any "
              "work). Cache-only run: the same input into a new store holding only the first run's embedding "
              "cache, so spaCy and the heads run again and the encoder does not. Encoder passes: distinct "
              "sentences the encoder computed; cached: those the cache served (repeated quotes). The machine "
              "is shared: a run keeps three threads busy (load ~3 on two cores), and a load above that means other "
              "jobs slowed its timings. Command: `.venv/bin/python benchmarks/speed.py "
              f"{command}`."]
    return "\n".join(lines)


def _goal_lines(sizes: list[dict], partial: list[dict], peers: dict | None) -> list[str]:
    """The issue's goals, each with what this run measured for it (or why it did not)."""
    if not sizes:
        return []
    small = min(sizes, key=lambda r: r["documents"])
    reference = max([r for r in sizes if r["documents"] <= 10_000] or [small], key=lambda r: r["documents"])
    at = f"at {reference['documents']:,} documents" + ("" if reference["documents"] == 10_000 else
                                                          " (no finished 10k run in this report)")
    lines = ["", "Goals of issue 6 against this run:"]
    if peers is not None:
        floor = encoder_floor_best(peers)[2]
        loads = f"the floor timed at load {peers['load']:.1f}, the run at {reference['load_start']:.1f}–" \
                f"{reference['load_end']:.1f}"
        # the engine keeps three threads busy (spaCy, the classifier, the encoder's second thread), so a load
        # above the cores plus one and a little means other jobs ran: the two timings are not comparable
        busy = max(peers["load"], reference["load_start"], reference["load_end"]) > (os.cpu_count() or 1) + 1.5
        lines += [f"- end to end ≥ 70 % of the encoder floor: {reference['statements_per_s'] / floor:.0%} {at} "
                  + (f"({loads}: other jobs ran, so the share says little; rerun both on an idle machine)" if busy
                     else f"({loads}: nothing else ran)"),
                  f"- ≥ 3× the naive per-task pipeline: {reference['statements_per_s'] / peers['naive_per_s']:.1f}× {at}"]
    largest = max([*sizes, *partial], key=lambda r: r.get("target", r["documents"]))
    if largest is small:
        lines.append("- peak RSS at 100k ≤ 1.3× that at 1k: not measured (no larger size ran)")
    else:
        cut = f", cut short at {largest['documents']:,} documents" if "target" in largest else ""
        lines.append(f"- peak RSS at 100k ≤ 1.3× that at 1k: {largest['peak_rss_mb'] / small['peak_rss_mb']:.2f}× "
                     f"in the {largest.get('target', largest['documents']):,}-document run{cut}, against "
                     f"{small['documents']:,} documents")
    cache_only = f"; with only the embedding cache carried to a new store {small['seconds'] / small['cache_only_s']:.1f}×" \
        if small["cache_only_s"] else ""
    lines.append(f"- second run ≥ 10× faster: {small['seconds'] / small['rerun_s']:.0f}× at {small['documents']:,} "
                 f"documents (known documents are skipped before any work){cache_only} (spaCy still parses "
                 "everything)")
    return lines


def rss_growth(work: Path, documents: int) -> str:
    """How a finished run's peak RSS rose from its first thousand documents to its end (from its progress)."""
    path = work / f"progress-{documents}.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []
    early = next((r for r in rows if r["documents"] >= 1000), None)
    if early is None or early is rows[-1]:
        return ""
    half = next((r for r in rows if r["documents"] >= rows[-1]["documents"] / 2), rows[-1])
    return (f" Within the {documents:,}-document run peak RSS went from {early['peak_rss_mb']:,} MB after "
            f"{early['documents']:,} documents to {half['peak_rss_mb']:,} MB after {half['documents']:,} and "
            f"{rows[-1]['peak_rss_mb']:,} MB after {rows[-1]['documents']:,}.")


def _cache_only(r: dict) -> str:
    seconds = r["cache_only_s"]
    return f"{seconds:.0f} ({r['seconds'] / seconds:.1f}×)" if seconds else "–"


BACKEND_NAMES = {"onnx": "ONNX Runtime", "torch": "PyTorch"}


def encoder_floor_best(peers: dict) -> tuple[str, str, float]:
    """The floor: the fastest encoder-alone rate of any backend at any batch size (backend, batch, rate)."""
    return max(((backend, size, rate) for backend, rates in peers["floor"].items() for size, rate in rates.items()),
               key=lambda row: row[2])


def _peer_lines(sizes: list[dict], peers: dict) -> list[str]:
    floor = peers["floor"]
    fastest = encoder_floor_best(peers)[0]
    reference = max((r for r in sizes if r["documents"] <= 10_000), key=lambda r: r["documents"], default=None)
    lines = ["", f"### Against the encoder floor and peers ({peers['sample']:,} sentences sampled from the run; "
             f"load {peers['load']:.1f})", "",
             "| system | sentences/s | end-to-end as a share |", "|---|---|---|"]
    e2e = reference["statements_per_s"] if reference else None
    rows = [(f"encoder alone, {BACKEND_NAMES.get(backend, backend)}, batch {max(rates, key=rates.get)}"
             f"{' (the floor)' if backend == fastest else ''}", max(rates.values())) for backend, rates in floor.items()]
    rows += [("HF `pipeline(\"text-classification\")` per sentence, 3 models (speed only)", peers["naive_per_s"]),
             ("spaCy `textcat_multilabel`, blank en (speed only)", peers["textcat_per_s"])]
    for name, rate in rows:
        lines.append(f"| {name} | {rate:.1f} | {e2e / rate:.0%} |" if e2e else f"| {name} | {rate:.1f} | – |")
    if reference:
        lines.append(f"| Redline end to end, {reference['documents']:,} documents | {e2e:.1f} | 100% |")
    lines += ["", "Floor by batch size (sentences/s): " + "; ".join(
        f"{backend} " + ", ".join(f"{size}: {rate:.0f}" for size, rate in rates.items())
        for backend, rates in floor.items()), "",
        "End to end parses every sentence with spaCy and encodes each distinct sentence once; the floor encodes "
        "every sampled sentence. The peers classify only (no segmentation or attribution), which favours them.",
        "", "### Encoder backends (default model, corpus test split)", "",
        "| backend | encoder s | issues macro-F1 | stance macro-F1 | maximalism MAE |", "|---|---|---|---|---|"]
    for backend, r in peers["backends"].items():
        lines.append(f"| {backend} | {r['seconds']:.1f} | {r['issues_macro_f1']:.3f} | {r['stance_macro_f1']:.3f} | "
                     f"{r['maximalism_mae']:.3f} |")
    rates, unchanged = peers["spacy"]["rates"], peers["spacy"]["attribution_unchanged"]
    lines += ["", "### spaCy (segmentation and attribution)", "", "| pipeline | sentences/s | attribution of the "
              "samples unchanged |", "|---|---|---|"]
    for name, rate in rates.items():
        component = name.removeprefix("without ")
        lines.append(f"| {name} | {rate:.0f} | {'yes' if unchanged.get(component, True) else 'no'} |")
    lines += ["", "Attribution reads lemmas (speech verbs), coarse tags (set by the attribute ruler), the parse and "
              "entities, so every component stays. Its layers multiply through numpy's BLAS (OpenBLAS), on one thread "
              "(`segment.parsing`), instead of thinc's default, blis: the last row, with blis. The attribute ruler is spaCy's rules looked up in tables "
              "(`segment.TagRules`: the same attributes; spaCy's `Matcher` over them took a fifth of the parse). "
              "The entity recogniser, as costly as the rest together, runs only on the sentences whose subject "
              "the actor dictionary does not name, on that sentence and the few words before it "
              "(`segment.entities`), which leaves attribution as it was; those of an engine batch run together "
              "(`segment.read_entities`), in half the time of one by one, with the same entities. `n_process=2` starts worker processes per call and competes "
              "with the encoder for the two cores; the engine instead overlaps spaCy (main thread) with the "
              "encoder (second thread)."]
    lines += ["", "`redline run` uses ONNX Runtime on a CPU (`--encoder-backend auto`): the same scores as "
              "PyTorch; which of the two encodes faster alone depends on the CPU and the batch size (the floor rows "
              "above), and the floor is the faster. int8 is faster still but loses accuracy, so it is an option "
              "(`--encoder-backend onnx-int8`), not the default."]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "redline-speed")
    parser.add_argument("--timeout", type=float, default=None, help="Seconds each size may take.")
    parser.add_argument("--write", action="store_true", help="Write the section of benchmarks/RESULTS.md.")
    parser.add_argument("--section", default="Speed and scale",
                        help="The RESULTS.md section --write replaces (another name keeps a run on another host "
                             "beside the main one).")
    parser.add_argument("--report", action="store_true", help="Only report what an earlier run left in --work.")
    parser.add_argument("--resume", action="store_true",
                        help="Sizes cut short go on in the stores they left in --work (seconds and statements add "
                             "up; peak RSS is the larger of the two sittings).")
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)  # one size, in a child process
    parser.add_argument("--peers", type=int, help=argparse.SUPPRESS)  # floor and peers, in a child process
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.size:
        print(json.dumps(measure_size(args.size, args.work, args.resume)))
        return
    if args.peers:
        print(json.dumps(measure_peers(args.work / f"store-{args.peers}.duckdb")))
        return
    if not args.report:
        measure_all(args.sizes, args.work, args.timeout, args.resume)
    sizes, partial, peers = kept_results(args.work, args.sizes)
    runs = [n for n in args.sizes if (args.work / f"progress-{n}.jsonl").exists()]
    growth = rss_growth(args.work, max(runs)) if runs else ""
    command = " ".join(["--sizes", *map(str, args.sizes), "--write"]
                       + ([] if args.section == "Speed and scale" else ["--section", f"'{args.section}'"]))
    body = report(sizes, partial, peers, growth, command)
    print(body)
    if args.write:
        write_section(args.section, body)


def measure_all(sizes: list[int], work: Path, timeout: float | None, resume: bool = False) -> None:
    """Each size in its own process, smallest first; the floor and peers after the first that finishes."""
    peers = resume and any(work.glob("result--peers-*.json"))  # going on: the peers measured before stand
    for documents in sorted(sizes):
        result = in_child("--size", str(documents), work, timeout, *(["--resume"] if resume else []))
        print(json.dumps(result or {"documents": documents, "cut_short": last_progress(work, documents)}),
              flush=True)
        if not peers and result is not None:  # on the first size's sentences: the same mix at any size
            peers = in_child("--peers", str(documents), work)
            print(json.dumps(peers), flush=True)


if __name__ == "__main__":
    main()
