"""Targets: a position per place or object where one statement makes different demands on each.

"He continues to seek full control of the north but appears satisfied freezing the lines in the east and
the south" is one statement on a border issue with three targets and two demands. Where a
statement's targets of one issue sit in different clauses (coordinated predicates, "while"/"whereas"
clauses, ";"), each clause is made a sentence of its own ("He appears satisfied freezing the lines ...") and
scored by the model on the statement's issues only; elsewhere the statement's prediction holds for each of
its targets. Targets are the canonical names of the targets dictionary (configs/targets/); configs/terms.yaml
says which targets belong to which issue and which name several ("the east" → North Province, South Province).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .config import MAXIMALISM_LEVELS, STANCES
from .records import Prediction, Statement, TargetPrediction
from .segment import parsing
from .terms import TermsConfig, load_terms_config

SUBJECTS = ("nsubj", "nsubjpass", "expl")
CONTRAST_MARKS = ("while", "whereas", "although", "though", "but")
PREDICATES = ("VERB", "AUX")


@dataclass(frozen=True)
class Clause:
    """Characters [start, end) of a statement's text, and the sentence the model scores for it."""

    start: int
    end: int
    sentence: str


def split_clauses(text: str, nlp) -> list[Clause]:
    """The clauses of one statement: at ";", before coordinated predicates ("..., but appears satisfied")
    and before contrast clauses ("while ..."). A clause that borrows its subject gets it back in `sentence`."""
    with parsing():
        doc = nlp(text)
    openers = {_clause_start(token): token for token in doc if _opens_clause(token)}
    openers.update({token.i + 1: None for token in doc[:-1] if token.text == ";"})
    starts = sorted({0, *openers} - {len(doc)})
    clauses = []
    for begin, end in zip(starts, [*starts[1:], len(doc)]):
        span = doc[begin:end]
        if any(not t.is_punct for t in span):
            clauses.append(Clause(span.start_char, span.end_char, _sentence(span, openers.get(begin))))
    return clauses


def _opens_clause(token) -> bool:
    if token.pos_ not in PREDICATES:
        return False
    if token.dep_ == "conj":
        return token.head.pos_ in PREDICATES
    return token.dep_ == "advcl" and any(c.dep_ == "mark" and c.lower_ in CONTRAST_MARKS for c in token.children)


def _clause_start(token) -> int:
    """Index of the clause's first token, with the "but", "also" and commas that join it to the one before."""
    i = token.left_edge.i
    while i > 0 and (token.doc[i - 1].is_punct or token.doc[i - 1].dep_ == "cc"
                     or token.doc[i - 1].head.dep_ == "cc"):
        i -= 1
    return i


def _sentence(span, opener) -> str:
    """The clause as a sentence: joining words dropped, the borrowed subject restored, a full stop."""
    tokens = list(span)
    while tokens and (tokens[0].is_punct or tokens[0].dep_ in ("cc", "mark") or tokens[0].head.dep_ == "cc"):
        tokens.pop(0)
    while tokens and tokens[-1].is_punct:
        tokens.pop()
    text = "".join(t.text_with_ws for t in tokens).strip()
    subject = _borrowed_subject(opener) if opener is not None else None
    if subject is not None:
        text = f"{subject} {text}"
    return text[:1].upper() + text[1:] + "."


def _borrowed_subject(verb) -> str | None:
    """The subject a coordinated predicate shares with the one before ("He continues ... but appears ...")."""
    if any(c.dep_ in SUBJECTS for c in verb.children):
        return None
    while verb.dep_ == "conj" and verb.head.i != verb.i:
        verb = verb.head
        for child in verb.children:
            if child.dep_ in SUBJECTS:
                return "".join(t.text_with_ws for t in child.subtree).strip()
    return None


# --- per-target readings ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Named:
    """A target of one issue found in one clause, under the name the text used."""

    target: str
    named: str
    clause: Clause


