"""Real statements: the default model must not fall more than 0.05 below its recorded real-dev figures.

The figures are those in benchmarks/RESULTS.md ("Real text", default model); real-dev is read from
../shared at run time and the test is skipped where it is absent.
"""

from __future__ import annotations

import re

import pytest

from .conftest import ROOT, SHARED

REAL_DEV = SHARED / "datasets" / "real-dev" / "statements.jsonl"
RECORDED = {"issues_macro_f1": 0.847, "stance_macro_f1": 0.794, "maximalism_mae": 0.390, "within_1": 0.903}
TOLERANCE = 0.05


@pytest.mark.skipif(not REAL_DEV.exists(), reason="../shared/datasets/real-dev is not present")
def test_default_model_holds_up_on_real_statements():
    import pipeline
    from pipeline.evaluate import evaluate_model, read_jsonl

    result = evaluate_model(pipeline.load(), read_jsonl(REAL_DEV))
    assert result["issues"]["macro_f1"] >= RECORDED["issues_macro_f1"] - TOLERANCE
    assert result["stance"]["macro_f1"] >= RECORDED["stance_macro_f1"] - TOLERANCE
    assert result["maximalism"]["mae"] <= RECORDED["maximalism_mae"] + TOLERANCE
    assert result["maximalism"]["within_1"] >= RECORDED["within_1"] - TOLERANCE


RUN = 10  # words: a shared run this long means a sentence was copied, not written


def _runs(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i:i + RUN]) for i in range(len(words) - RUN + 1)}


@pytest.mark.skipif(not REAL_DEV.exists(), reason="../shared/datasets/real-dev is not present")
def test_no_corpus_statement_copies_real_text():
    """The corpus is written here: no statement shares a run of ten words with a real-dev statement or
    document (the held-out text the model is measured on)."""
    from pipeline.evaluate import read_jsonl

    real_dev = REAL_DEV.parent
    real = set().union(*(_runs(r["text"]) for r in read_jsonl(REAL_DEV)),
                       *(_runs(p.read_text(encoding="utf-8")) for p in (real_dev / "documents").iterdir()))
    copied = [(path.name, row["id"]) for path in sorted((ROOT / "corpora").rglob("*.jsonl"))
              for row in read_jsonl(path) if "text" in row and _runs(row["text"]) & real]
    assert not copied
