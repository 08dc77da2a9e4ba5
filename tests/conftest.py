"""Shared fixtures: the spaCy pipeline and actor resolver are loaded once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.attribute import ActorResolver
from pipeline.config import load_actors
from pipeline.engine import statements_for
from pipeline.ingest import read_text
from pipeline.records import Document

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SAMPLES = ROOT / "corpora" / "samples"


@pytest.fixture(scope="session")
def nlp():
    from pipeline.segment import load_spacy

    return load_spacy()


@pytest.fixture(scope="session")
def resolver() -> ActorResolver:
    return ActorResolver(load_actors())


@pytest.fixture
def attribute_text(nlp, resolver):
    """Attribute a document written inline: front matter keys as keyword arguments."""

    def run(body: str, **meta) -> list:
        head = "".join(f"{k}: {v}\n" for k, v in meta.items())
        text = f"---\n{head}---\n{body}" if meta else body
        (document,) = [d for d in read_text(text, "inline.md") if isinstance(d, Document)]
        return statements_for([document], resolver, nlp)

    return run


# --- a classified store written without a model (timelines, export, report) ----------------------

TIMELINE_MODEL = "test@0"
# date, actor, group, {issue: (stance, maximalism)}; None date = undated, {} = no issue
TIMELINE_STATEMENTS = [
    ("2024-10-02", "Vladimir Putin", "Russia", {"territory": ("favor", 2.9)}),
    ("2024-11-12", "Vladimir Putin", "Russia", {"territory": ("favor", 3.0)}),
    ("2024-12-20", "Sergei Lavrov", "Russia", {"territory": ("favor", 2.8), "nato_membership": ("against", 2.9)}),
    ("2025-01-15", "Vladimir Putin", "Russia", {"territory": ("favor", 1.1)}),
    ("2025-02-03", "Vladimir Putin", "Russia", {"territory": ("favor", 0.9)}),
    ("2025-03-28", "Dmitry Peskov", "Russia", {"territory": ("favor", 1.2)}),
    ("2024-10-09", "Volodymyr Zelensky", "Ukraine", {"nato_membership": ("favor", 2.0)}),
    ("2024-11-30", "Volodymyr Zelensky", "Ukraine", {"nato_membership": ("favor", 1.9)}),
    ("2025-01-21", "Volodymyr Zelensky", "Ukraine", {"nato_membership": ("favor", 2.1)}),
    ("2025-03-02", "Volodymyr Zelensky", "Ukraine", {"nato_membership": ("favor", 1.9)}),
    (None, "Volodymyr Zelensky", "Ukraine", {"nato_membership": ("favor", 2.0)}),
    ("2025-03-03", "author", "author", {}),
]


def timeline_records(model_id: str = TIMELINE_MODEL) -> tuple[list, list, list]:
    """Documents, statements and predictions of TIMELINE_STATEMENTS; texts hold commas, quotes, a newline
    and a closing script tag, which every export must survive."""
    from pipeline.records import Prediction, Statement

    documents, statements, predictions = [], [], []
    for k, (date, actor, group, issues) in enumerate(TIMELINE_STATEMENTS):
        text = f'{actor} said, "{k}; quote"\nsecond line </script><b>{k}</b>.'
        document = Document(id=Document.make_id(text, date), text=text, source_path=f"/in/doc{k}.md", date=date,
                            title=f"Report {k}", source_type="news_report", url=f"https://example.org/{k}")
        statement = Statement(id=Statement.make_id(document.id, 0, len(text), actor), doc_id=document.id, index=0,
                              start=0, end=len(text), text=text, actor=actor, actor_group=group,
                              attribution="reported", cue=f"say:{actor}", date=date)
        documents.append(document)
        statements.append(statement)
        for issue, (stance, maximalism) in issues.items():
            predictions.append(Prediction(
                statement_id=statement.id, model_id=model_id, issue=issue, stance=stance, maximalism=maximalism,
                maximalism_dist=(0.1, 0.2, 0.3, 0.4), confidence=0.5 + 0.05 * k, stance_confidence=0.9,
                low_confidence=k == 8, targets=("Donetsk",) if issue == "territory" else ()))
    return documents, statements, predictions


@pytest.fixture
def timeline_store(tmp_path) -> Path:
    """A store holding TIMELINE_STATEMENTS classified by TIMELINE_MODEL, with quarterly positions filled."""
    from pipeline.aggregate import positions_by_period
    from pipeline.store import Store

    path = tmp_path / "timeline.duckdb"
    documents, statements, predictions = timeline_records()
    with Store(path) as store:
        run_id = store.start_run(["inline"], TIMELINE_MODEL)
        store.write_batch(run_id, documents, statements, predictions, TIMELINE_MODEL)
        store.finish_run(run_id, {"documents": len(documents)})
        store.replace_positions(TIMELINE_MODEL, "quarter", positions_by_period(store.statements(), "quarter"))
    return path


def statement_row(sid: str, date: str, issue: str, maximalism: float, actor: str = "Vladimir Putin",
                  group: str = "Russia", stance: str = "favor", confidence: float = 0.9) -> dict:
    """A `Store.statements()` row with one prediction, written inline (terms, bargaining space)."""
    return {"id": sid, "date": date, "actor": actor, "actor_group": group, "text": f"{actor} on {issue} ({sid}).",
            "title": "Report", "source_path": f"/in/{sid}.md", "source_type": "news_report", "url": "",
            "issues": [issue], "stance": {issue: stance}, "maximalism": {issue: maximalism},
            "confidence": {issue: confidence}, "low_confidence": [], "model_id": "m@0"}


# --- the default model over the samples plus generated multi-year documents (terms, bargaining space) ------


@pytest.fixture(scope="session")
def space_store(tmp_path_factory) -> Path:
    """A store of corpora/samples plus benchmarks/generate.py's SPACE_SPEC documents, run with the default model:
    Russia and Ukraine converge on territory and military limits, not on NATO membership or sanctions."""
    import pipeline
    from benchmarks.generate import SPACE_SPEC, generate_documents
    from pipeline.engine import run

    work = tmp_path_factory.mktemp("space")
    generate_documents(work / "generated", seed=0, spec=SPACE_SPEC)
    run([SAMPLES / "documents", work / "generated"], work / "space.duckdb", classifier=pipeline.load())
    return work / "space.duckdb"
