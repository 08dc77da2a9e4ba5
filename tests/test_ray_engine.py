"""The Ray Data engine writes the same store rows as the local engine (a local Ray with 2 CPUs)."""

from __future__ import annotations

import pytest

from pipeline.classify import RedlineModel
from pipeline.config import DEFAULT_MODEL
from pipeline.engine import run
from pipeline.store import Store

from .conftest import SAMPLES

ray = pytest.importorskip("ray")


def _rows(path) -> dict:
    with Store(path, read_only=True) as store:
        query = store.db.execute
        return {
            "documents": sorted(query("SELECT id, source_path, date, speaker, body_start FROM documents").fetchall()),
            "statements": sorted(query("SELECT id, doc_id, idx, start_char, end_char, text, actor, actor_group, "
                                       "attribution, cue, date FROM statements").fetchall()),
            "predictions": sorted(query("SELECT statement_id, model_id, issue, stance, round(maximalism, 4), "
                                        "round(confidence, 4), targets FROM predictions").fetchall()),
            "target_predictions": sorted(query(
                "SELECT statement_id, model_id, issue, target, named, stance, round(maximalism, 4), "
                "round(confidence, 4), start_char, end_char, clause, split FROM target_predictions").fetchall()),
            "classified": sorted(query("SELECT statement_id, model_id FROM classified").fetchall()),
            "positions": sorted(query("SELECT level, actor, issue, period, n, round(maximalism, 4) "
                                      "FROM positions").fetchall()),
        }


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_engine_writes_the_local_engines_rows(tmp_path, local_ray):
    from pipeline.ray_engine import run_ray

    model = RedlineModel.load(DEFAULT_MODEL)
    local = run([SAMPLES / "documents"], tmp_path / "local.duckdb", classifier=model)
    distributed = run_ray([SAMPLES / "documents"], tmp_path / "ray.duckdb", classifier=model, batch_size=4,
                          shard_size=3)
    assert distributed.documents_added == local.documents_added == 10
    assert distributed.statements_added == local.statements_added > 100
    assert distributed.predictions_added == local.predictions_added > 0
    assert distributed.target_predictions_added == local.target_predictions_added > 0
    assert _rows(tmp_path / "ray.duckdb") == _rows(tmp_path / "local.duckdb")

    again = run_ray([SAMPLES / "documents"], tmp_path / "ray.duckdb", classifier=model)
    assert (again.documents_skipped, again.statements_added) == (10, 0)
