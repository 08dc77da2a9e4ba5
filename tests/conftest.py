"""Shared fixtures: the spaCy pipeline and actor resolver are loaded once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.attribute import ActorResolver
from pipeline.config import load_actors
from pipeline.engine import statements_for
from pipeline.ingest import read_text
from pipeline.records import Document

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SAMPLES = ROOT / "corpora" / "samples"


@pytest.fixture(scope="session")
def nlp():
    from pipeline.segment import load_spacy

    return load_spacy()


@pytest.fixture(scope="session")
def resolver() -> ActorResolver:
    return ActorResolver(load_actors())


@pytest.fixture
def attribute_text(nlp, resolver):
    """Attribute a document written inline: front matter keys as keyword arguments."""

    def run(body: str, **meta) -> list:
        head = "".join(f"{k}: {v}\n" for k, v in meta.items())
        text = f"---\n{head}---\n{body}" if meta else body
        (document,) = [d for d in read_text(text, "inline.md") if isinstance(d, Document)]
        return statements_for([document], resolver, nlp)

    return run
