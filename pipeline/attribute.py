"""Attribute: sentences → `Statement` records, each with the actor who holds its position.

`attribute_statements(document, sentences, actors)` tries, in order: the transcript turn's speaker,
the frame of a direct quote (in the sentence or elsewhere in its quote block), a reporting or stance
frame ("the minister said", "the capital has signaled", "according to the government"), the subject of an author's summary
("the president continues to seek ..."), an evaluative "a non-starter for the government", and finally the document's
speaker (`author` for articles). Pronouns carry the last named actor; metonyms, titles and offices
resolve through the actor dictionary, offices by the document's date. A sentence whose clauses have
different holders ("one capital demands X, while the other insists on Y") becomes one statement per clause.
Every statement records how it was attributed and the cue that matched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .config import ActorDictionary
from .records import Document, Sentence, Statement
from .segment import entities, read_entities

AUTHOR = "author"
INTERVIEWER_CUE = "interviewer:"  # the cue of a question's statement: it names positions, holds none
# Verbs whose subject holds the position of their complement (reporting, stance and attitude verbs).
FRAME_VERBS = frozenset("""
say tell state declare announce add note stress emphasize emphasise insist warn argue claim assert affirm
reaffirm reiterate repeat confirm deny explain suggest propose offer demand call urge ask request signal
signaled signalled indicate hint write post tweet respond reply answer comment remark acknowledge admit concede
agree accept reject refuse dismiss oppose support back endorse favor favour prefer want seek wish hope
expect believe think consider view regard vow pledge promise threaten accuse blame criticize criticise
condemn welcome praise object maintain recall remind predict describe characterize characterise outline
voice express press push plan intend aim rule continue appear seem remain lay set recognize recognise make
point speak remember
""".split())
SPEECH_VERBS = frozenset("say tell state declare announce add note stress emphasize emphasise insist warn argue "
                         "claim assert affirm reaffirm reiterate repeat confirm explain write post tweet respond "
                         "reply answer comment remark acknowledge admit concede".split())
# Verbs that let "it" or "they" stand for a state or institution ("it insists", not "it seems").
GROUP_PRONOUN_VERBS = SPEECH_VERBS | frozenset("demand reject refuse want seek claim accuse urge call warn".split())
# Predicates that describe an actor's own position: "the president appears open to ...", "the capital is ready to ...".
STANCE_ADJECTIVES = frozenset("ready open willing unwilling prepared determined satisfied opposed keen eager reluctant "
                              "adamant firm serious intent focused interested unlikely likely committed convinced confident".split())
# Acts that are positions when an actor does them in an author's summary ("the government put a proposal on the table").
POLICY_VERBS = frozenset("put sign lift impose prepare table submit approve adopt veto block send deliver supply "
                         "provide annex withdraw freeze extend pause halt resume suspend guarantee drop abandon "
                         "soften harden shift compare float present unveil draft tie condition".split())
# Subordinate clauses that narrate rather than report ("a day after the president set out his terms").
NARRATIVE_MARKS = frozenset("after before when since if unless because until once whenever".split())
PRESCRIPTIVE = frozenset({"should", "ought", "must", "need", "'d", "would"})
EVALUATIVE = frozenset({"non-starter", "nonstarter", "starter", "line", "redline", "red-line", "dealbreaker",
                        "deal-breaker", "unacceptable", "acceptable", "non-negotiable", "inadmissible", "priority",
                        "precondition", "must"})
SUBJECTS = ("nsubj", "nsubjpass")
# A frame counts only on the sentence's main line, not inside a relative or noun clause
# ("There are clear limits to what the president will agree to" is the author's, not the president's).
FRAME_PATH = frozenset({"ROOT", "conj", "ccomp", "parataxis", "xcomp", "advcl"})
# Heads of subject phrases that stand for the actor named inside them ("ministry officials").
STAND_INS = frozenset("official officials spokesman spokeswoman spokesperson minister ministry diplomat diplomats "
                      "negotiator negotiators delegation government leader leaders president envoy source sources "
                      "aide aides ambassador side authorities office administration chancellor countries states "
                      "nations allies partners governments capitals members backers".split())
SOURCE_NOUNS = frozenset("verdict words remark remarks comment comments question answer view message warning "
                         "reply response assessment".split())
_QUOTES = "\"“”«»„"
_PERSON_PRONOUNS = {"he", "she", "him", "her"}
_GROUP_PRONOUNS = {"they", "it"}
_FIRST_PERSON = {"i", "we", "me", "us"}
_EXPLETIVE = {"it", "there", "this", "that"}


@dataclass(frozen=True)
class Holder:
    actor: str
    group: str
    kind: str  # person | state | organisation | group | speaker
    attribution: str
    cue: str


# --- actor dictionary lookups -------------------------------------------------------------------


class ActorResolver:
    """Finds actors in a phrase by name, alias, metonym or office (offices resolved by date)."""

    def __init__(self, actors: ActorDictionary):
        self.actors = actors
        self.by_name = {a.name: a for a in actors.actors}
        self._aliases: dict[str, str] = {}
        for actor in actors.actors:
            for alias in (actor.name, *actor.aliases):
                self._aliases.setdefault(alias.lower(), actor.name)
        self._roles = {alias.lower(): role for role in actors.roles for alias in role.aliases}
        names = sorted(set(self._aliases) | set(self._roles), key=len, reverse=True)
        self._pattern = re.compile(r"(?<![\w])(" + "|".join(re.escape(n) for n in names) + r")(?![\w])", re.I)
        self._interviewers = {i.lower() for i in actors.interviewers}
        self._demonyms = {k.lower(): v for k, v in actors.demonyms.items()}

    def mentions(self, text: str, date: str | None) -> list[tuple[int, int, str]]:
        """(start, end, actor name) of every actor mention in `text`, left to right, longest first."""
        found = []
        for match in self._pattern.finditer(text):
            name = self._name_for(match.group(1).lower(), date)
            if name:
                found.append((match.start(), match.end(), name))
        return found

    def _name_for(self, alias: str, date: str | None) -> str | None:
        if alias in self._roles:
            return _holder_on(self._roles[alias].holders, date)
        return self._aliases.get(alias)

    def holder(self, name: str, attribution: str, cue: str) -> Holder:
        actor = self.by_name.get(name)
        if actor is None:
            return Holder(name, "other", "person", attribution, cue)
        return Holder(actor.name, actor.group, actor.kind, attribution, cue)

    def speaker_label(self, label: str, date: str | None) -> Holder:
        """The holder for a transcript label ("PRESIDENT SMITH", "Q", "Jane Smith")."""
        if label.lower() in self._interviewers:
            name = "Question" if label.lower() == "q" else label
            return Holder(name, "other", "interviewer", "turn", f"{INTERVIEWER_CUE}{label}")
        mentions = self.mentions(label, date)
        if mentions:
            return self.holder(mentions[-1][2], "turn", f"turn:{label}")
        name = label.title() if label.isupper() and len(label) > 4 else label  # "MODERATOR", not "VOA"
        group = self.group_from_demonym(label) or "other"
        return Holder(name, group, "person", "turn", f"turn:{label}")

    def group_from_demonym(self, text: str) -> str | None:
        for word in re.findall(r"[\w.]+", text):
            group = self._demonyms.get(word.lower())
            if group:
                return group
        return None


def _holder_on(terms, date: str | None) -> str | None:
    if date is None:
        return terms[-1].name  # undated: the current holder
    for term in terms:
        if (term.start is None or term.start <= date) and (term.end is None or date < term.end):
            return term.name
    return None


# --- per-document state -------------------------------------------------------------------------


@dataclass
class _Context:
    document: Document
    resolver: ActorResolver
    default: Holder
    speaker_voice: bool  # a speech, interview or transcript: "we" is the speaker, frames must be explicit
    last_person: Holder | None = None
    last_group: Holder | None = None
    last_speaker: Holder | None = None  # the last holder quoted or reported saying something
    recent_people: list[Holder] = field(default_factory=list)
    turn_holders: dict[int, Holder] = field(default_factory=dict)


def attribute_documents(parsed: list[tuple[Document, list[Sentence]]], resolver: ActorResolver) -> list[Statement]:
    """Statements of a batch of segmented documents, in order. The entity recogniser, which attribution asks
    for the unlisted name heading a sentence's subject, runs first over all such sentences of the batch at
    once (see `read_entities`); what it still asks for later runs alone, with the same result."""
    read_entities(sentence.span for document, sentences in parsed for sentence in sentences
                  if sentence.span is not None
                  and any(t.dep_ in SUBJECTS and _asks_recogniser(t, resolver, document.date) for t in sentence.span))
    return [statement for document, sentences in parsed
            for statement in attribute_statements(document, sentences, resolver)]


def attribute_statements(document: Document, sentences: list[Sentence], resolver: ActorResolver) -> list[Statement]:
    """Statements of one document, in order: one per sentence, or one per clause where holders differ."""
    ctx = _Context(document, resolver, _document_holder(document, resolver),
                   speaker_voice=bool(document.turns) or _is_named_speaker(document.speaker))
    quote_state = _quote_states(document, sentences)
    statements: list[Statement] = []
    for i in range(len(sentences)):
        for start, end, holder in _attribute_sentence(sentences, i, quote_state, ctx):
            statements.append(_statement(document, len(statements), start, end, holder))
    return statements


def _statement(document: Document, index: int, start: int, end: int, holder: Holder) -> Statement:
    return Statement(
        id=Statement.make_id(document.id, start, end, holder.actor), doc_id=document.id, index=index,
        start=start, end=end, text=document.text[start:end], actor=holder.actor, actor_group=holder.group,
        attribution=holder.attribution, cue=holder.cue, date=document.date)


def _is_named_speaker(speaker: str | None) -> bool:
    return bool(speaker) and speaker.lower() not in {AUTHOR, "editor", "editorial", "staff"}


def _document_holder(document: Document, resolver: ActorResolver) -> Holder:
    if not _is_named_speaker(document.speaker):
        return Holder(AUTHOR, AUTHOR, "speaker", "speaker", "document:author")
    mentions = resolver.mentions(document.speaker, document.date)
    if mentions:
        return resolver.holder(mentions[-1][2], "speaker", f"document:{document.speaker}")
    group = resolver.group_from_demonym(document.speaker) or "other"
    return Holder(document.speaker, group, "person", "speaker", f"document:{document.speaker}")


# --- quotes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _QuoteState:
    inside: tuple[tuple[int, int], ...]  # character spans inside quotation marks, in the parse's offsets
    opens_inside: bool  # the sentence starts inside a quote opened earlier
    ends_inside: bool  # a quote is still open at its end
    quoted_share: float  # share of the sentence's word characters inside quotes


def _quote_states(document: Document, sentences: list[Sentence]) -> list[_QuoteState]:
    """Quote spans per sentence; a quote may run over several sentences of one line, never past it."""
    states, open_at, line_end = [], None, -1
    for sentence in sentences:
        if sentence.start > line_end:  # a new line (paragraph or turn) closes any quote left open
            open_at = None
            line_end = document.text.find("\n", sentence.start)
            line_end = len(document.text) if line_end < 0 else line_end
        opens_inside = open_at is not None
        base = _parse_offset(sentence)
        spans, start = [], base if opens_inside else None
        for offset, char in enumerate(sentence.text, base):
            if char in _QUOTES:
                if start is None:
                    start = offset + 1
                else:
                    spans.append((start, offset))
                    start = None
        if start is not None:
            spans.append((start, base + len(sentence.text)))
        open_at = start
        words = [c for c in sentence.text if c.isalnum()]
        inside = sum(1 for o, c in enumerate(sentence.text, base) if c.isalnum() and _in(spans, o))
        states.append(_QuoteState(tuple(spans), opens_inside, start is not None, inside / max(len(words), 1)))
    return states


def _parse_offset(sentence: Sentence) -> int:
    """Where the sentence's text starts in its parse (token.idx coordinates), so quote spans match tokens."""
    if sentence.span is None:
        return sentence.start
    text = sentence.span.text
    return sentence.span.start_char + len(text) - len(text.lstrip())


