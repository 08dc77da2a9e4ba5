"""Crash and resume: a `redline run` killed with SIGKILL part-way, then rerun, equals an uninterrupted run
(documents, statements, predictions, per-target readings and positions, none twice)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from pipeline.store import Store

from .conftest import SAMPLES


def _start(inputs, store):
    return subprocess.Popen([sys.executable, "-m", "pipeline.cli", "run", str(inputs), "--store", str(store),
                             "--batch-size", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _snapshot(path) -> dict:
    with Store(path, read_only=True) as store:
        query = store.db.execute
        return {
            "documents": sorted(query("SELECT id FROM documents").fetchall()),
            "statements": sorted(query("SELECT id, actor, start_char, end_char FROM statements").fetchall()),
            "predictions": sorted(query("SELECT statement_id, model_id, issue, stance, round(maximalism, 6) "
                                        "FROM predictions").fetchall()),
            "targets": query("SELECT statement_id, issue, target, stance, round(maximalism, 6), start_char, split "
                             "FROM target_predictions ORDER BY ALL").fetchall(),
            "positions": sorted(query("SELECT actor, level, issue, period, n, round(maximalism, 6) "
                                      "FROM positions").fetchall()),
            "duplicates": query("SELECT count(*) - count(DISTINCT id) FROM statements").fetchone()[0],
        }


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    store = tmp_path_factory.mktemp("whole") / "s.duckdb"
    assert _start(SAMPLES / "documents", store).wait(300) == 0
    return _snapshot(store)


def _documents_in(path) -> int:
    if not path.exists():
        return 0
    with Store(path, read_only=True) as store:
        return store.counts()["documents"]


def _kill_after_writes(process, store, writes: int, timeout: float = 120.0) -> None:
    """SIGKILL the run once its write-ahead log has changed `writes` times (each batch commits once)."""
    wal = store.with_name(store.name + ".wal")
    seen, last, deadline = 0, None, time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        size = wal.stat().st_size if wal.exists() else None
        if size != last:
            seen, last = seen + 1, size
            if seen >= writes:
                os.kill(process.pid, signal.SIGKILL)
                break
        time.sleep(0.02)
    process.wait(60)


def test_a_killed_run_resumes_to_the_same_store(tmp_path, uninterrupted):
    assert uninterrupted["targets"]  # the samples name targets: their readings are written with each batch
    partial = []
    for writes in (3, 6, 9):
        store = tmp_path / f"killed-{writes}.duckdb"
        _kill_after_writes(_start(SAMPLES / "documents", store), store, writes)
        partial.append(_documents_in(store))
        assert _start(SAMPLES / "documents", store).wait(300) == 0
        resumed = _snapshot(store)
        assert resumed["duplicates"] == 0
        assert resumed == uninterrupted, f"killed after {writes} writes with {partial[-1]} documents stored"
    # the kills must have landed mid-run: some stores held part of the input when the process died
    assert any(0 < n < len(uninterrupted["documents"]) for n in partial), partial
