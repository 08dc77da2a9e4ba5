"""Redline: positions over time from what political actors say.

`pipeline.load("models/default")` returns a model that tags a string or a batch of strings;
`import pipeline.spacy_component` registers the spaCy factory "redline" (`nlp.add_pipe("redline")`).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["load"]


def load(path: str | Path | None = None, taxonomy: str | Path | None = None, device: str | None = None):
    """Load a trained Redline model folder (the default model when `path` is None)."""
    from .classify import RedlineModel
    from .config import DEFAULT_MODEL

    return RedlineModel.load(path or DEFAULT_MODEL, taxonomy=taxonomy, device=device)