def _in(spans, offset: int) -> bool:
    return any(a <= offset < b for a, b in spans)


# --- one sentence -------------------------------------------------------------------------------


def _attribute_sentence(sentences: list[Sentence], i: int, quotes: list[_QuoteState], ctx: _Context):
    sentence, state = sentences[i], quotes[i]
    span = sentence.span
    _remember_people(span, ctx)
    base = _base_holder(sentence, ctx)
    if base.kind == "interviewer":  # a question names actors; it holds no position of theirs
        return [(sentence.start, sentence.end, base)]
    frame = _frame_holder(span, state, ctx) if span is not None else None
    if frame is None and state.quoted_share > 0.5:
        frame = _quote_block_holder(sentences, i, quotes, ctx)
    holder = frame or _summary_holder(span, state, ctx) or base
    parts = _clause_split(sentence, state, ctx, holder) if frame is None or frame.attribution != "quote" else None
    results = parts or [(sentence.start, sentence.end, holder)]
    _remember_mentions(span, ctx)
    for _, _, h in results:  # the holder, not a person merely mentioned, is the next "he"
        _remember(h, ctx)
    return results


def _base_holder(sentence: Sentence, ctx: _Context) -> Holder:
    if sentence.turn is None:
        return ctx.default
    if sentence.turn not in ctx.turn_holders:
        label = ctx.document.turns[sentence.turn].label
        holder = ctx.resolver.speaker_label(label, ctx.document.date)
        if holder.kind != "interviewer" and _only_asks(ctx.document, label):  # an outlet's label ("VOA")
            holder = Holder(holder.actor, holder.group, "interviewer", "turn", f"{INTERVIEWER_CUE}{label}")
        ctx.turn_holders[sentence.turn] = holder
    return ctx.turn_holders[sentence.turn]


