"""Real statements: the default model must not fall more than 0.05 below its recorded real-dev figures.

The figures are those in benchmarks/RESULTS.md ("Real text", default model); real-dev is read from
../shared at run time and the test is skipped where it is absent.
"""

from __future__ import annotations

import pytest

from .conftest import SHARED

REAL_DEV = SHARED / "datasets" / "real-dev" / "statements.jsonl"
RECORDED = {"issues_macro_f1": 0.840, "stance_macro_f1": 0.777, "maximalism_mae": 0.415, "within_1": 0.890}
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
