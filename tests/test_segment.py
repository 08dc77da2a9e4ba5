"""Segment: sentences with offsets into the original text; never across a line or a speaker turn."""

from __future__ import annotations

from pipeline.ingest import read_text
from pipeline.records import Document
from pipeline.segment import segment_documents


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