def _only_asks(document: Document, label: str) -> bool:
    """Whether every turn of this speaker ends with a question (an interviewer, whatever the label)."""
    texts = [document.text[t.start:t.end].rstrip() for t in document.turns if t.label == label]
    return len(texts) >= 2 and all(text.endswith("?") for text in texts)


def _frame_holder(span, state: _QuoteState, ctx: _Context, any_depth: bool = False) -> Holder | None:
    """The holder named by the outermost reporting or stance frame outside quotation marks.

    In a speaker's own voice (a speech, a transcript turn) only reporting verbs reassign ("the government says");
    "If the other side opposes this formula" stays the speaker's.
    """
    best, best_depth = None, 99
    for token in span:
        if _in(state.inside, token.idx) or not _is_frame(token):
            continue
        if ctx.speaker_voice and token.lemma_.lower() not in SPEECH_VERBS and token.lower_ != "according":
            continue
        if _narrative(token):
            continue
        subject = _subject_of(token)
        if subject is not None and subject.dep_ == "nsubjpass":
            continue  # "he is expected to fly": the subject is talked about, not talking
        holder = _resolve_subject(subject, ctx, frame=token) if subject is not None else None
        depth = 0 if any_depth else _depth(token)
        if holder is not None and depth < best_depth:
            best, best_depth = holder, depth
        if token.lower_ == "according":
            holder = _according_to(token, ctx)
            if holder is not None and depth < best_depth:
                best, best_depth = holder, depth
    if best is None:
        best = _colon_frame(span, state, ctx) if not any_depth else None
    if best is None:
        return None
    if state.quoted_share >= 0.3 and best.attribution != "turn":
        best = Holder(best.actor, best.group, best.kind, "quote", best.cue)
    return best


