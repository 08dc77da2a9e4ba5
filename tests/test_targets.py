"""Positions per target: clauses split where one statement makes different demands on different places."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.classify import Scores
from pipeline.config import load_taxonomy
from pipeline.records import Document, Prediction, Statement
from pipeline.store import Store
from pipeline.targets import classify_pending_targets, split_clauses, target_predictions

SEED_SENTENCE = ("He continues to seek full control of Donetsk but appears satisfied freezing the lines of contact "
                 "in Zaporizhzhia and Kherson.")


class WordingModel:
    """A stand-in for RedlineModel.score: maximal where the text says "full control" or "never", else conceding."""

    model_id = "wording@0"

    def __init__(self):
        self.taxonomy = load_taxonomy()
        self.scored: list[str] = []

    def score(self, texts, groups):
        self.scored.extend(texts)
        issues = self.taxonomy.ids
        hard = np.array([("full control" in t or "never" in t) for t in texts], dtype=float)
        maximalism = np.zeros((len(texts), len(issues), 4))
        maximalism[:, :, 3], maximalism[:, :, 0] = hard[:, None], 1 - hard[:, None]
        stance = np.zeros((len(texts), len(issues), 3))
        stance[:, :, 0] = 1.0
        return Scores(np.ones((len(texts), len(issues))), stance, maximalism, issues, (False,) * len(issues))


def _statement(text: str, start: int = 100) -> Statement:
    return Statement(Statement.make_id("d", start, start + len(text), "Vladimir Putin"), "d", 0, start,
                     start + len(text), text, "Vladimir Putin", "Russia", "reported", "say:Putin", "2025-09-08")


def _prediction(statement: Statement, issue: str, maximalism: float, targets: tuple[str, ...]) -> Prediction:
    return Prediction(statement.id, WordingModel.model_id, issue, "favor", maximalism, (0.0, 0.0, 0.5, 0.5), 0.9,
                      0.8, targets=targets)


def test_the_seed_sentence_splits_into_two_demands(nlp):
    first, second = split_clauses(SEED_SENTENCE, nlp)
    assert SEED_SENTENCE[first.start:first.end] == "He continues to seek full control of Donetsk"
    assert first.sentence == "He continues to seek full control of Donetsk."
    # the second clause borrows its subject and loses the "but" that joined it
    assert second.sentence == "He appears satisfied freezing the lines of contact in Zaporizhzhia and Kherson."
    assert SEED_SENTENCE[second.start:second.end].startswith("but appears")


@pytest.mark.parametrize("text, sentences", [
    ("Russia will never give up Crimea; it could discuss the line in Kherson.",
     ["Russia will never give up Crimea.", "It could discuss the line in Kherson."]),
    ("Kyiv refuses to cede Donetsk, while a freeze in Zaporizhzhia might be possible.",
     ["Kyiv refuses to cede Donetsk.", "A freeze in Zaporizhzhia might be possible."]),
    ("Russia demands Donetsk and Luhansk.", ["Russia demands Donetsk and Luhansk."]),
])
def test_clauses_split_at_semicolons_contrasts_and_coordinated_predicates_only(nlp, text, sentences):
    assert [c.sentence for c in split_clauses(text, nlp)] == sentences


def test_each_target_gets_the_demand_of_its_own_clause(nlp):
    model, statement = WordingModel(), _statement(SEED_SENTENCE)
    readings = target_predictions([statement], [_prediction(statement, "territory", 2.9,
                                                            ("Donetsk", "Zaporizhzhia", "Kherson"))], model, nlp)
    by_target = {r.target: r for r in readings}
    assert set(by_target) == {"Donetsk", "Zaporizhzhia", "Kherson"}
    assert by_target["Donetsk"].maximalism == 3.0 and by_target["Kherson"].maximalism == 0.0
    assert by_target["Zaporizhzhia"].clause == by_target["Kherson"].clause == model.scored[-1]
    assert all(r.split and r.issue == "territory" and r.confidence == 0.9 for r in readings)
    # offsets index the document, as a statement's do
    assert (by_target["Donetsk"].start, by_target["Donetsk"].end) == (100, 144)


def test_one_demand_on_several_targets_keeps_the_statements_reading(nlp):
    model, statement = WordingModel(), _statement("Russia will not hand back Donbas.")
    readings = target_predictions([statement], [_prediction(statement, "territory", 2.2, ("Donbas",))], model, nlp)
    assert [(r.target, r.named, r.maximalism, r.split) for r in readings] == [
        ("Donetsk", "Donbas", 2.2, False), ("Luhansk", "Donbas", 2.2, False)]
    assert model.scored == []


def test_targets_count_only_for_their_own_issue(nlp):
    model = WordingModel()
    statement = _statement("Russia wants full control of Crimea but could share the Zaporizhzhia nuclear power plant.")
    predictions = [_prediction(statement, "territory", 2.5, ("Crimea", "Zaporizhzhia NPP")),
                   _prediction(statement, "nuclear_plant", 1.0, ("Crimea", "Zaporizhzhia NPP"))]
    readings = target_predictions([statement], predictions, model, nlp)
    assert {(r.issue, r.target, r.split) for r in readings} == {("territory", "Crimea", False),
                                                                ("nuclear_plant", "Zaporizhzhia NPP", False)}


def test_the_store_keeps_target_readings_and_a_rerun_adds_none(tmp_path, nlp):
    model, statement = WordingModel(), _statement(SEED_SENTENCE, start=0)
    document = Document(id="d", text=SEED_SENTENCE, source_path="/seed.md", date="2025-09-08")
    with Store(tmp_path / "s.duckdb") as store:
        run_id = store.start_run(["inline"], model.model_id)
        store.write_batch(run_id, [document], [statement], [_prediction(statement, "territory", 2.9,
                                                                        ("Donetsk", "Zaporizhzhia", "Kherson"))],
                          model.model_id)
        assert classify_pending_targets(store, model, nlp, run_id) == 3
        assert classify_pending_targets(store, model, nlp, run_id) == 0
        rows = store.target_predictions(model.model_id)
        assert store.statements(model_id=model.model_id)[0]["maximalism"] == {"territory": 2.9}
    assert sorted((r["target"], r["maximalism"]) for r in rows) == [("Donetsk", 3.0), ("Kherson", 0.0),
                                                                     ("Zaporizhzhia", 0.0)]
    donetsk = next(r for r in rows if r["target"] == "Donetsk")
    assert SEED_SENTENCE[donetsk["start"]:donetsk["end"]] == "He continues to seek full control of Donetsk"


def test_a_statement_whose_targets_give_no_reading_is_read_once(tmp_path, nlp):
    """Its predictions name a place that is no target of their issue: no reading, and no second look on
    the next run (a store of a million statements re-read thousands of them at the end of every run)."""
    model, statement = WordingModel(), _statement(SEED_SENTENCE, start=0)
    document = Document(id="d", text=SEED_SENTENCE, source_path="/seed.md", date="2025-09-08")
    prediction = _prediction(statement, "nato_membership", 2.0, ("Donetsk",))
    with Store(tmp_path / "s.duckdb") as store:
        run_id = store.start_run(["inline"], model.model_id)
        store.write_batch(run_id, [document], [statement], [prediction], model.model_id)
        assert [s.id for s in store.untargeted(model.model_id)[0]] == [statement.id]
        assert classify_pending_targets(store, model, nlp, run_id) == 0
        assert store.untargeted(model.model_id) == ([], [])
    with Store(tmp_path / "engine.duckdb") as store:  # the engines read targets with each batch and say so
        run_id = store.start_run(["inline"], model.model_id)
        store.write_batch(run_id, [document], [statement], [prediction], model.model_id, targets=[],
                          targets_read=True)
        assert store.untargeted(model.model_id) == ([], [])


def test_each_taxonomy_reads_its_own_targets_dictionary():
    from pipeline.classify import find_targets
    from pipeline.config import CONFIGS, load_taxonomy

    default, iran = load_taxonomy(), load_taxonomy(CONFIGS / "issues" / "iran_nuclear.yaml")
    text = "Tehran will not give up enrichment at Fordow, and the plant in Zaporizhzhia must be returned."
    assert find_targets(text, iran) == ["Fordow"]
    assert find_targets(text, default) == ["Zaporizhzhia"]


def test_a_name_inside_a_longer_name_of_another_target_does_not_count(tmp_path):
    from pipeline.classify import find_targets
    from pipeline.config import Taxonomy, load_taxonomy

    targets = tmp_path / "targets.yaml"
    targets.write_text("North Province: [North Province, Northtown]\n"
                       "Northtown dam: [Northtown dam, the dam]\n", encoding="utf-8")
    taxonomy = Taxonomy(**{**load_taxonomy().model_dump(), "targets": str(targets)})
    assert find_targets("The Northtown dam stays under inspection.", taxonomy) == ["Northtown dam"]
    assert find_targets("Northtown and the Northtown dam.", taxonomy) == ["North Province", "Northtown dam"]
    assert find_targets("The Zaporizhzhia nuclear power plant was shelled.", load_taxonomy()) == ["Zaporizhzhia NPP"]
