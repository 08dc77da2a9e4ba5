"""Redline: positions over time from what political actors say.

`pipeline.load("models/default")` returns a model that tags a string or a batch of strings;
`import pipeline.spacy_component` registers the spaCy factory "redline" (`nlp.add_pipe("redline")`).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["load"]


def load(path: str | Path | None = None, taxonomy: str | Path | None = None, device: str | None = None):
    """Load a trained Redline model: a folder, a folder name under models/, or the default model when `path`
    is None (models/default, or the model `redline models promote` made the default)."""
    from .classify import RedlineModel
    from .registry import resolve_model

    return RedlineModel.load(resolve_model(path), taxonomy=taxonomy, device=device)