def _narrative(token) -> bool:
    """A frame inside 'after/when/if ...' narrates or supposes; it does not report a position."""
    while token.head.i != token.i:
        if token.dep_ == "advcl" and any(c.dep_ == "mark" and c.lower_ in NARRATIVE_MARKS for c in token.children):
            return True
        token = token.head
    return False


def _colon_frame(span, state: _QuoteState, ctx: _Context) -> Holder | None:
    """ "The minister put the government's view plainly: “...”": the subject before a colon that opens a quote."""
    text = span.text
    colon = text.find(":")
    if colon < 0 or not state.inside or not any(c in _QUOTES for c in text[colon + 1:colon + 4]):
        return None
    heading = ctx.resolver.mentions(text[:colon], ctx.document.date)
    if heading and heading[0][0] == 0 and heading[0][1] == len(text[:colon].strip()):  # "Smith: “...”"
        return ctx.resolver.holder(heading[0][2], "quote", f"heading:{heading[0][2]}")
    for token in span:
        if token.idx - span.start_char >= colon:
            break
        if token.dep_ in SUBJECTS and token.pos_ in ("PROPN", "NOUN"):
            holder = _resolve_phrase(token, ctx, "quote", "colon")
            if holder is not None:
                return holder
    return None


def _is_frame(token) -> bool:
    if token.lower_ == "according":
        return True
    if token.pos_ not in ("VERB", "AUX") or token.lemma_.lower() not in FRAME_VERBS:
        return False
    if token.lemma_.lower() == "make":
        return any(c.lower_ in ("clear", "plain") for c in token.children)
    return True


