"""Segment: sentences with offsets into the original text; never across a line or a speaker turn."""

from __future__ import annotations

import gc
import weakref

from pipeline.ingest import read_text
from pipeline.records import Document
from pipeline.segment import PENDING, entities, parsing, read_entities, segment_documents


def _document(text: str) -> Document:
    return next(d for d in read_text(text, "t.md") if isinstance(d, Document))


def test_offsets_slice_the_original_text_including_front_matter(nlp):
    doc = _document("---\ntitle: x\ndate: 2025-01-01\n---\nPutin spoke. He said “no”, again.\n\n  • Kyiv refused.\n")
    ((_, sentences),) = segment_documents([doc], nlp)
    assert [s.text for s in sentences] == ["Putin spoke.", "He said “no”, again.", "Kyiv refused."]
    assert all(doc.text[s.start:s.end] == s.text for s in sentences)


def test_a_sentence_never_crosses_a_speaker_turn(nlp):
    doc = _document("Q: Will you sign it\nDmitry Peskov: No. We will not sign it\nQ: Why not\n")
    ((_, sentences),) = segment_documents([doc], nlp)
    assert [(s.turn, s.text) for s in sentences] == [
        (0, "Will you sign it"), (1, "No."), (1, "We will not sign it"), (2, "Why not")]
    assert all(doc.text[s.start:s.end] == s.text for s in sentences)


def test_entities_are_found_only_when_asked_for_and_then_as_a_full_pipeline_finds_them(nlp):
    text = "Ilkka Virtanen, a Finnish mediator, told reporters in Geneva that the talks would resume."
    ((_, (sentence,)),) = segment_documents([_document(text)], nlp)
    assert not sentence.span.doc.has_annotation("ENT_IOB")  # segmentation leaves the recogniser out
    found = [(e.text, e.label_) for e in entities(sentence.span)]
    assert found == [(e.text, e.label_) for e in nlp(text).ents] and ("Ilkka Virtanen", "PERSON") in found
    assert "ner" in nlp.pipe_names and "ner" not in nlp.disabled  # the shared pipeline is left whole


def test_entities_of_one_sentence_of_a_line_are_spans_of_the_line_and_read_with_what_comes_before(nlp):
    """The recogniser runs on the sentence that asks (and a few tokens before it), not on its whole line; what
    it finds is what it finds on the whole line."""
    text = ("Talks in Geneva ended without a date for the next round, a person familiar with the Kremlin's "
            "thinking said. Morawiecki called Poland the loudest advocate of Ukraine in the EU.")
    ((_, sentences),) = segment_documents([_document(text)], nlp)
    second = sentences[1].span
    found = entities(second)
    assert all(second.start <= e.start and e.end <= second.end and e.doc is second.doc for e in found)
    whole = [(e.text, e.label_) for e in nlp(text).ents if e.start >= second.start]
    assert [(e.text, e.label_) for e in found] == whole and ("Morawiecki", "PERSON") in whole
    second.doc.user_data[PENDING] = (_must_not_run,)
    assert entities(second) == found  # read once per sentence: asking again runs no recogniser


def _must_not_run(doc):
    raise AssertionError("the recogniser ran twice on one sentence")


def test_entities_read_in_one_batch_are_those_each_sentence_finds_alone_and_are_not_read_again(nlp):
    """The engine runs the recogniser over a batch's sentences at once (half the time of one by one)."""
    texts = ["Morawiecki called Poland the loudest advocate of Ukraine in the EU. Talks resumed on Monday.",
             "Ilkka Virtanen, a Finnish mediator, told reporters in Geneva that the talks would resume.",
             "Asked about the plan, Kaja Kallas said Europe would not accept a ceasefire on those terms."]
    documents = [_document(text) for text in texts]
    alone = [[(e.text, e.label_, e.start) for s in sentences for e in entities(s.span)]
             for _, sentences in segment_documents(documents, nlp)]
    parsed = list(segment_documents(documents, nlp))
    read_entities(s.span for _, sentences in parsed for s in sentences)
    for _, sentences in parsed:
        for s in sentences:
            s.span.doc.user_data[PENDING] = (_must_not_run,)
    assert [[(e.text, e.label_, e.start) for s in sentences for e in entities(s.span)]
            for _, sentences in parsed] == alone
    assert ("Ilkka Virtanen", "PERSON") in [(text, label) for text, label, _ in alone[1]]
    assert all(alone)


class _Marker:
    """A stand-in for a second pipeline's recogniser: marks each window's first token as an entity."""

    def pipe(self, docs, batch_size=64):
        from spacy.tokens import Span

        for doc in docs:
            doc.ents = [Span(doc, 0, 1, label="MARKED")]
            yield doc


def test_entities_of_docs_from_two_pipelines_read_together_come_from_each_docs_own_recogniser(nlp):
    documents = [_document("Kaja Kallas said Europe would not accept it."),
                 _document("Ilkka Virtanen told reporters the talks would resume.")]
    (alone,), _ = (sentences for _, sentences in segment_documents(documents, nlp))
    expected = [(e.text, e.label_) for e in entities(alone.span)]
    (first,), (second,) = (sentences for _, sentences in segment_documents(documents, nlp))
    second.span.doc.user_data[PENDING] = (_Marker(),)
    read_entities([second.span, first.span])  # the other pipeline's sentence first
    assert [(e.text, e.label_) for e in entities(first.span)] == expected
    assert "Kaja Kallas" in [text for text, _ in expected]
    assert [(e.text, e.label_) for e in entities(second.span)] == [("Ilkka", "MARKED")]


