"""Attribute: who holds each statement, and how that was found."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.engine import statements_for
from pipeline.ingest import read_inputs
from pipeline.records import Document

from .conftest import SAMPLES, SHARED


def _holder_of(statements, fragment: str):
    found = [s for s in statements if fragment in s.text]
    assert found, f"no statement contains {fragment!r}"
    return found[0]


@pytest.fixture(scope="module")
def seed_statements(nlp, resolver):
    path = SHARED / "examples" / "seed-article.md"
    if not path.exists():
        pytest.skip("../shared/examples/seed-article.md is not present")
    documents = [d for d in read_inputs([path]) if isinstance(d, Document)]
    return statements_for(documents, resolver, nlp)


@pytest.mark.parametrize("fragment", [
    "if common sense prevails", "membership in NATO is a redline", "Moscow does not object",
    "oversee the Zaporizhzhia Nuclear Power Plant", "He continues to seek full control of Donetsk",
])
def test_seed_article_gives_putins_terms_to_putin_or_russia(seed_statements, fragment):
    statement = _holder_of(seed_statements, fragment)
    assert statement.actor_group == "Russia" and statement.actor in {"Vladimir Putin", "Russia"}


def test_seed_article_splits_kyivs_objection_from_putins_veto(seed_statements):
    kyiv = _holder_of(seed_statements, "This is a non-starter for Kyiv")
    assert (kyiv.actor, kyiv.text) == ("Ukraine", "This is a non-starter for Kyiv")
    assert _holder_of(seed_statements, "Putin is likely to veto").actor == "Vladimir Putin"


def test_seed_article_keeps_the_authors_own_argument(seed_statements):
    assert _holder_of(seed_statements, "he should double down on diplomacy").actor == "author"


def test_quote_frame_after_and_pronoun_carry(attribute_text):
    # meeting reporters is narration (the author's); the quote and the "He added" are Lavrov's
    statements = attribute_text(
        "Sergei Lavrov met reporters in Moscow. “We will not accept foreign troops,” he said. "
        "He added that talks could resume.", date="2025-03-01", source_type="news_report")
    assert [(s.actor, s.attribution) for s in statements] == [
        ("author", "speaker"), ("Sergei Lavrov", "quote"), ("Sergei Lavrov", "pronoun")]


def test_quote_block_frame_comes_at_its_end(attribute_text):
    statements = attribute_text("“Crimea is Ukraine. We will take it back,” Zelensky said.", date="2023-01-01")
    assert {(s.actor, s.attribution) for s in statements} == {("Volodymyr Zelensky", "quote")}


def test_frame_before_the_quote(attribute_text):
    (statement,) = attribute_text("Peskov told reporters: “The new regions are part of Russia.”", date="2023-01-01")
    assert (statement.actor, statement.actor_group, statement.attribution) == ("Dmitry Peskov", "Russia", "quote")


def test_metonyms_resolve_through_the_actor_dictionary(attribute_text):
    statements = attribute_text("Moscow has signaled flexibility. Brussels insists on new sanctions.",
                                date="2025-01-01", source_type="news_report")
    assert [(s.actor, s.actor_group) for s in statements] == [("Russia", "Russia"), ("European Union", "Europe")]


def test_two_holders_in_one_sentence_become_two_statements(attribute_text):
    statements = attribute_text("Moscow demands all of Donetsk, while Kyiv insists on the current line.",
                                date="2025-08-20", source_type="news_report")
    assert [(s.actor, s.text) for s in statements] == [
        ("Russia", "Moscow demands all of Donetsk"), ("Ukraine", "while Kyiv insists on the current line.")]


def test_transcript_turns_and_questions(attribute_text):
    statements = attribute_text("Question: Does Kyiv say it will hold elections?\n"
                                "PRESIDENT ZELENSKY: We will hold elections after the war.\n", date="2025-02-01")
    assert [(s.actor, s.attribution) for s in statements] == [
        ("Question", "turn"), ("Volodymyr Zelensky", "turn")]


def test_a_speech_stays_with_its_speaker_unless_someone_else_is_reported(attribute_text):
    statements = attribute_text("If Kyiv rejects this offer, the conditions will change. "
                                "Kyiv says it wants peace.", speaker="Vladimir Putin", date="2024-06-14",
                                source_type="speech")
    assert [s.actor for s in statements] == ["Vladimir Putin", "Ukraine"]


@pytest.mark.parametrize("date, president", [("2022-05-01", "Joe Biden"), ("2025-05-01", "Donald Trump")])
def test_offices_resolve_by_the_documents_date(attribute_text, date, president):
    (statement,) = attribute_text("The US president said sanctions will stay.", date=date)
    assert statement.actor == president


def test_every_statement_records_how_and_why(attribute_text):
    for statement in attribute_text("Kyiv rejects the plan, Kuleba said.", date="2023-04-04"):
        assert statement.attribution in {"turn", "quote", "reported", "pronoun", "speaker"} and statement.cue


def test_attribution_on_the_samples_meets_the_bar(nlp, resolver):
    from benchmarks.attribution import score_set

    scores, _ = score_set(SAMPLES / "documents", SAMPLES / "gold.jsonl", resolver)
    assert scores["all"]["actor"] >= 0.90, scores


def test_offsets_always_slice_the_document(nlp, resolver):
    documents = [d for d in read_inputs([Path(SAMPLES) / "documents"]) if isinstance(d, Document)]
    by_id = {d.id: d for d in documents}
    for statement in statements_for(documents, resolver, nlp):
        assert by_id[statement.doc_id].text[statement.start:statement.end] == statement.text


def test_a_speaker_who_only_asks_questions_is_an_interviewer(attribute_text):
    statements = attribute_text("NEWSDESK: Will Kyiv accept a freeze of the front line?\n"
                                "Kirby: We will not decide that for Ukraine.\n"
                                "NEWSDESK: And sanctions, will they stay?\n", date="2023-03-19")
    asker = [s for s in statements if s.actor == "Newsdesk"]
    assert len(asker) == 2 and all(s.cue.startswith("interviewer:") for s in asker)


def test_a_frameless_quote_paragraph_belongs_to_the_last_speaker_reported(attribute_text):
    # Zelensky is quoted first; the next paragraph reports Lavrov; the bare quote after it is Lavrov's
    statements = attribute_text(
        "“We need more air defence before winter,” Zelensky told the summit.\n\n"
        "But Lavrov dismissed the appeal and said Kyiv had to face the facts on the ground.\n\n"
        "“The regions have made their choice. Nobody will hand them back.”",
        date="2023-02-01", source_type="news_report")
    assert _holder_of(statements, "made their choice").actor == "Sergei Lavrov"
    assert _holder_of(statements, "Nobody will hand them back").actor == "Sergei Lavrov"
    assert _holder_of(statements, "air defence").actor == "Volodymyr Zelensky"


def test_a_frame_set_off_by_commas_names_the_holder(attribute_text):
    (statement,) = attribute_text("That offer, Kyiv made clear, is not on the table.", date="2024-07-05",
                                  source_type="news_report")
    assert (statement.actor, statement.actor_group) == ("Ukraine", "Ukraine")
    (statement,) = attribute_text("That offer, which Kyiv made public, is not on the table.", date="2024-07-05",
                                  source_type="news_report")
    assert statement.actor == "author"


def test_a_supposed_clause_inside_a_report_keeps_the_reported_speaker(attribute_text):
    (statement,) = attribute_text("Emmanuel Macron has said that if Russia broke through the front and Kyiv asked "
                                  "for help, the question of sending Western troops would legitimately arise.",
                                  date="2024-05-02", source_type="news_report")
    assert (statement.actor, statement.attribution) == ("Emmanuel Macron", "reported")


class _Counting:
    """A recogniser that keeps the size of each batch it reads."""

    def __init__(self, pipe):
        self.pipe_, self.batches = pipe, []

    def pipe(self, docs, batch_size):
        docs = list(docs)
        self.batches.append(len(docs))
        return self.pipe_.pipe(docs, batch_size=batch_size)


def test_a_batch_is_attributed_as_each_document_alone_with_the_recogniser_run_over_it_at_once(nlp, resolver):
    """Attribution asks the entity recogniser about the unlisted names heading subjects; a batch of documents
    has those sentences read together beforehand, which halves the recogniser's time and changes no holder."""
    from pipeline.attribute import attribute_documents, attribute_statements
    from pipeline.segment import PENDING, segment_documents

    documents = [d for d in read_inputs([SAMPLES / "documents"]) if isinstance(d, Document)]
    alone = [s for d, sentences in segment_documents(documents, nlp)
             for s in attribute_statements(d, sentences, resolver)]
    parsed = list(segment_documents(documents, nlp))
    counting = _Counting(nlp.get_pipe("ner"))
    for _, sentences in parsed:
        for sentence in sentences:
            sentence.span.doc.user_data[PENDING] = (counting,)
    assert attribute_documents(parsed, resolver) == alone
    read, one_by_one = sum(counting.batches), counting.batches.count(1)
    assert read >= 10 and one_by_one <= read / 10, counting.batches