def _according_to(token, ctx: _Context) -> Holder | None:
    for prep in token.children:
        for obj in prep.children:
            if obj.dep_ == "pobj":
                return _resolve_phrase(obj, ctx, "reported", "according to")
    return None


def _subject_of(verb):
    """The verb's subject, inherited from the head verb for coordinated verbs ("... but also confirmed")."""
    while verb is not None:
        for child in verb.children:
            if child.dep_ in SUBJECTS:
                return child
        participle = verb.dep_ == "advcl" and verb.tag_ == "VBG"  # "..., saying that ..."
        if (verb.dep_ in ("conj", "xcomp") or participle) and verb.head.i != verb.i:
            verb = verb.head
        else:
            return None
    return None


def _depth(token) -> int:
    """Steps from the token to the root, or 99 when the path leaves the main line (see FRAME_PATH)."""
    depth = 0
    while token.head.i != token.i:
        if _parenthetical(token):  # speaks for the clause of the noun it hangs on
            token = token.head
            if token.head.i == token.i:
                break
        elif token.dep_ not in FRAME_PATH:
            return 99
        token, depth = token.head, depth + 1
    return depth


def _parenthetical(token) -> bool:
    """ "The offer, the government made clear, will not be considered": a frame set off by commas that the parser
    hangs on a noun as a relative clause, though no relative word opens it."""
    if token.dep_ != "relcl" or not _is_frame(token):
        return False
    words = [t.i for t in token.subtree if not t.is_punct]
    doc, left, right = token.doc, words[0], words[-1]
    commas = left > 0 and doc[left - 1].text == "," and right + 1 < len(doc) and doc[right + 1].text == ","
    return commas and not any(t.tag_ in ("WDT", "WP", "WP$", "WRB") or t.lower_ == "that" for t in token.subtree)


def _resolve_subject(subject, ctx: _Context, frame=None) -> Holder | None:
    word = subject.lower_ if subject.pos_ == "PRON" else ""
    verb = frame.lemma_.lower() if frame is not None else "summary"
    if word in _FIRST_PERSON:
        return None  # the speaker: the base holder already says who
    if word in _PERSON_PRONOUNS:
        p = ctx.last_person
        if p is None:
            return None
        return Holder(p.actor, p.group, p.kind, "pronoun", f"pronoun:{word}→{p.actor} ({verb})")
    if word in _GROUP_PRONOUNS:
        if frame is None or verb not in GROUP_PRONOUN_VERBS or subject.head.i != frame.i:
            return None
        p = ctx.last_group or (ctx.last_person if word == "they" else None)
        if p is not None:
            return Holder(p.actor, p.group, p.kind, "pronoun", f"pronoun:{word}→{p.actor} ({verb})")
        return None
    return _resolve_phrase(subject, ctx, "reported", verb)


