"""Store and run: a real DuckDB file; running twice adds nothing; bad input is quarantined, the run goes on."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from pipeline.engine import run
from pipeline.errors import StoreError
from pipeline.store import Store

from .conftest import SAMPLES


@pytest.fixture
def inputs(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.md").write_text("---\ndate: 2025-03-11\n---\nKyiv accepted the truce, Zelensky said.\n",
                                 encoding="utf-8")
    (folder / "b.txt").write_bytes(b"\x00\x01binary")
    (folder / "c.jsonl").write_text('{"text": "Moscow rejects it.", "date": "2025-03-12"}\n{oops\n', encoding="utf-8")
    return folder


def test_run_writes_documents_statements_and_quarantine(tmp_path, inputs):
    store_path = tmp_path / "s.duckdb"
    summary = run([inputs], store_path)
    assert summary.documents_added == 2 and summary.statements_added == 2
    with Store(store_path, read_only=True) as store:
        rows = store.statements()
        assert {r["actor"] for r in rows} == {"Volodymyr Zelensky", "Russia"}
        reasons = {(q["path"].split("/")[-1], q["line"]) for q in store.quarantined() if q["level"] == "error"}
        assert reasons == {("b.txt", None), ("c.jsonl", 2)}


def test_running_the_same_input_twice_adds_nothing(tmp_path, inputs):
    store_path = tmp_path / "s.duckdb"
    run([inputs], store_path)
    with Store(store_path, read_only=True) as store:
        before = store.counts()
    second = run([inputs], store_path)
    assert second.documents_added == 0 and second.documents_skipped == 2 and second.statements_added == 0
    with Store(store_path, read_only=True) as store:
        assert store.counts() == before
        assert [r["status"] for r in store.runs()] == ["done", "done"]


def test_a_store_held_by_another_process_is_refused_clearly(tmp_path):
    import multiprocessing as mp

    store_path = tmp_path / "locked.duckdb"
    Store(store_path).close()
    context = mp.get_context("spawn")
    ready, release = context.Event(), context.Event()
    holder = context.Process(target=_hold, args=(str(store_path), ready, release))
    holder.start()
    try:
        assert ready.wait(30)
        with pytest.raises(StoreError, match="in use by another Redline process"):
            Store(store_path)
    finally:
        release.set()
        holder.join(30)


def _hold(path, ready, release):
    db = duckdb.connect(path)
    ready.set()
    release.wait(30)
    db.close()


def test_samples_end_to_end(tmp_path):
    store_path = tmp_path / "samples.duckdb"
    summary = run([SAMPLES / "documents"], store_path)
    assert summary.documents_added == 10 and summary.quarantined == []
    with Store(store_path, read_only=True) as store:
        rows = store.statements()
    assert len(rows) >= 150
    assert {"turn", "quote", "reported", "pronoun", "speaker"} <= {r["attribution"] for r in rows}


def _duckdb_memory_mb(store: Store) -> float:
    return store.db.execute("SELECT sum(memory_usage_bytes) / 2 ** 20 FROM duckdb_memory()").fetchall()[0][0] or 0


def test_a_growing_store_stays_within_its_memory_limit(tmp_path):
    """DuckDB keeps the blocks a run writes in memory unless told a limit: without one, a long run's memory
    grows with its store. With the limit, 150 MB of vectors pass through a 64 MB buffer pool."""
    rng = np.random.default_rng(0)
    with Store(tmp_path / "s.duckdb", memory_limit="64MB") as store:
        for batch in range(25):
            keys = [f"{batch}-{i}" for i in range(4000)]
            store.add_embeddings("enc", keys, rng.random((4000, 384), dtype=np.float32))
            assert _duckdb_memory_mb(store) <= 64
        assert store.embeddings("enc", ["24-3999"])["24-3999"].shape == (384,)


def test_the_store_memory_limit_comes_from_the_environment_and_is_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("REDLINE_STORE_MEMORY", "300MB")
    with Store(tmp_path / "s.duckdb") as store:
        limit = store.db.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    assert limit.replace(" ", "") in {"286.1MiB", "300.0MB", "300MB"}
    monkeypatch.setenv("REDLINE_STORE_MEMORY", "lots")
    with pytest.raises(StoreError, match="'lots'.*not a size"):
        Store(tmp_path / "t.duckdb")


def _synthetic_batch(batch: int, docs: int = 32, per_doc: int = 10):
    from pipeline.records import Document, Prediction, Statement

    documents, statements, predictions = [], [], []
    for d in range(docs):
        text = f"Batch {batch} document {d}: " + "the delegation said the border is not for sale. " * per_doc
        document = Document(id=Document.make_id(text), text=text, source_path="x.jsonl", date="2024-03-01")
        documents.append(document)
        for i in range(per_doc):
            start = i * 50
            statement = Statement(Statement.make_id(document.id, start, start + 49, "Russia"), document.id, i, start,
                                  start + 49, text[start:start + 49], "Russia", "Russia", "speaker", "said",
                                  "2024-03-01")
            statements.append(statement)
            predictions.append(Prediction(statement.id, "m", "territory", "against", 2.0, (0, 0.2, 0.6, 0.2),
                                          0.9, 0.8))
    return documents, statements, predictions


def test_a_growing_store_keeps_no_key_index_in_memory_and_its_rows_stay_unique(tmp_path):
    """DuckDB holds a PRIMARY KEY's index in memory whole, past its memory limit (a run of ~45,000 documents
    failed with a 128 MB limit); the growing tables have none, and writes stay unique without it."""
    with Store(tmp_path / "s.duckdb", memory_limit="64MB") as store:
        run_id = store.start_run(["x"], "m")
        index_mb = []
        for batch in range(40):
            store.write_batch(run_id, *_synthetic_batch(batch), model_id="m")
            index_mb.append(store.db.execute("SELECT coalesce(sum(memory_usage_bytes), 0) / 2 ** 20 FROM "
                                             "duckdb_memory() WHERE tag = 'ART_INDEX'").fetchall()[0][0])
        assert index_mb[-1] - index_mb[0] < 0.25  # with keys on those tables: ~3 MB more after 1,280 documents
        before = store.counts()
        assert before["statements"] == 40 * 320 and before["predictions"] == 40 * 320
        documents, statements, predictions = _synthetic_batch(3)
        again = store.write_batch(run_id, documents + documents[:2], statements, predictions, model_id="m")
        assert set(again.values()) == {0}
        store.add_predictions(run_id, predictions, "m", [s.id for s in statements])  # classified already
        fresh = _synthetic_batch(99, docs=2)
        added = store.write_batch(run_id, fresh[0] * 2, fresh[1] * 2, fresh[2] * 2, model_id="m")
        assert (added["documents"], added["statements"], added["predictions"]) == (2, 20, 20)
        assert store.counts()["predictions"] == before["predictions"] + 20


def test_a_store_with_list_embeddings_is_read_and_converted(tmp_path):
    """Schema 1 kept vectors as FLOAT[] under a key; such a store reads as it did, read-only or not, and opened
    for writing keeps its vectors as bytes from then on."""
    path = tmp_path / "old.duckdb"
    old = duckdb.connect(str(path))
    old.execute("CREATE TABLE embeddings (encoder VARCHAR, text_sha1 VARCHAR, vector FLOAT[], "
                "PRIMARY KEY (encoder, text_sha1))")
    old.execute("INSERT INTO embeddings VALUES ('enc', 'a', [1.5, 2.0, -3.25]), ('enc', 'b', [0.0, 1.0, 2.0])")
    old.close()
    with Store(path, read_only=True) as store:
        assert store.embeddings("enc", ["a", "z"])["a"].tolist() == [1.5, 2.0, -3.25]
    with Store(path) as store:
        assert store.meta_value("schema_version") == "2"
        assert {k: v.tolist() for k, v in store.embeddings("enc", ["a", "b"]).items()} == {
            "a": [1.5, 2.0, -3.25], "b": [0.0, 1.0, 2.0]}
        store.add_embeddings("enc", ["c"], np.array([[4.0, 5.0, 6.0]]))
        kinds = store.db.execute("SELECT data_type FROM information_schema.columns WHERE table_name = 'embeddings' "
                                 "AND column_name = 'vector'").fetchall()
    assert kinds == [("BLOB",)]