def test_worker_processes_parse_on_one_blas_thread_each(nlp):
    """With `n_process`, each forked worker multiplies on one BLAS thread: with the library's default (a thread
    per core), two workers on two cores parsed at under half the rate."""
    from spacy.language import Language

    if "test_blas_threads" not in Language.factories:
        @Language.component("test_blas_threads")
        def _record(doc):
            from threadpoolctl import threadpool_info

            doc.user_data["blas_threads"] = max(lib["num_threads"] for lib in threadpool_info()
                                                if lib["user_api"] == "blas")
            return doc

    nlp.add_pipe("test_blas_threads")
    try:
        texts = [f"Kyiv refused the plan on day {n}. Moscow said nothing." for n in range(8)]
        parsed = list(segment_documents([_document(t) for t in texts], nlp, batch_size=2, n_process=2))
    finally:
        nlp.remove_pipe("test_blas_threads")
    threads = {s.span.doc.user_data.get("blas_threads") for _, sentences in parsed for s in sentences}
    assert threads == {1}
    assert [len(sentences) for _, sentences in parsed] == [2] * 8


def test_the_parse_multiplies_on_one_blas_thread_and_gives_that_thread_back(nlp):
    """The engine parses on one core while the encoder uses the other: numpy's BLAS, which the pipeline's layers
    multiply through, keeps to one thread during a parse and has its threads back after."""
    from threadpoolctl import threadpool_info

    def blas_threads() -> list[int]:
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    before = blas_threads()
    with parsing():
        assert blas_threads() and set(blas_threads()) == {1}
        nlp("Kyiv refused.")
    assert blas_threads() == before
    assert {type(layer.ops).__name__ for _, c in nlp.pipeline if getattr(c, "model", None) is not None
            for layer in c.model.walk() if getattr(layer.ops, "use_blis", False)} == set()


def test_a_parsed_doc_is_freed_when_its_statements_are_dropped_not_left_to_the_cycle_collector(nlp):
    """A long run parses millions of lines: a doc that points at itself (a span kept in its user_data) waits for
    Python's full collections, and the process grew by tens of MB per thousand documents."""
    gc.disable()
    try:
        ((_, sentences),) = segment_documents([_document("Morawiecki called Poland the loudest advocate of "
                                                         "Ukraine in the EU.")], nlp)
        assert entities(sentences[0].span)
        alive = weakref.ref(sentences[0].span.doc)
        del sentences
        assert alive() is None
    finally:
        gc.enable()


def test_spacy_batches_are_bounded_in_characters_and_give_the_same_sentences(nlp, monkeypatch):
    """A batch's memory in spaCy's parser grows with its tokens, so batches are cut by characters; where
    they are cut changes nothing in what comes out."""
    import pipeline.segment as segment

    paragraphs = [f"Paragraph {i}: Moscow rejected the plan. Kyiv said it would not cede Donetsk, officials added."
                  for i in range(12)]
    documents = [_document("\n\n".join(paragraphs[k:k + 4])) for k in (0, 4, 8)]
    calls: list[int] = []
    real_bounded = segment._bounded

    def recording(*args):
        for group in real_bounded(*args):
            calls.append(sum(len(text) for text, _ in group))
            yield group

    monkeypatch.setattr(segment, "_bounded", recording)
    monkeypatch.setattr(segment, "MAX_BATCH_CHARS", 250)
    small = [[(s.start, s.end, s.text) for s in sentences] for _, sentences in segment_documents(documents, nlp)]
    assert len(calls) >= 6 and max(calls) <= 250
    calls.clear()
    monkeypatch.setattr(segment, "MAX_BATCH_CHARS", 100_000)
    whole = [[(s.start, s.end, s.text) for s in sentences] for _, sentences in segment_documents(documents, nlp)]
    assert len(calls) == 1
    assert small == whole and len(whole[0]) == 8


def test_tag_rules_give_every_token_the_attributes_spacys_attribute_ruler_gives(nlp):
    """The pipeline's attribute ruler is swapped for table lookups (a fifth of the parse was its matcher) and its
    layers multiply through numpy's BLAS, not blis; tags, coarse tags, morphology, lemmas and the parse come out
    as spaCy's own pipeline sets them, contractions, several-token rules and whitespace tokens included."""
    import spacy

    stock = spacy.load(_package_of())
    assert type(stock.get_pipe("attribute_ruler")).__name__ == "AttributeRuler"
    assert type(nlp.get_pipe("attribute_ruler")).__name__ == "TagRules"
    texts = ["I ain't gonna sign it, y'all, and we're not doin' it again.  There's no deal; there is hope.",
             "Let's be clear: he said they would have done it, but I'd wait. You told me, didn't you?",
             "The minister, who has been in Kyiv since Monday, said talks were 'going nowhere'.\n\nNothing more."]
    for ours, theirs in zip(nlp.pipe(texts), stock.pipe(texts)):
        assert _attributes(ours) == _attributes(theirs)


def _attributes(doc) -> list[tuple]:
    return [(t.text, t.tag_, t.pos_, str(t.morph), t.lemma_, t.dep_, t.head.i) for t in doc]


def _package_of() -> str:
    """The spaCy package `load_spacy` loaded (the official one first)."""
    import importlib.util

    from pipeline.segment import SPACY_MODELS

    return next(name for name in SPACY_MODELS if importlib.util.find_spec(name) is not None)
