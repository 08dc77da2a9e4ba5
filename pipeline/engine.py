"""The local engine: composes ingest → segment → attribute (→ classify) → store, in batches.

Documents stream from the input in batches; each batch is written in one transaction, and documents
already in the store are skipped before any work, so a rerun resumes where a dead run stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .attribute import INTERVIEWER_CUE, ActorResolver, attribute_statements
from .config import DEFAULT_ACTORS, load_actors
from .ingest import read_inputs
from .records import Document, Problem, Statement
from .segment import load_spacy, segment_documents
from .store import Store


@dataclass
class RunSummary:
    run_id: str
    documents_read: int = 0
    documents_added: int = 0
    documents_skipped: int = 0
    statements_added: int = 0
    predictions_added: int = 0
    positions_written: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def quarantined(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.level != "error"]


def batched(items: Iterable, size: int) -> Iterator[list]:
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def statements_for(documents: Sequence[Document], resolver: ActorResolver, nlp=None) -> list[Statement]:
    """Segment and attribute a batch of documents (no store, no files)."""
    statements: list[Statement] = []
    for document, sentences in segment_documents(documents, nlp):
        statements.extend(attribute_statements(document, sentences, resolver))
    return statements


def run(inputs: Sequence[str | Path], store_path: str | Path, actors_path: str | Path = DEFAULT_ACTORS,
        batch_size: int = 32, classifier=None, on_progress: Callable[[RunSummary], None] | None = None,
        text_field: str | None = None) -> RunSummary:
    """Read `inputs` into the store at `store_path`; returns what was added and what was set aside."""
    resolver = ActorResolver(load_actors(actors_path))
    nlp = load_spacy()
    model_id = classifier.model_id if classifier is not None else None
    with Store(store_path) as store:
        summary = RunSummary(store.start_run([str(i) for i in inputs], model_id))
        status = "failed"
        try:
            for batch in batched(read_inputs(inputs, text_field), batch_size):
                _run_batch(batch, store, resolver, nlp, classifier, summary)
                if on_progress is not None:
                    on_progress(summary)
            if classifier is not None:
                summary.predictions_added += _classify_pending(store, classifier, summary.run_id, batch_size * 8)
                summary.positions_written = _fill_positions(store, classifier.model_id)
            status = "done"
        finally:
            store.finish_run(summary.run_id, {
                "documents": summary.documents_added, "statements": summary.statements_added,
                "predictions": summary.predictions_added, "quarantined": len(summary.quarantined)}, status)
    return summary


def classify(classifier, statements: Sequence[Statement]) -> list:
    """Predictions for the statements that can hold a position (an interviewer's question holds none)."""
    return classifier.predict_statements([s for s in statements if not s.cue.startswith(INTERVIEWER_CUE)])


def _run_batch(batch: list, store: Store, resolver: ActorResolver, nlp, classifier, summary: RunSummary) -> None:
    problems = [item for item in batch if isinstance(item, Problem)]
    documents = list({d.id: d for d in batch if isinstance(d, Document)}.values())
    summary.problems.extend(problems)
    store.quarantine(summary.run_id, problems)
    summary.documents_read += len(documents)
    known = store.known_documents(d.id for d in documents)
    fresh = [d for d in documents if d.id not in known]
    summary.documents_skipped += len(documents) - len(fresh)
    if not fresh:
        return
    statements = statements_for(fresh, resolver, nlp)
    predictions = classify(classifier, statements) if classifier is not None else []
    added = store.write_batch(summary.run_id, fresh, statements, predictions,
                              classifier.model_id if classifier is not None else None)
    summary.documents_added += added["documents"]
    summary.statements_added += added["statements"]
    summary.predictions_added += added["predictions"]


def _classify_pending(store: Store, classifier, run_id: str, batch_size: int) -> int:
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
        added += store.counts()["predictions"] - before


def _fill_positions(store: Store, model_id: str, period: str = "quarter") -> int:
    """Recompute the model's positions per period from every statement it has classified; returns rows written."""
    from .aggregate import positions_by_period

    positions = positions_by_period(store.statements(model_id=model_id), period)
    return store.replace_positions(model_id, period, positions)