def _resolve_phrase(head, ctx: _Context, attribution: str, verb: str) -> Holder | None:
    """The actor a noun phrase names; the mention containing the phrase's head wins."""
    phrase, mentions, covering = _phrase_mentions(head, ctx.resolver, ctx.document.date)
    if _listed(head, mentions, covering):
        start, end, name = covering[0] if covering else _preferred(mentions, ctx)
        return ctx.resolver.holder(name, attribution, f"{verb}:{phrase[start:end]}")
    ent = _entity_at(head) if head.pos_ == "PROPN" else None
    if ent is not None and ent.label_ in ("PERSON", "ORG"):  # a name not listed
        group = (ctx.resolver.holder(mentions[0][2], "", "").group if mentions else None) \
            or ctx.resolver.group_from_demonym(phrase) or "other"
        kind = "person" if ent.label_ == "PERSON" else "organisation"
        return Holder(ent.text, group, kind, attribution, f"{verb}:{ent.text}")
    return _title_referent(phrase, ctx, attribution, verb)


def _phrase_mentions(head, resolver: ActorResolver, date) -> tuple[str, list, list]:
    """The noun phrase `head` heads, the actor mentions in it, and those of them that contain the head."""
    phrase = head.doc[head.left_edge.i:head.right_edge.i + 1].text  # not doc.text: spaCy rebuilds it per call
    mentions = resolver.mentions(phrase, date)
    offset = head.idx - head.left_edge.idx
    return phrase, mentions, [m for m in mentions if m[0] <= offset < m[1]]


def _listed(head, mentions: list, covering: list) -> bool:
    """Whether the dictionary names the phrase's actor: a mention holds the head, or the head stands in for the
    one mentioned ("officials" beside a listed name; not "a government building in the capital")."""
    return bool(covering or (mentions and head.lower_ in STAND_INS))


def _asks_recogniser(head, resolver: ActorResolver, date) -> bool:
    """Whether `_resolve_phrase` on `head` will look for a named entity (a proper noun the dictionary misses)."""
    return head.pos_ == "PROPN" and not _listed(head, *_phrase_mentions(head, resolver, date)[1:])


def _entity_at(token):
    """The named entity that covers `token`, if any."""
    return next((e for e in entities(token.sent) if e.start <= token.i < e.end), None)


def _title_referent(phrase: str, ctx: _Context, attribution: str, verb: str) -> Holder | None:
    """ "the president said": the most recently mentioned person who bears that title."""
    title = re.sub(r"^(the|this|that)\s+", "", phrase.strip().lower())
    for holder in reversed(ctx.recent_people):
        actor = ctx.resolver.by_name.get(holder.actor)
        if actor is not None and title in {t.lower() for t in actor.titles}:
            return Holder(holder.actor, holder.group, holder.kind, attribution, f"{verb}:{phrase}→{holder.actor}")
    return None


def _preferred(mentions, ctx: _Context):
    people = [m for m in mentions if ctx.resolver.holder(m[2], "", "").kind == "person"]
    return (people or mentions)[0]


def _quote_block_holder(sentences: list[Sentence], i: int, quotes: list[_QuoteState], ctx: _Context) -> Holder | None:
    """For a sentence inside a quote: the frame elsewhere in its block, before it (':') or just after."""
    first = i
    while first > 0 and quotes[first].opens_inside:
        first -= 1
    last = i
    while last + 1 < len(sentences) and quotes[last].ends_inside:
        last += 1
    candidates = [j for j in range(first, last + 1) if j != i]
    if last + 1 < len(sentences) and _same_line(sentences, last, last + 1, ctx):
        candidates.append(last + 1)
    if first > 0 and sentences[first - 1].text.rstrip().endswith(":"):
        candidates.insert(0, first - 1)
    for j in candidates:
        if sentences[j].span is None:
            continue
        holder = _frame_holder(sentences[j].span, quotes[j], ctx, any_depth=j == last + 1)
        if holder is None and j == last + 1:
            holder = _named_source(sentences[j].span, ctx)
        if holder is not None:
            return Holder(holder.actor, holder.group, holder.kind, "quote", f"quote-block:{holder.cue}")
    if ctx.last_speaker is not None and sentences[i].turn is None:
        h = ctx.last_speaker  # a frameless quote paragraph belongs to whoever was last reported speaking
        return Holder(h.actor, h.group, h.kind, "quote", f"quote-continues:{h.actor}")
    return None


