"""The Ray Data engine: the local engine's stages as Ray Data stages, for a cluster (`redline run --engine ray`).

The driver reads the input as the local engine does (same documents, same problems), sets aside those the
store already holds, and hands the rest to Ray in shards of `shard_size` documents (object refs, so the
driver never holds the whole input). Two stages of actors follow: segmentation and attribution (spaCy and
the actor dictionary loaded once per actor), then classification (the model loaded once per actor; each
batch of statements goes to the encoder together, repeated sentences once). The driver writes what comes
back to the store, batch by batch, in the rows the local engine writes (per-target readings included, made by
the classifying actors with each batch), then runs the same closing steps (statements a resumed run left
unclassified or without per-target readings, positions).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path

from .batching import batched
from .config import DEFAULT_ACTORS
from .engine import (
    RunSummary,
    classify_with_targets,
    finish_classifying,
    new_documents,
    recorded_run,
    statements_for,
)
from .errors import RedlineError
from .ingest import MAX_DOCUMENT_MB, read_inputs
from .records import Document, Prediction, Statement, TargetPrediction, Turn
from .segment import load_spacy
from .store import Store


def run_ray(inputs: Sequence[str | Path], store_path: str | Path, actors_path: str | Path = DEFAULT_ACTORS,
            batch_size: int = 32, classifier=None, on_progress: Callable[[RunSummary], None] | None = None,
            text_field: str | None = None, max_document_mb: float = MAX_DOCUMENT_MB, address: str | None = None,
            workers: int | None = None, shard_size: int = 1000, encoder_backend: str = "auto") -> RunSummary:
    """Read `inputs` into the store at `store_path` with Ray; returns what was added and what was set aside.

    `address` is a running cluster's (`ray start --head` prints it); without it Ray starts on this machine
    unless it is already running. `workers` actors serve each stage (default: one per two CPUs)."""
    ray = _ray(address)
    workers = workers or max(1, int(ray.cluster_resources().get("CPU", 2)) // 2)
    model_id = classifier.model_id if classifier is not None else None
    if classifier is not None:
        classifier.encoder.use_backend(encoder_backend)
    with recorded_run(store_path, inputs, model_id) as (store, summary):
        items = read_inputs(inputs, text_field, max_document_mb)
        shards = [ray.put(rows) for rows in _new_documents(items, store, summary, shard_size)]
        if shards:
            dataset = _pipeline(ray, shards, actors_path, classifier, batch_size, workers, encoder_backend)
            for rows in dataset.iter_batches(batch_size=batch_size, batch_format="pandas"):
                _write(rows, store, summary, model_id)
                if on_progress is not None:
                    on_progress(summary)
        if classifier is not None:
            finish_classifying(store, classifier, load_spacy(), summary, batch_size, cache=True)
    return summary


def _ray(address: str | None):
    try:
        import ray
    except ImportError as e:
        raise RedlineError("the Ray engine needs Ray: `pip install 'redline[ray]'` (or use --engine local)") from e
    if not ray.is_initialized():
        try:
            ray.init(address=address, logging_level="ERROR", log_to_driver=False)
        except ConnectionError as e:
            raise RedlineError(f"cannot reach a Ray cluster at {address}: {e}; start one with `ray start --head` "
                               "and pass the address it prints") from e
    # Ray Data's progress bars and lines would flood the CLI's own progress display
    ray.data.DataContext.get_current().enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    return ray


def _new_documents(items: Iterable, store: Store, summary: RunSummary, shard_size: int) -> Iterator[list[dict]]:
    """Shards of documents the store lacks (as rows for Ray); problems go to the quarantine on the way."""
    for batch in batched(items, shard_size):
        fresh = new_documents(batch, store, summary)
        if fresh:
            yield [{"document": json.dumps(asdict(d))} for d in fresh]


def _pipeline(ray, shards: list, actors_path, classifier, batch_size: int, workers: int, encoder_backend: str):
    """Rows → statements (spaCy actors) → predictions (model actors), streamed."""
    # reading a shard is light: it must not hold a CPU the stage actors wait for
    dataset = ray.data.from_items([{"shard": shard} for shard in shards]).flat_map(_unpack, num_cpus=0)
    dataset = dataset.map_batches(Attribute, fn_constructor_args=(str(actors_path),), batch_size=batch_size,
                                  concurrency=workers, batch_format="pandas")
    if classifier is None:
        return dataset
    taxonomy = classifier.taxonomy.model_dump(mode="json")
    return dataset.map_batches(Classify, fn_constructor_args=(str(classifier.path), taxonomy, encoder_backend),
                               batch_size=batch_size, concurrency=workers, batch_format="pandas")


def _unpack(row: dict) -> list[dict]:
    import ray

    return ray.get(row["shard"])


class Attribute:
    """A Ray actor: segments and attributes batches of documents; spaCy and the actors load once."""

    def __init__(self, actors_path: str):
        from .attribute import ActorResolver
        from .config import load_actors
        from .segment import load_spacy

        self.resolver, self.nlp = ActorResolver(load_actors(actors_path)), load_spacy()

    def __call__(self, rows):
        documents = [document_from_json(text) for text in rows["document"]]
        by_document = defaultdict(list)
        for statement in statements_for(documents, self.resolver, self.nlp):
            by_document[statement.doc_id].append(asdict(statement))
        rows["statements"] = [json.dumps(by_document[d.id]) for d in documents]
        return rows


class Classify:
    """A Ray actor: classifies the statements of a batch of documents in one encoder call and reads each named
    target; the model, spaCy and the terms load once, and the actor keeps the embeddings of the sentences it
    has seen (in memory: the store belongs to the driver)."""

    def __init__(self, model_path: str, taxonomy: dict, encoder_backend: str):
        from .classify import RedlineModel
        from .config import Taxonomy
        from .embedding_cache import EmbeddingCache
        from .terms import load_terms_config

        self.model = RedlineModel.load(model_path, taxonomy=Taxonomy.model_validate(taxonomy))
        self.model.encoder.use_backend(encoder_backend)
        self.model.encoder.cache = EmbeddingCache(self.model.encoder.key())
        self.nlp, self.terms = load_spacy(), load_terms_config()

    def __call__(self, rows):
        per_row = [[Statement(**s) for s in json.loads(text)] for text in rows["statements"]]
        predictions, targets = classify_with_targets(self.model, [s for row in per_row for s in row], self.nlp,
                                                     self.terms)
        rows["predictions"] = _per_document(per_row, predictions)
        rows["target_predictions"] = _per_document(per_row, targets)
        return rows


def _per_document(per_row: list[list[Statement]], readings: Iterable) -> list[str]:
    """`readings` (each with a statement_id) as one JSON list per row, in the order of the row's statements."""
    by_statement = defaultdict(list)
    for reading in readings:
        by_statement[reading.statement_id].append(asdict(reading))
    return [json.dumps([r for s in row for r in by_statement[s.id]]) for row in per_row]


def _write(rows, store: Store, summary: RunSummary, model_id: str | None) -> None:
    documents = [document_from_json(text) for text in rows["document"]]
    statements = [Statement(**s) for text in rows["statements"] for s in json.loads(text)]
    predictions = [prediction_from_dict(p) for text in rows.get("predictions", ()) for p in json.loads(text)]
    targets = [TargetPrediction(**t) for text in rows.get("target_predictions", ()) for t in json.loads(text)]
    added = store.write_batch(summary.run_id, documents, statements, predictions, model_id, targets,
                              targets_read=True)
    summary.add_written(added)


def document_from_json(text: str) -> Document:
    fields = json.loads(text)
    fields["turns"] = tuple(Turn(**turn) for turn in fields["turns"])
    fields["meta"] = tuple(tuple(pair) for pair in fields["meta"])
    return Document(**fields)


def prediction_from_dict(fields: dict) -> Prediction:
    return Prediction(**{**fields, "maximalism_dist": tuple(fields["maximalism_dist"]),
                         "targets": tuple(fields["targets"])})
