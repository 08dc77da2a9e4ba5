"""Hostile input: random text and bytes never crash ingest, segment or attribute, and offsets stay valid."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.engine import statements_for
from pipeline.ingest import decode_bytes, read_text
from pipeline.records import Document, Problem

# Text that looks like the real thing in places: speaker labels, quotes, front matter, RTL and Cyrillic.
PIECES = st.sampled_from(["Putin: ", "Q: ", "“", "”", '"', "---\n", "date: 2025-01-01\n", "\n", "\n\n", " said ",
                          "Kyiv", "he", "Москва", "كييف", "🙂", ". ", "?", ":", "  • ", "\x00", "\r\n"])
TEXTS = st.lists(st.one_of(st.text(max_size=40), PIECES), max_size=30).map("".join)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXTS)
def test_random_text_never_crashes_and_offsets_stay_valid(text, nlp, resolver):
    items = list(read_text(text, "random.md"))
    assert all(isinstance(i, (Document, Problem)) for i in items)
    documents = [i for i in items if isinstance(i, Document)]
    for statement in statements_for(documents, resolver, nlp):
        document = next(d for d in documents if d.id == statement.doc_id)
        assert 0 <= statement.start < statement.end <= len(document.text)
        assert document.text[statement.start:statement.end] == statement.text


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=300))
def test_random_bytes_are_decoded_or_refused_with_a_reason(data):
    try:
        text, encoding = decode_bytes(data)
    except ValueError as e:
        assert str(e)
    else:
        assert isinstance(text, str) and encoding in ("utf-8", "utf-16", "cp1252")