def _named_source(span, ctx: _Context) -> Holder | None:
    """ "That was the verdict of the secretary of state": a sentence after a quote that names its source."""
    if not any(t.lower_ in SOURCE_NOUNS for t in span):
        return None
    people = [m for m in ctx.resolver.mentions(span.text, ctx.document.date)
              if ctx.resolver.holder(m[2], "", "").kind == "person"]
    if people:
        return ctx.resolver.holder(people[0][2], "quote", f"source:{people[0][2]}")
    ent = next((e for e in entities(span) if e.label_ == "PERSON"), None)
    return Holder(ent.text, "other", "person", "quote", f"source:{ent.text}") if ent is not None else None


def _same_line(sentences: list[Sentence], a: int, b: int, ctx: _Context) -> bool:
    return "\n" not in ctx.document.text[sentences[a].end:sentences[b].start]


def _summary_holder(span, state: _QuoteState, ctx: _Context) -> Holder | None:
    """In an author's text, the actor whose position a sentence summarises, or who finds it unacceptable."""
    if span is None or ctx.speaker_voice or state.quoted_share > 0.5:
        return None
    root = span.root
    if any(c.lower_ in PRESCRIPTIVE or c.lemma_ in PRESCRIPTIVE for c in root.children if c.dep_ == "aux") \
            or root.lemma_ in ("need", "let"):
        return None  # "he should double down on diplomacy": the author's own argument
    predicate = root
    subject = _subject_of(root)
    if subject is not None and subject.lower_ in _EXPLETIVE:  # "it's possible that the president might be open ..."
        predicate = next((c for c in root.children if c.dep_ in ("ccomp", "xcomp", "acomp")
                          and _subject_of(c) is not None), None)
        subject = _subject_of(predicate) if predicate is not None else None
    pronoun = subject is not None and subject.lower_ in _PERSON_PRONOUNS and predicate is root
    passive_stance = subject is not None and subject.dep_ == "nsubjpass" and predicate.lower_ in STANCE_ADJECTIVES
    if subject is not None and (subject.dep_ == "nsubj" or passive_stance) and \
            (pronoun or _states_a_position(predicate)):
        holder = _resolve_subject(subject, ctx)
        if holder is not None:
            return holder
    return _evaluative_holder(span, ctx)


def _states_a_position(predicate) -> bool:
    """ "The president is not yet ready to ...", "The capital appears satisfied ...": a stance adjective on the predicate."""
    if predicate.lemma_.lower() in POLICY_VERBS:
        return True
    words = [predicate, *predicate.children]
    return any(w.lower_ in STANCE_ADJECTIVES and w.dep_ in ("acomp", "ROOT", "ccomp", "xcomp", "oprd") for w in words)


def _evaluative_holder(span, ctx: _Context) -> Holder | None:
    """ "... is a non-starter for the government", "unacceptable to the capital": the holder is the object of for/to."""
    for token in span:
        if token.dep_ == "prep" and token.lower_ in ("for", "to") and token.head.lower_ in EVALUATIVE:
            for obj in token.children:
                if obj.dep_ == "pobj":
                    holder = _resolve_phrase(obj, ctx, "reported", f"{token.head.lower_} {token.lower_}")
                    if holder is not None:
                        return holder
    return None