def target_predictions(statements: Sequence[Statement], predictions: Sequence[Prediction], model, nlp,
                       config: TermsConfig | None = None, batch_size: int = 256) -> list[TargetPrediction]:
    """Per-target readings of `statements` from their `predictions` (one model's); clauses are scored in batches."""
    config = config or load_terms_config()
    by_statement: dict[str, list[Prediction]] = defaultdict(list)
    for prediction in predictions:
        by_statement[prediction.statement_id].append(prediction)
    readings: list[TargetPrediction] = []
    to_score: list[tuple[Statement, Prediction, _Named]] = []
    for statement in statements:
        for prediction, named in _targets_by_issue(statement, by_statement[statement.id], model, nlp, config):
            if len({n.clause for n in named}) > 1:
                to_score.extend((statement, prediction, n) for n in named)
            else:
                readings.extend(_whole(statement, prediction, n) for n in named)
    for start in range(0, len(to_score), batch_size):
        readings.extend(_scored(to_score[start:start + batch_size], model))
    return readings


def _targets_by_issue(statement: Statement, predictions: Sequence[Prediction], model, nlp,
                      config: TermsConfig) -> list[tuple[Prediction, list[_Named]]]:
    """Each prediction with the targets of its issue that the statement names, and the clause naming each."""
    whole = Clause(0, len(statement.text), statement.text)
    wanted = {p.issue: [t for named in p.targets for t in config.targets_of(p.issue, named)] for p in predictions}
    clauses = [whole]
    if any(len(set(targets)) > 1 for targets in wanted.values()):
        clauses = split_clauses(statement.text, nlp) or [whole]
    found = []
    for prediction in predictions:
        named = _named_in(clauses, statement.text, prediction.issue, model, config)
        if named:
            found.append((prediction, named))
    return found


def _named_in(clauses: Sequence[Clause], text: str, issue: str, model, config: TermsConfig) -> list[_Named]:
    """The issue's targets clause by clause; a clause naming none joins the one before it ("They will never
    give up the island, and that is final"), or is left out where it comes first."""
    from .classify import find_targets  # here, so that the engine imports torch only when it classifies

    per_clause = [[(t, named) for named in find_targets(text[c.start:c.end], model.taxonomy)
                   for t in config.targets_of(issue, named)] for c in clauses]
    groups: list[tuple[Clause, list[tuple[str, str]]]] = []
    for clause, targets in zip(clauses, per_clause):
        if targets:
            groups.append((clause, targets))
        elif groups:
            groups[-1] = (_joined(groups[-1][0], clause, text), groups[-1][1])
    named, seen = [], set()
    for clause, targets in groups:
        for target, name in targets:
            if (target, clause) not in seen:
                seen.add((target, clause))
                named.append(_Named(target, name, clause))
    return named


def _joined(first: Clause, second: Clause, text: str) -> Clause:
    """`first` running on to the end of `second`, the words between kept as written."""
    tail = text[first.end:second.end].rstrip(" .;,:")
    return Clause(first.start, second.end, f"{first.sentence[:-1]}{' ' if tail[:1].isalnum() else ''}{tail}.")


def _whole(statement: Statement, prediction: Prediction, named: _Named) -> TargetPrediction:
    """A target of a statement that makes one demand: the statement's own reading holds for it."""
    return TargetPrediction(statement.id, prediction.model_id, prediction.issue, named.target, named.named,
                            prediction.stance, prediction.maximalism, prediction.confidence,
                            prediction.stance_confidence, statement.start, statement.end, statement.text, False)


def _scored(batch: Sequence[tuple[Statement, Prediction, _Named]], model) -> list[TargetPrediction]:
    """Score each clause alone and read off the statement's issue; confidence stays the statement's."""
    scores = model.score([n.clause.sentence for _, _, n in batch], [s.actor_group for s, _, _ in batch])
    readings = []
    for row, (statement, prediction, named) in enumerate(batch):
        j = scores.issues.index(prediction.issue)
        stance, dist = scores.stance_probs[row, j], scores.maximalism_probs[row, j]
        readings.append(TargetPrediction(
            statement.id, prediction.model_id, prediction.issue, named.target, named.named,
            STANCES[int(stance.argmax())], float(np.dot(dist, MAXIMALISM_LEVELS)), prediction.confidence,
            float(stance.max()), statement.start + named.clause.start, statement.start + named.clause.end,
            named.clause.sentence, True))
    return readings


def classify_pending_targets(store, model, nlp, run_id: str, config: TermsConfig | None = None) -> int:
    """Per-target readings for every statement `model` classified that names targets and has none yet;
    the engine calls this after classifying. Returns the readings added."""
    statements, predictions = store.untargeted(model.model_id)
    return store.add_target_predictions(run_id, target_predictions(statements, predictions, model, nlp, config),
                                        model.model_id, [s.id for s in statements])
