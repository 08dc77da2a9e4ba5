"""The local engine: composes ingest → segment → attribute (→ classify) → store, in batches.

Documents stream from the input in batches; each batch is written in one transaction, and documents
already in the store are skipped before any work, so a rerun resumes where a dead run stopped. While the
main thread parses batch k+1 with spaCy, a second thread classifies batch k and reads its per-target
demands (the encoder's work runs outside Python's lock), so both cores are busy; at most two batches are in
memory at once. The encoder runs once per distinct sentence: an `EmbeddingCache` in the store serves
repeated quotes, across runs too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from .attribute import INTERVIEWER_CUE, ActorResolver, attribute_documents
from .batching import batched
from .config import DEFAULT_ACTORS, load_actors
from .embedding_cache import EmbeddingCache
from .ingest import MAX_DOCUMENT_MB, read_inputs
from .records import Document, Prediction, Problem, Statement, TargetPrediction
from .segment import load_spacy, segment_documents
from .store import Store
from .targets import classify_pending_targets, target_predictions
from .terms import load_terms_config


@dataclass
class RunSummary:
    run_id: str
    documents_read: int = 0
    documents_added: int = 0
    documents_skipped: int = 0
    statements_added: int = 0
    predictions_added: int = 0
    target_predictions_added: int = 0  # per-target readings (pipeline/targets.py)
    positions_written: int = 0
    quarantined_count: int = 0
    embeddings_cached: int = 0  # encoder passes the cache saved
    embeddings_computed: int = 0
    problems: list[Problem] = field(default_factory=list)  # the first MAX_LISTED; the store keeps all

    def add_problems(self, problems: Sequence[Problem]) -> None:
        self.quarantined_count += sum(p.level == "error" for p in problems)
        self.problems.extend(problems[:max(0, MAX_LISTED - len(self.problems))])

    def add_written(self, added: dict[str, int]) -> None:
        """Count the rows a batch added to the store (`Store.write_batch`'s answer)."""
        self.documents_added += added["documents"]
        self.statements_added += added["statements"]
        self.predictions_added += added["predictions"]
        self.target_predictions_added += added["target_predictions"]

    @property
    def quarantined(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.level != "error"]


MAX_LISTED = 1000  # problems a summary lists; a run over a broken archive must not hold millions


@dataclass
class _Batch:
    """Documents new to the store, their statements, and their predictions with their per-target readings
    (a future while computing)."""

    documents: list[Document]
    statements: list[Statement]
    predictions: Future | None = None


def statements_for(documents: Sequence[Document], resolver: ActorResolver, nlp=None) -> list[Statement]:
    """Segment and attribute a batch of documents (no store, no files)."""
    return attribute_documents(list(segment_documents(documents, nlp)), resolver)


def run(inputs: Sequence[str | Path], store_path: str | Path, actors_path: str | Path = DEFAULT_ACTORS,
        batch_size: int = 32, classifier=None, on_progress: Callable[[RunSummary], None] | None = None,
        text_field: str | None = None, max_document_mb: float = MAX_DOCUMENT_MB,
        encoder_backend: str | None = "auto", cache: bool = True) -> RunSummary:
    """Read `inputs` into the store at `store_path`; returns what was added and what was set aside.

    `encoder_backend` switches the classifier's encoder (see `Encoder.use_backend`; None leaves it);
    `cache` keeps sentence embeddings in the store so that no sentence is encoded twice."""
    resolver = ActorResolver(load_actors(actors_path))
    nlp = load_spacy()
    model_id = classifier.model_id if classifier is not None else None
    if classifier is not None and encoder_backend:
        classifier.encoder.use_backend(encoder_backend)
    with recorded_run(store_path, inputs, model_id) as (store, summary):
        items = read_inputs(inputs, text_field, max_document_mb)
        # the classifying thread reaches the cache through a connection of its own
        with store.cursor() if cache else nullcontext() as cache_store, \
                _caching(classifier, cache_store, summary) as embeddings:
            _run_batches(batched(items, batch_size), store, resolver, nlp, classifier, summary, on_progress,
                         embeddings)
        if classifier is not None:
            finish_classifying(store, classifier, nlp, summary, batch_size, cache)
    return summary


@contextmanager
def recorded_run(store_path: str | Path, inputs: Sequence[str | Path],
                 model_id: str | None) -> Iterator[tuple[Store, RunSummary]]:
    """The open store and the summary of a run it records: `done` when the block completes, else `failed`."""
    with Store(store_path) as store:
        summary = RunSummary(store.start_run([str(i) for i in inputs], model_id))
        status = "failed"
        try:
            yield store, summary
            status = "done"
        finally:
            store.finish_run(summary.run_id, {
                "documents": summary.documents_added, "statements": summary.statements_added,
                "predictions": summary.predictions_added, "quarantined": summary.quarantined_count}, status)


def finish_classifying(store: Store, classifier, nlp, summary: RunSummary, batch_size: int, cache: bool) -> None:
    """The closing steps of a run: statements stored but not yet classified by this model, per-target
    readings, and the model's positions per quarter."""
    with _caching(classifier, store if cache else None, summary) as embeddings:
        summary.predictions_added += _classify_pending(store, classifier, summary.run_id, batch_size * 8, embeddings)
        summary.target_predictions_added += classify_pending_targets(store, classifier, nlp, summary.run_id)
        embeddings.flush(store)
    summary.positions_written = fill_positions(store, classifier.model_id)


@contextmanager
def _caching(classifier, store: Store | None, summary: RunSummary) -> Iterator[EmbeddingCache | None]:
    """The classifier's encoder consults an embedding cache that reads `store` (None: this run's only)."""
    if classifier is None:
        yield None
        return
    cache = EmbeddingCache(classifier.encoder.key(), store)
    try:
        with classifier.encoder.caching(cache):
            yield cache
    finally:
        summary.embeddings_cached += cache.hits
        summary.embeddings_computed += cache.misses


def _run_batches(batches: Iterable[list], store: Store, resolver: ActorResolver, nlp, classifier,
                 summary: RunSummary, on_progress: Callable[[RunSummary], None] | None,
                 embeddings: EmbeddingCache | None) -> None:
    """Parse each batch, classify it in the second thread while the next one is parsed, then write it
    (and, when the run keeps embeddings, the vectors computed for it)."""
    terms = load_terms_config() if classifier is not None else None
    with ThreadPoolExecutor(1, thread_name_prefix="redline-classify") as classifying:
        previous: _Batch | None = None
        for items in batches:
            batch = _prepare(items, store, resolver, nlp, summary)
            if batch is not None and classifier is not None:
                batch.predictions = classifying.submit(classify_with_targets, classifier, batch.statements, nlp,
                                                       terms)
            if previous is not None:
                _write(previous, store, classifier, summary, on_progress, embeddings)
            previous = batch
            if batch is None and on_progress is not None:
                on_progress(summary)
        if previous is not None:
            _write(previous, store, classifier, summary, on_progress, embeddings)


def classify(classifier, statements: Sequence[Statement]) -> list:
    """Predictions for the statements that can hold a position (an interviewer's question holds none)."""
    return classifier.predict_statements([s for s in statements if not s.cue.startswith(INTERVIEWER_CUE)])


def classify_with_targets(classifier, statements: Sequence[Statement], nlp,
                          terms) -> tuple[list[Prediction], list[TargetPrediction]]:
    """A batch's predictions and the per-target readings of its statements that name targets: made while the
    batch is in hand, they cost no pass over the store at the end of the run."""
    predictions = classify(classifier, statements)
    return predictions, target_predictions(statements, predictions, classifier, nlp, terms)


def new_documents(items: list, store: Store, summary: RunSummary) -> list[Document]:
    """The documents of a batch that the store lacks; problems are set aside in the quarantine."""
    problems = [item for item in items if isinstance(item, Problem)]
    documents = list({d.id: d for d in items if isinstance(d, Document)}.values())
    summary.add_problems(problems)
    store.quarantine(summary.run_id, problems)
    summary.documents_read += len(documents)
    known = store.known_documents(d.id for d in documents)
    fresh = [d for d in documents if d.id not in known]
    summary.documents_skipped += len(documents) - len(fresh)
    return fresh


def _prepare(items: list, store: Store, resolver: ActorResolver, nlp, summary: RunSummary) -> _Batch | None:
    """Segment and attribute the batch's new documents (None: nothing new)."""
    fresh = new_documents(items, store, summary)
    return _Batch(fresh, statements_for(fresh, resolver, nlp)) if fresh else None


def _write(batch: _Batch, store: Store, classifier, summary: RunSummary,
           on_progress: Callable[[RunSummary], None] | None, embeddings: EmbeddingCache | None) -> None:
    predictions, targets = batch.predictions.result() if batch.predictions is not None else ([], [])
    added = store.write_batch(summary.run_id, batch.documents, batch.statements, predictions,
                              classifier.model_id if classifier is not None else None, targets,
                              targets_read=True)
    if embeddings is not None:
        embeddings.flush(store)
    summary.add_written(added)
    if on_progress is not None:
        on_progress(summary)


def _classify_pending(store: Store, classifier, run_id: str, batch_size: int, embeddings: EmbeddingCache) -> int:
    """Statements stored earlier that this model has not classified yet (a new model, or a resumed run)."""
    added = 0
    while True:
        pending = store.unclassified(classifier.model_id, batch_size)
        if not pending:
            return added
        before = store.counts()["predictions"]
        with store.transaction():
            store.add_predictions(run_id, classify(classifier, pending), classifier.model_id,
                                  [s.id for s in pending])
        embeddings.flush(store)
        added += store.counts()["predictions"] - before


def fill_positions(store: Store, model_id: str, period: str = "quarter") -> int:
    """Recompute the model's positions per period from every statement it has classified; returns rows written.

    One period at a time: a position never spans periods and each series draws its own seeded bootstrap,
    so the rows equal those of one pass over the whole store, while memory holds one period's readings
    (who said what when, without texts).
    Skipped (0 rows) when neither the model's readings nor the aggregation code changed since the positions
    were last computed here (as spaCy projects skip a step whose inputs and script are unchanged)."""
    key = f"engine_positions:{model_id}:{period}"
    state = f"{store.classified_count(model_id)}:{_aggregation_fingerprint()}"
    if store.meta_value(key) == state:
        return 0
    written = store.replace_positions(model_id, period, _positions_per_period(store, model_id, period))
    store.set_meta_value(key, state)
    return written


def _aggregation_fingerprint() -> str:
    from . import aggregate

    return hashlib.sha1(Path(aggregate.__file__).read_bytes()).hexdigest()[:12]


def _positions_per_period(store: Store, model_id: str, period: str) -> Iterator:
    from .aggregate import period_of, positions_of_readings

    starts = sorted({period_of(date, period)[1] for date in store.statement_dates()})
    for start, end in zip(starts, [*starts[1:], None]):
        yield from positions_of_readings(store.dated_readings(model_id, (start, end)), period, model_id)