def _clause_split(sentence: Sentence, state: _QuoteState, ctx: _Context, holder: Holder):
    """Split a sentence whose coordinated clauses have different holders; None when it has one."""
    span = sentence.span
    if span is None or state.quoted_share > 0.5:
        return None
    root = span.root
    clauses = [c for c in span if c.dep_ in ("conj", "advcl") and c.pos_ in ("VERB", "AUX") and c.i > root.i
               and _depth(c) <= 2 and any(s.dep_ in SUBJECTS for s in c.children)
               and (_is_frame(c) or not _supposed(c))]
    for clause in clauses:
        sub_state = _QuoteState(state.inside, False, False, 0.0)
        second = _frame_holder_within(clause, sub_state, ctx) or (
            None if ctx.speaker_voice else _resolve_subject(_subject_of(clause), ctx))
        if second is None or second.actor == holder.actor:
            continue
        begin = _clause_start(clause)  # offsets below are in the parsed line's coordinates
        first_end, text = begin, span.text  # span.doc.text would rebuild the whole line's text
        while first_end > span.start_char and text[first_end - 1 - span.start_char] in " ,;:–—-":
            first_end -= 1
        if first_end <= span.start_char or begin >= span.end_char:
            continue
        line_offset = sentence.start - span.start_char
        first_holder = holder if holder.attribution != "speaker" or ctx.speaker_voice else \
            _evaluative_holder(span[:clause.left_edge.i - span.start], ctx) or holder
        return [(sentence.start, line_offset + first_end, first_holder),
                (line_offset + begin, sentence.end, second)]
    return None


def _supposed(clause) -> bool:
    """ "He said that if the other side broke through, ...": a clause that supposes or narrates ("if", "when")
    names no holder of its own."""
    return clause.dep_ == "advcl" and any(c.dep_ == "mark" and c.lower_ in NARRATIVE_MARKS for c in clause.children)


def _frame_holder_within(clause, state: _QuoteState, ctx: _Context) -> Holder | None:
    if not _is_frame(clause):
        return None
    subject = _subject_of(clause)
    return _resolve_subject(subject, ctx, frame=clause) if subject is not None else None


def _clause_start(clause) -> int:
    """Character offset (in the parse) where a coordinated clause begins, with its 'and'/'while'/'but'."""
    start = clause.left_edge
    previous = clause.doc[start.i - 1] if start.i > 0 else None
    if previous is not None and previous.dep_ == "cc" and previous.head.i == clause.head.i:
        start = previous
    return start.idx


# --- memory for pronouns ------------------------------------------------------------------------


def _remember(holder: Holder, ctx: _Context) -> None:
    if holder.kind == "person" and holder.attribution not in ("speaker", "turn"):
        ctx.last_person = holder
    elif holder.kind in ("state", "organisation", "group"):
        ctx.last_group = holder
    if holder.attribution == "quote" or _speech_cue(holder.cue):
        ctx.last_speaker = holder


def _speech_cue(cue: str) -> bool:
    """ "say:Smith", "pronoun:he→Smith (tell)", "according to:...": the holder was reported speaking or
    taking a position through a frame verb (not a quote block, a summary or the document's voice)."""
    verb = cue.split(":", 1)[0]
    if verb == "pronoun":
        verb = cue.rsplit("(", 1)[-1].rstrip(")")
    return verb in FRAME_VERBS or verb == "according to"


def _remember_people(span, ctx: _Context) -> None:
    """People named in the sentence, most recent last: "the president" refers to the last one with that title."""
    if span is None:
        return
    for _, _, name in ctx.resolver.mentions(span.text, ctx.document.date):
        holder = ctx.resolver.holder(name, "pronoun", "mention")
        if holder.kind == "person":
            ctx.recent_people = [h for h in ctx.recent_people if h.actor != name][-8:] + [holder]


def _remember_mentions(span, ctx: _Context) -> None:
    """Named people in subject position become the referent of a later 'he' or 'she'."""
    if span is None:
        return
    for token in span:
        if token.dep_ in SUBJECTS and token.lower_ not in _PERSON_PRONOUNS | _GROUP_PRONOUNS | _FIRST_PERSON:
            holder = _resolve_phrase(token, ctx, "pronoun", "mention")
            if holder is not None and holder.kind == "person":
                ctx.last_person = holder
