"""A spaCy component: `nlp.add_pipe("redline")` attributes each sentence and tags its positions.

After it runs, `doc._.positions` is a list of dicts, one per statement: `start`/`end` (characters),
`text`, `actor`, `actor_group`, `attribution`, `issues`, `stance`, `maximalism`, `confidence`.
The pipeline needs a dependency parser before this component (a trained pipeline such as en_core_web_sm):
attribution reads the parse to find who said what, and without it every statement would fall to the
document's speaker, so a doc without a parse is refused with a `ConfigError` rather than misattributed.
"""

from __future__ import annotations

from spacy.language import Language
from spacy.tokens import Doc

from .attribute import ActorResolver, attribute_statements
from .config import DEFAULT_ACTORS, DEFAULT_MODEL, load_actors
from .engine import classify
from .errors import ConfigError
from .records import Document, Sentence

if not Doc.has_extension("positions"):
    Doc.set_extension("positions", default=None)


class RedlineComponent:
    """Holds the model and the actor dictionary; `__call__` computes and writes `doc._.positions`."""

    def __init__(self, model_path: str, actors_path: str, speaker: str | None, date: str | None):
        from .classify import RedlineModel

        self.model = RedlineModel.load(model_path)
        self.resolver = ActorResolver(load_actors(actors_path))
        self.speaker, self.date = speaker, date

    def __call__(self, doc: Doc) -> Doc:
        if len(doc) and not doc.has_annotation("DEP"):
            raise ConfigError("the redline component needs a dependency parse to find who holds each statement; "
                              "add it to a trained pipeline after its parser, e.g. "
                              "spacy.load('en_core_web_sm').add_pipe('redline')")
        document = Document(id=Document.make_id(doc.text), text=doc.text, source_path="<spacy>",
                            date=self.date, speaker=self.speaker)
        sentences = [Sentence(document.id, i, s.start_char, s.end_char, s.text, span=s)
                     for i, s in enumerate(doc.sents) if s.text.strip()]
        statements = attribute_statements(document, sentences, self.resolver)
        by_statement: dict[str, list] = {}
        for prediction in classify(self.model, statements):
            by_statement.setdefault(prediction.statement_id, []).append(prediction)
        doc._.positions = [_position(s, by_statement.get(s.id, [])) for s in statements]
        return doc


def _position(statement, predictions) -> dict:
    return {"start": statement.start, "end": statement.end, "text": statement.text, "actor": statement.actor,
            "actor_group": statement.actor_group, "attribution": statement.attribution,
            "issues": [p.issue for p in predictions], "stance": {p.issue: p.stance for p in predictions},
            "maximalism": {p.issue: round(p.maximalism, 3) for p in predictions},
            "confidence": {p.issue: round(p.confidence, 3) for p in predictions}}


@Language.factory("redline", default_config={"model": str(DEFAULT_MODEL), "actors": str(DEFAULT_ACTORS),
                                            "speaker": None, "date": None})
def make_redline(nlp: Language, name: str, model: str, actors: str, speaker: str | None, date: str | None):
    return RedlineComponent(model, actors, speaker, date)
