"""A second taxonomy end to end: the Iran nuclear samples, its actor dictionary and the committed
models/iran_nuclear go through run → store → timeline → HTML report with nothing of Russia–Ukraine in them."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import load_taxonomy

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "corpora" / "iran_nuclear" / "samples" / "documents"
MODEL = ROOT / "models" / "iran_nuclear"
ACTORS = ROOT / "configs" / "actors" / "iran_nuclear.yaml"
TAXONOMY = ROOT / "configs" / "issues" / "iran_nuclear.yaml"


@pytest.fixture(scope="module")
def iran_store(tmp_path_factory) -> Path:
    """The four Iran samples run into a fresh store with the Iran model and actor dictionary."""
    from pipeline.classify import RedlineModel
    from pipeline.engine import run

    store = tmp_path_factory.mktemp("iran") / "iran.duckdb"
    summary = run([SAMPLES], store, ACTORS, classifier=RedlineModel.load(MODEL))
    assert summary.documents_added == 4 and not summary.problems
    return store


@pytest.fixture(scope="module")
def iran_rows(iran_store) -> list[dict]:
    from pipeline.store import Store

    with Store(iran_store, read_only=True) as db:
        return db.statements()


def _row(rows: list[dict], opening: str) -> dict:
    (row,) = [r for r in rows if r["text"].startswith(opening)]
    return row


@pytest.mark.parametrize("opening, actor, group", [
    # the office "Iran's foreign minister" resolves by the document's date
    ("Iran's foreign minister said in Tehran", "Hossein Amir-Abdollahian", "Iran"),  # December 2021
    ("Iran's foreign minister rejected the step", "Abbas Araghchi", "Iran"),  # August 2025
    ("Israel's foreign minister called the decision", "Gideon Saar", "Israel"),
    ("He said the only subject of the talks", "Ali Bagheri Kani", "Iran"),  # pronoun after a named negotiator
    ("Tehran demands that every sanction", "Iran", "Iran"),  # two holders in one sentence
    ("while Washington insists", "United States", "United States"),
    ("Our enrichment is peaceful", "Abbas Araghchi", "Iran"),  # transcript turn "ABBAS ARAGHCHI:"
    ("We discussed the possibility of capping", "Rafael Grossi", "IAEA"),
    ("We regard this snapback as legally void", "Masoud Pezeshkian", "Iran"),  # the speech's speaker
    ("In a letter to the Security Council, the three governments", "E3", "Europe"),
])
def test_samples_have_the_right_holders(iran_rows, opening, actor, group):
    row = _row(iran_rows, opening)
    assert (row["actor"], row["actor_group"]) == (actor, group)


def test_predictions_use_only_the_iran_issues(iran_rows):
    ids = set(load_taxonomy(TAXONOMY).ids)
    predicted = [issue for row in iran_rows for issue in row["issues"]]
    assert len(predicted) >= 20
    assert set(predicted) <= ids
    assert {"enrichment", "snapback", "inspections"} <= set(predicted)


def test_speech_reads_enrichment_and_snapback_as_irans_demands(iran_rows):
    enrichment = _row(iran_rows, "But enrichment on Iranian soil is our right")
    snapback = _row(iran_rows, "We regard this snapback as legally void")
    assert enrichment["stance"].get("enrichment") == "favor"
    assert snapback["stance"].get("snapback") == "against"
    assert snapback["maximalism"]["snapback"] >= 1.5


def test_iran_has_an_enrichment_position_over_time(iran_store):
    from pipeline.export import load_timeline
    from pipeline.store import Store

    with Store(iran_store, read_only=True) as db:
        timeline = load_timeline(db, "quarter")
    periods = {p.period for p in timeline.positions
               if p.actor == "Iran" and p.level == "group" and p.issue == "enrichment"}
    assert len(periods) >= 2  # Iran speaks on enrichment in at least two of the samples' quarters


def test_html_report_is_written(iran_store, tmp_path):
    from pipeline.export import export
    from pipeline.store import Store

    with Store(iran_store, read_only=True) as db:
        (path,) = export(db, "html", tmp_path / "iran.html")
    html = path.read_text(encoding="utf-8")
    assert "enrichment" in html and "Abbas Araghchi" in html
    assert "territory" not in html and "nato_membership" not in html
