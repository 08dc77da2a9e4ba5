"""The records stages exchange. Ids are content hashes, so the same input always gets the same id."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

ATTRIBUTIONS = ("turn", "quote", "reported", "pronoun", "speaker")


def content_id(*parts: object, length: int = 16) -> str:
    """A stable hex id from the parts' text (sha256, truncated)."""
    digest = hashlib.sha256("\x1f".join("" if p is None else str(p) for p in parts).encode("utf-8"))
    return digest.hexdigest()[:length]


@dataclass(frozen=True)
class Turn:
    """A speaker turn of a transcript: the speaker `label` ("Jane Smith", "Q") said text[start:end]."""

    label: str
    start: int
    end: int


@dataclass(frozen=True)
class Document:
    """One input text with its metadata; offsets anywhere in Redline index into `text`."""

    id: str
    text: str
    source_path: str
    body_start: int = 0
    title: str | None = None
    date: str | None = None
    speaker: str | None = None
    source_type: str | None = None
    source: str | None = None
    url: str | None = None
    turns: tuple[Turn, ...] = ()
    meta: tuple[tuple[str, str], ...] = ()

    @staticmethod
    def make_id(text: str, date: str | None = None, speaker: str | None = None) -> str:
        """The same text with the same date and speaker is the same document, whatever its path."""
        return content_id("doc", text, date, speaker)


@dataclass(frozen=True)
class Problem:
    """An input that could not be read (quarantined) or was read with a caveat (warning)."""

    path: str
    line: int | None
    reason: str
    level: str = "error"  # "error": quarantined; "warning": read, with a caveat


@dataclass(frozen=True)
class Sentence:
    """A sentence of a document; `span` is the spaCy Span it came from (not compared, not stored)."""

    doc_id: str
    index: int
    start: int
    end: int
    text: str
    turn: int | None = None
    span: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Statement:
    """A sentence (or clause) with the actor who holds its position and how that was found."""

    id: str
    doc_id: str
    index: int
    start: int
    end: int
    text: str
    actor: str
    actor_group: str
    attribution: str
    cue: str
    date: str | None

    @staticmethod
    def make_id(doc_id: str, start: int, end: int, actor: str) -> str:
        return content_id("statement", doc_id, start, end, actor)


@dataclass(frozen=True)
class Prediction:
    """The model's reading of one statement on one issue."""

    statement_id: str
    model_id: str
    issue: str
    stance: str
    maximalism: float
    maximalism_dist: tuple[float, float, float, float]
    confidence: float
    stance_confidence: float
    zero_shot: bool = False
    low_confidence: bool = False
    targets: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DatedReading:
    """What the aggregation reads of one prediction: who said it when, and the model's reading of one issue."""

    statement_id: str
    date: Any  # a date, or an ISO date string; None or "" for an undated statement
    actor: str
    actor_group: str
    issue: str
    stance: str
    maximalism: float
    confidence: float
    low_confidence: bool


@dataclass(frozen=True)
class Position:
    """An actor's position on an issue over one period, aggregated from predictions."""

    actor: str
    actor_group: str
    level: str  # "actor" or "group"
    issue: str  # an issue id, or "_overall" for the weighted mean over the actor's issues
    period_kind: str  # "day", "week", "month", "quarter" or "year"
    period: str  # "2025-09-03", "2025-W36", "2025-09", "2025-Q3", "2025"
    period_start: str  # ISO date of the period's first day
    n: int
    maximalism: float
    maximalism_low: float
    maximalism_high: float
    favor: float
    against: float
    neutral: float
    statement_ids: tuple[str, ...]
    model_id: str


@dataclass(frozen=True)
class Shift:
    """A move of an actor's maximalism on an issue between consecutive periods, larger than the noise."""

    actor: str
    actor_group: str
    level: str
    issue: str
    period_kind: str
    from_period: str
    to_period: str
    from_maximalism: float
    to_maximalism: float
    from_interval: tuple[float, float]
    to_interval: tuple[float, float]
    from_n: int
    to_n: int
    direction: str  # "hardened" (more maximalist) or "softened"
    from_statement_ids: tuple[str, ...]
    to_statement_ids: tuple[str, ...]
    model_id: str


@dataclass(frozen=True)
class TargetPrediction:
    """The model's reading of one statement on one issue for one target it names ("North Province", "the dam").

    Where the statement's targets sit in different clauses, `clause` (text[start:end] of the document)
    was scored alone (`split`); otherwise the statement's own prediction holds for each target.
    """

    statement_id: str
    model_id: str
    issue: str
    target: str
    named: str  # the target as the text names it: "the east" for the target "North Province"
    stance: str
    maximalism: float
    confidence: float
    stance_confidence: float
    start: int
    end: int
    clause: str  # the text the model scored
    split: bool
