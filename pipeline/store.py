"""Store: one DuckDB file with documents, statements, predictions, positions, runs and quarantine.

Writes are idempotent and each batch of documents is written in one transaction with its statements and
predictions, so a run that dies part-way resumes where it stopped and re-running the same input adds nothing.

The tables that grow with the input (documents, statements, predictions, classified, per-target readings,
embeddings) carry no PRIMARY KEY: DuckDB keeps a key's ART index in memory whole and outside the reach of
its buffer pool's eviction, ~2.3 MB per 1,000 documents, and a 128 MB pool ran out of memory after ~45,000
documents. Their rows are unique by construction instead: a document is the unit of a write (content-hash
id; one already present is skipped with everything that belongs to it, checked inside the transaction),
a statement belongs to one document, and a model classifies a statement once (`unclassified`). Stores made
before this keep their keys and work as they did.

Embeddings are float32 bytes (BLOB), not FLOAT[] lists: a lookup of a batch's keys scans the key column and
reads the vectors of the rows that match, and a list column made DuckDB read every row's list (370 ms per
lookup at 200,000 vectors, against ~70 ms as bytes). A store written with lists is converted when opened
for writing (schema version 2).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from .batching import batched
from .errors import StoreError
from .records import (
    DatedReading,
    Document,
    Position,
    Prediction,
    Problem,
    Statement,
    TargetPrediction,
    content_id,
)

SCHEMA_VERSION = 2  # 2: embeddings as float32 bytes
# DuckDB's buffer pool, which otherwise keeps every block a run writes (up to 80 % of the machine's memory):
# a run over 100,000 documents would hold most of its store in memory. Blocks on disk are evicted past the
# limit; large queries spill to a temporary folder beside the store. $REDLINE_STORE_MEMORY overrides it.
# 64 MB against 128 MB: a 10,000-document run peaked 74 MB lower and ran no slower (benchmarks/speed.py).
MEMORY_LIMIT = "64MB"
_FETCH_ROWS = 10_000  # rows a large read takes from DuckDB at a time
# statement ids per write of positions: a store of a million statements lists ~2.7 million ids over its
# positions, and 1,000 positions at once could carry a third of them through Arrow into DuckDB (+88 MB)
_POSITION_IDS_PER_CHUNK = 50_000
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS runs (
    id VARCHAR PRIMARY KEY, started TIMESTAMP, finished TIMESTAMP, status VARCHAR, inputs VARCHAR,
    model_id VARCHAR, documents INTEGER, statements INTEGER, predictions INTEGER, quarantined INTEGER,
    seconds DOUBLE);
CREATE TABLE IF NOT EXISTS documents (
    id VARCHAR, source_path VARCHAR, title VARCHAR, date DATE, speaker VARCHAR,
    source_type VARCHAR, source VARCHAR, url VARCHAR, body_start INTEGER, text VARCHAR,
    turns VARCHAR, meta VARCHAR, run_id VARCHAR);
CREATE TABLE IF NOT EXISTS statements (
    id VARCHAR, doc_id VARCHAR, idx INTEGER, start_char INTEGER, end_char INTEGER, text VARCHAR,
    actor VARCHAR, actor_group VARCHAR, attribution VARCHAR, cue VARCHAR, date DATE, run_id VARCHAR);
CREATE TABLE IF NOT EXISTS predictions (
    statement_id VARCHAR, model_id VARCHAR, issue VARCHAR, stance VARCHAR, maximalism DOUBLE,
    maximalism_dist DOUBLE[], confidence DOUBLE, stance_confidence DOUBLE, zero_shot BOOLEAN,
    low_confidence BOOLEAN, targets VARCHAR[], run_id VARCHAR);
CREATE TABLE IF NOT EXISTS classified (statement_id VARCHAR, model_id VARCHAR, run_id VARCHAR);
CREATE TABLE IF NOT EXISTS target_predictions (
    statement_id VARCHAR, model_id VARCHAR, issue VARCHAR, target VARCHAR, named VARCHAR, stance VARCHAR,
    maximalism DOUBLE, confidence DOUBLE, stance_confidence DOUBLE, start_char INTEGER, end_char INTEGER,
    clause VARCHAR, split BOOLEAN, run_id VARCHAR);
CREATE TABLE IF NOT EXISTS targets_read (statement_id VARCHAR, model_id VARCHAR);
CREATE TABLE IF NOT EXISTS positions (
    model_id VARCHAR, period_kind VARCHAR, level VARCHAR, actor VARCHAR, actor_group VARCHAR, issue VARCHAR,
    period VARCHAR, period_start DATE, n INTEGER, maximalism DOUBLE, maximalism_low DOUBLE,
    maximalism_high DOUBLE, favor DOUBLE, against DOUBLE, neutral DOUBLE, statement_ids VARCHAR[]);
CREATE TABLE IF NOT EXISTS embeddings (encoder VARCHAR, text_sha1 VARCHAR, vector BLOB);
CREATE TABLE IF NOT EXISTS quarantine (
    id VARCHAR PRIMARY KEY, path VARCHAR, line INTEGER, reason VARCHAR, level VARCHAR, run_id VARCHAR,
    first_seen TIMESTAMP);
CREATE TABLE IF NOT EXISTS exports (
    statement_id VARCHAR PRIMARY KEY, text_key VARCHAR, file VARCHAR, format VARCHAR, strategy VARCHAR,
    model_id VARCHAR, exported TIMESTAMP);
"""


class Store:
    """A Redline store on disk. Use as a context manager; only one process may hold it at a time.
    `create=False` opens an existing store for writing and refuses a path where none is."""

    def __init__(self, path: str | Path, read_only: bool = False, memory_limit: str | None = None,
                 create: bool = True):
        self.path = Path(path)
        memory_limit = memory_limit or os.environ.get("REDLINE_STORE_MEMORY") or MEMORY_LIMIT
        if not re.fullmatch(r"\d+(\.\d+)?\s*([KMGT]i?B|B)", memory_limit.strip(), re.IGNORECASE):
            raise StoreError(f"store memory limit {memory_limit!r} (REDLINE_STORE_MEMORY or memory_limit) is not "
                             "a size such as 128MB or 2GB")
        if (read_only or not create) and not self.path.exists():
            raise StoreError(f"{self.path}: no such store; create one with `redline run INPUT --store {self.path}`")
        try:
            self.db = duckdb.connect(str(self.path), read_only=read_only, config={"memory_limit": memory_limit})
        except duckdb.IOException as e:
            if "lock" in str(e).lower():
                pid = re.search(r"\(PID (\d+)\)", str(e))
                holder = f" (PID {pid[1]})" if pid else ""
                raise StoreError(f"{self.path} is in use by another Redline process{holder}; wait for it to "
                                 "finish or use another --store") from e
            raise StoreError(f"{self.path}: cannot open the store: {e}") from e
        except duckdb.Error as e:
            raise StoreError(f"{self.path}: not a Redline store (or corrupt): {e}") from e
        if not read_only:
            with self.transaction():  # every table or none: a run killed while creating them leaves no half schema
                self.db.execute(SCHEMA)
                self._convert_list_embeddings()
                self.db.execute("INSERT INTO meta VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET "
                                "value = excluded.value", [str(SCHEMA_VERSION)])
        self._list_vectors = self._vector_type() not in ("BLOB", None)

    def _vector_type(self) -> str | None:
        """The SQL type of the embeddings' vectors: BLOB, FLOAT[] (schema 1), or None (no such table)."""
        row = self._first("SELECT data_type FROM information_schema.columns WHERE table_name = 'embeddings' "
                          "AND column_name = 'vector'")
        return row[0] if row else None

    def _convert_list_embeddings(self, chunk: int = 50_000) -> None:
        """Rewrite a schema-1 store's FLOAT[] embeddings as float32 bytes, a chunk at a time."""
        if self._vector_type() == "BLOB":
            return
        self.db.execute("ALTER TABLE embeddings RENAME TO embeddings_lists")
        self.db.execute("CREATE TABLE embeddings (encoder VARCHAR, text_sha1 VARCHAR, vector BLOB)")
        last = self._first("SELECT max(rowid) FROM embeddings_lists")[0]
        for start in range(0, -1 if last is None else last + 1, chunk):
            batch = self.db.sql("SELECT encoder, text_sha1, vector FROM embeddings_lists WHERE rowid >= $a AND "
                                "rowid < $b", params={"a": start, "b": start + chunk}).to_arrow_table()
            if batch.num_rows:
                vectors = batch["vector"].combine_chunks().flatten().to_numpy().astype(np.float32)
                self._insert_arrow("embeddings", pa.table({
                    "encoder": batch["encoder"], "text_sha1": batch["text_sha1"],
                    "vector": _vector_bytes(vectors.reshape(batch.num_rows, -1))}))
        self.db.execute("DROP TABLE embeddings_lists")

    def __enter__(self) -> Store:
        return self

    def cursor(self) -> Store:
        """The same store through a connection of its own, for another thread (close it when done)."""
        other = object.__new__(Store)
        other.path, other.db, other._list_vectors = self.path, self.db.cursor(), self._list_vectors
        return other

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    # --- runs -----------------------------------------------------------------------------------

    def start_run(self, inputs: Sequence[str], model_id: str | None) -> str:
        started = dt.datetime.now()
        run_id = content_id("run", started.isoformat(), *inputs, length=12)
        self.db.execute("INSERT INTO runs (id, started, status, inputs, model_id) VALUES (?, ?, 'running', ?, ?)",
                        [run_id, started, json.dumps(list(inputs)), model_id])
        self._run_clock = time.perf_counter()
        return run_id

    def finish_run(self, run_id: str, counts: dict[str, int], status: str = "done") -> None:
        self.db.execute(
            "UPDATE runs SET finished = ?, status = ?, documents = ?, statements = ?, predictions = ?, "
            "quarantined = ?, seconds = ? WHERE id = ?",
            [dt.datetime.now(), status, counts.get("documents", 0), counts.get("statements", 0),
             counts.get("predictions", 0), counts.get("quarantined", 0),
             time.perf_counter() - getattr(self, "_run_clock", time.perf_counter()), run_id])

    # --- writes ---------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside happen, or none does."""
        self.db.execute("BEGIN TRANSACTION")
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def known_documents(self, ids: Iterable[str]) -> set[str]:
        ids = list(ids)
        if not ids:
            return set()
        rows = self.db.execute("SELECT id FROM documents WHERE id IN (SELECT unnest(?))", [ids]).fetchall()
        return {r[0] for r in rows}

    def write_batch(self, run_id: str, documents: Sequence[Document], statements: Sequence[Statement],
                    predictions: Sequence[Prediction] = (), model_id: str | None = None,
                    targets: Sequence[TargetPrediction] = (), targets_read: bool = False) -> dict[str, int]:
        """Documents with their statements, predictions and per-target readings, all or nothing; returns the
        rows added. A document already in the store (or twice in `documents`) is skipped with all of its rows.
        `targets_read`: `targets` are every reading the batch's predictions give (none for some statements that
        name targets), so `untargeted` need not offer those statements again."""
        before = self.counts()
        with self.transaction():
            known = self.known_documents(d.id for d in documents)
            fresh = list({d.id: d for d in documents if d.id not in known}.values())
            if len(fresh) < len(documents):
                ids = {d.id for d in fresh}
                statements = [s for s in statements if s.doc_id in ids]
                kept = {s.id for s in statements}
                predictions = [p for p in predictions if p.statement_id in kept]
                targets = [t for t in targets if t.statement_id in kept]
            statements = list({s.id: s for s in statements}.values())
            self._insert_statements(statements, run_id)
            self._add_predictions(run_id, predictions, model_id, [s.id for s in statements])
            added_targets = self._insert_target_predictions(run_id, targets)  # new statements: new readings
            if targets_read and model_id is not None:
                self._mark_targets_read(model_id, [p.statement_id for p in predictions if p.targets])
            self._insert_documents(fresh, run_id)  # last: a document present means its batch is complete
        after = self.counts()
        return {**{k: after[k] - before[k] for k in after}, "target_predictions": added_targets}

    def _insert_documents(self, documents: Sequence[Document], run_id: str) -> None:
        rows = [(d.id, d.source_path, d.title, d.date, d.speaker, d.source_type, d.source, d.url, d.body_start,
                 d.text, json.dumps([asdict(t) for t in d.turns]), json.dumps(dict(d.meta)), run_id)
                for d in documents]
        if rows:
            self._insert_rows("documents", rows)

    def _insert_statements(self, statements: Sequence[Statement], run_id: str) -> None:
        rows = [(s.id, s.doc_id, s.index, s.start, s.end, s.text, s.actor, s.actor_group, s.attribution, s.cue,
                 s.date, run_id) for s in statements]
        if rows:
            self._insert_rows("statements", rows)

    def add_predictions(self, run_id: str, predictions: Sequence[Prediction], model_id: str | None,
                        statement_ids: Sequence[str]) -> None:
        """Predictions of one model, and which statements it has classified (even those with no issue); a
        statement the model has classified before keeps its earlier reading."""
        done = self.classified_among(model_id, statement_ids) if model_id is not None else set()
        if done:
            statement_ids = [i for i in statement_ids if i not in done]
            predictions = [p for p in predictions if p.statement_id not in done]
        self._add_predictions(run_id, predictions, model_id, statement_ids)

    def _add_predictions(self, run_id: str, predictions: Sequence[Prediction], model_id: str | None,
                         statement_ids: Sequence[str]) -> None:
        rows = list({(p.statement_id, p.issue): (
            p.statement_id, p.model_id, p.issue, p.stance, p.maximalism, list(p.maximalism_dist), p.confidence,
            p.stance_confidence, p.zero_shot, p.low_confidence, list(p.targets), run_id) for p in predictions}.values())
        self._insert_rows("predictions", rows)
        if model_id is not None:
            self._insert_rows("classified", [(sid, model_id, run_id) for sid in dict.fromkeys(statement_ids)])

    def classified_among(self, model_id: str, ids: Sequence[str]) -> set[str]:
        """Those of `ids` that `model_id` has classified."""
        if not ids:
            return set()
        rows = self.db.execute("SELECT statement_id FROM classified WHERE model_id = ? AND statement_id IN "
                               "(SELECT unnest(?))", [model_id, list(ids)]).fetchall()
        return {r[0] for r in rows}

    def _insert_rows(self, table: str, rows: Sequence[tuple], columns: Sequence[str] | None = None) -> None:
        """Insert rows (in the order of `columns`, else the table's) in one statement.

        Rows go through an Arrow table: `executemany` binds one row at a time, about 100× slower."""
        if rows:
            self._insert_arrow(table, pa.table({f"c{i}": list(c) for i, c in enumerate(zip(*rows))}), columns)

    def _insert_arrow(self, table: str, incoming: pa.Table, columns: Sequence[str] | None = None) -> None:
        target = f"{table} ({', '.join(columns)})" if columns else table
        self.db.register("_incoming", incoming)
        try:
            self.db.execute(f"INSERT INTO {target} SELECT * FROM _incoming")
        finally:
            self.db.unregister("_incoming")

    def add_target_predictions(self, run_id: str, predictions: Sequence[TargetPrediction], model_id: str,
                               read: Sequence[str] = ()) -> int:
        """Per-target readings of statements (pipeline/targets.py), in one transaction; returns rows added.
        Statements that already have readings by the model keep them; `read` (statement ids) are the
        statements these readings came from, those that gave none included: `untargeted` offers them no more."""
        with self.transaction():
            done = set(self.db.execute(
                "SELECT DISTINCT statement_id, model_id FROM target_predictions WHERE statement_id IN "
                "(SELECT unnest(?))", [list({p.statement_id for p in predictions})]).fetchall()) if predictions else set()
            self._mark_targets_read(model_id, read)
            return self._insert_target_predictions(
                run_id, [p for p in predictions if (p.statement_id, p.model_id) not in done])

    def _mark_targets_read(self, model_id: str, statement_ids: Iterable[str]) -> None:
        rows = [(statement_id, model_id) for statement_id in dict.fromkeys(statement_ids)]
        if rows:
            self._insert_rows("targets_read", rows)

    def _insert_target_predictions(self, run_id: str, predictions: Sequence[TargetPrediction]) -> int:
        """Readings of statements that have none yet; a reading given twice is kept once."""
        rows = list({(p.statement_id, p.model_id, p.issue, p.target, p.start): (
            p.statement_id, p.model_id, p.issue, p.target, p.named, p.stance, p.maximalism, p.confidence,
            p.stance_confidence, p.start, p.end, p.clause, p.split, run_id) for p in predictions}.values())
        self._insert_rows("target_predictions", rows)
        return len(rows)

    def add_embeddings(self, encoder_key: str, keys: Sequence[str], vectors: np.ndarray) -> None:
        """Keep sentence vectors of one encoder by text key (pipeline/embedding_cache.py). Keys come from the
        cache's misses, so they are new to the store; a key given twice is kept once."""
        first = dict(zip(keys, range(len(keys))))
        if len(first) < len(keys):
            keys, vectors = list(first), vectors[list(first.values())]
        if len(keys):
            with self.transaction():
                self._insert_arrow("embeddings", pa.table({"encoder": [encoder_key] * len(keys),
                                                           "text_sha1": list(keys),
                                                           "vector": _vector_bytes(vectors)}))

    def replace_positions(self, model_id: str, period_kind: str, positions: Iterable[Position]) -> int:
        """Replace `model_id`'s positions for `period_kind` with `positions`; returns rows.

        The positions are read as they come (a generator never has to hold them all) and committed in
        chunks under a staging kind that no reader asks for, then swapped in with one transaction: readers
        see the old rows or the new ones, never a mix, and no transaction holds every position's statement
        ids in memory at once. A run that dies while writing leaves staged rows the next call clears."""
        staging = f"{period_kind}{_STAGING}"
        self.db.execute("DELETE FROM positions WHERE model_id = ? AND period_kind = ?", [model_id, staging])
        written = 0
        for chunk in batched(positions, 1000, _POSITION_IDS_PER_CHUNK, lambda p: len(p.statement_ids)):
            rows = [(model_id, staging, p.level, p.actor, p.actor_group, p.issue, p.period, p.period_start,
                     p.n, p.maximalism, p.maximalism_low, p.maximalism_high, p.favor, p.against, p.neutral,
                     list(p.statement_ids)) for p in chunk]
            with self.transaction():
                self._insert_rows("positions", rows, _POSITION_COLUMNS)
            written += len(rows)
        with self.transaction():
            self.db.execute("DELETE FROM positions WHERE model_id = ? AND period_kind = ?", [model_id, period_kind])
            self.db.execute("UPDATE positions SET period_kind = ? WHERE model_id = ? AND period_kind = ?",
                            [period_kind, model_id, staging])
        return written

    def quarantine(self, run_id: str, problems: Iterable[Problem]) -> int:
        rows = [(content_id("problem", p.path, p.line, p.reason), p.path, p.line, p.reason, p.level, run_id,
                 dt.datetime.now()) for p in problems]
        if rows:
            self.db.executemany("INSERT INTO quarantine VALUES (?,?,?,?,?,?,?) ON CONFLICT DO NOTHING", rows)
        return len(rows)

    def record_exports(self, rows: Sequence[tuple[str, str]], file: str, fmt: str, strategy: str,
                       model_id: str) -> None:
        """Remember which statements (id, normalised-text key) went out for annotation, so none goes twice."""
        if not rows:
            return
        now = dt.datetime.now()
        with self.transaction():
            self.db.executemany("INSERT INTO exports VALUES (?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                                [(sid, key, file, fmt, strategy, model_id, now) for sid, key in rows])

    def exported(self) -> tuple[set[str], set[str]]:
        """Ids and normalised-text keys of every statement exported for annotation so far."""
        rows = self.db.execute("SELECT statement_id, text_key FROM exports").fetchall()
        return {r[0] for r in rows}, {r[1] for r in rows}

    # --- reads ----------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        tables = ("documents", "statements", "predictions", "quarantine")
        return {t: self._first(f"SELECT count(*) FROM {t}")[0] for t in tables}

    def statements(self, actor: str | None = None, model_id: str | None = None,
                   limit: int | None = None, dated: tuple[dt.date, dt.date | None] | None = None) -> list[dict]:
        """Statements in document order, with their document's metadata and one model's predictions;
        `dated` (first day, day after the last or None) keeps only statements dated in that span."""
        model_id = model_id or self.latest_model()
        sql = """
            SELECT s.id, s.doc_id, s.text, s.start_char AS start, s.end_char AS "end", s.actor, s.actor_group,
                   s.attribution, s.cue, CAST(s.date AS VARCHAR) AS date, d.source_path, d.title, d.source_type,
                   d.url, s.idx
            FROM statements s JOIN documents d ON d.id = s.doc_id
            WHERE (? IS NULL OR s.actor = ? OR s.actor_group = ?)
              AND (? IS NULL OR (s.date >= ? AND (CAST(? AS DATE) IS NULL OR s.date < ?)))
            ORDER BY d.source_path, s.idx"""
        start, end = dated or (None, None)
        params: list = [actor, actor, actor, start, start, end, end]
        if limit:
            sql += f" LIMIT {int(limit)}"
        cursor = self.db.execute(sql, params)
        names = [c[0] for c in cursor.description]
        rows = [dict(zip(names, r)) for r in cursor.fetchall()]
        predictions = self._predictions_by_statement(model_id, [r["id"] for r in rows]) if model_id else {}
        for row in rows:
            row.pop("idx")
            row.update(predictions.get(row["id"], _no_predictions(model_id)))
        return rows

    def _predictions_by_statement(self, model_id: str, ids: list[str]) -> dict[str, dict]:
        found: dict[str, dict] = {}
        if not ids:
            return found
        cursor = self.db.execute(
            "SELECT statement_id, issue, stance, maximalism, confidence, zero_shot, low_confidence, targets "
            "FROM predictions WHERE model_id = ? AND statement_id IN (SELECT unnest(?)) ORDER BY statement_id, issue",
            [model_id, ids])
        for sid, issue, stance, maximalism, confidence, zero_shot, low, targets in cursor.fetchall():
            row = found.setdefault(sid, _no_predictions(model_id))
            row["issues"].append(issue)
            row["stance"][issue] = stance
            row["maximalism"][issue] = round(maximalism, 3)
            row["confidence"][issue] = round(confidence, 3)
            if zero_shot:
                row["zero_shot"].append(issue)
            if low:
                row["low_confidence"].append(issue)
            row["targets"] = sorted(set(row["targets"]) | set(targets))
        return found

    def unclassified(self, model_id: str, limit: int) -> list[Statement]:
        """Statements that `model_id` has not classified yet, in store order. A model that has classified as
        many statements as the store holds has classified them all (statements are never removed, and each is
        classified once per model): the anti-join, whose hash table over a million ids took ~50 MB, is skipped."""
        if self.classified_count(model_id) >= self._first("SELECT count(*) FROM statements")[0]:
            return []
        cursor = self.db.execute(
            "SELECT id, doc_id, idx, start_char, end_char, text, actor, actor_group, attribution, cue, "
            "CAST(date AS VARCHAR) FROM statements s WHERE NOT EXISTS (SELECT 1 FROM classified c "
            "WHERE c.statement_id = s.id AND c.model_id = ?) ORDER BY doc_id, idx LIMIT ?", [model_id, limit])
        return [Statement(*row) for row in cursor.fetchall()]

    def untargeted(self, model_id: str) -> tuple[list[Statement], list[Prediction]]:
        """Statements with targets that `model_id` classified but has not read per target yet (a store written
        before per-target readings, or statements classified at the end of a run), and their predictions."""
        cursor = self.db.execute(
            "SELECT s.id, s.doc_id, s.idx, s.start_char, s.end_char, s.text, s.actor, s.actor_group, s.attribution, "
            "s.cue, CAST(s.date AS VARCHAR), p.issue, p.stance, p.maximalism, p.maximalism_dist, p.confidence, "
            "p.stance_confidence, p.zero_shot, p.low_confidence, p.targets FROM predictions p "
            "JOIN statements s ON s.id = p.statement_id WHERE p.model_id = ? AND len(p.targets) > 0 AND NOT EXISTS "
            "(SELECT 1 FROM target_predictions t WHERE t.statement_id = p.statement_id AND t.model_id = p.model_id) "
            "AND NOT EXISTS (SELECT 1 FROM targets_read r WHERE r.statement_id = p.statement_id "
            "AND r.model_id = p.model_id) "
            "ORDER BY s.doc_id, s.idx, p.issue", [model_id])
        statements: dict[str, Statement] = {}
        predictions = []
        for row in cursor.fetchall():
            statements.setdefault(row[0], Statement(*row[:11]))
            issue, stance, maximalism, dist, confidence, stance_confidence, zero_shot, low, targets = row[11:]
            predictions.append(Prediction(row[0], model_id, issue, stance, maximalism, tuple(dist), confidence,
                                          stance_confidence, zero_shot, low, tuple(targets)))
        return list(statements.values()), predictions

    def target_predictions(self, model_id: str | None = None) -> list[dict]:
        """Per-target readings of one model (the latest by default); none in a store written before they existed."""
        model_id = model_id or self.latest_model()
        known = self._first("SELECT count(*) FROM information_schema.tables "
                            "WHERE table_name = 'target_predictions'")[0]
        if not model_id or not known:
            return []
        cursor = self.db.execute(
            "SELECT statement_id, issue, target, named, stance, maximalism, confidence, stance_confidence, "
            "start_char AS start, end_char AS \"end\", clause, split FROM target_predictions WHERE model_id = ? "
            "ORDER BY statement_id, issue, target, start_char", [model_id])
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, r)) for r in cursor.fetchall()]

    def embeddings(self, encoder_key: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """The kept vectors of one encoder for those text `keys` that have one."""
        found = self.db.sql("SELECT text_sha1, vector FROM embeddings WHERE encoder = $encoder AND text_sha1 IN "
                            "(SELECT unnest($keys))", params={"encoder": encoder_key, "keys": list(keys)}).to_arrow_table()
        if not found.num_rows:
            return {}
        if self._list_vectors:  # a schema-1 store opened read-only
            vectors = found["vector"].combine_chunks().flatten().to_numpy().reshape(found.num_rows, -1)
        else:
            vectors = np.frombuffer(b"".join(found["vector"].to_pylist()), dtype=np.float32).reshape(found.num_rows, -1)
        return dict(zip(found["text_sha1"].to_pylist(), vectors))

    def classified_count(self, model_id: str) -> int:
        """How many statements `model_id` has classified: it changes whenever the model's readings do."""
        return self._first("SELECT count(*) FROM classified WHERE model_id = ?", [model_id])[0]

    def meta_value(self, key: str) -> str | None:
        row = self._first("SELECT value FROM meta WHERE key = ?", [key])
        return row[0] if row else None

    def set_meta_value(self, key: str, value: str) -> None:
        self.db.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        [key, value])

    def _first(self, sql: str, params: Sequence | None = None) -> tuple | None:
        """The first row of a query, read to the end: DuckDB 2.0 refuses the connection's next relation query
        while a result is left half-read (as `fetchone` leaves it)."""
        rows = self.db.execute(sql, params or []).fetchall()
        return rows[0] if rows else None

    def dated_readings(self, model_id: str, dated: tuple[dt.date, dt.date | None]) -> list[DatedReading]:
        """`model_id`'s readings of the statements dated in `dated` (first day, day after the last or None) as
        the aggregation reads them, without texts or documents; values rounded as `statements()` gives them."""
        start, end = dated
        cursor = self.db.execute(
            "SELECT s.id, s.date, s.actor, s.actor_group, p.issue, p.stance, p.maximalism, p.confidence, "
            "p.low_confidence FROM predictions p JOIN statements s ON s.id = p.statement_id WHERE p.model_id = ? "
            "AND s.date >= ? AND (CAST(? AS DATE) IS NULL OR s.date < ?)", [model_id, start, end, end])
        # a quarter of a large store holds ~50,000 readings: fetched in slices, and each of the few distinct
        # dates, actors, groups, issues and stances kept once, they take about half the memory
        one: dict = {}
        readings = []
        while rows := cursor.fetchmany(_FETCH_ROWS):
            readings.extend(DatedReading(sid, one.setdefault(date, date), one.setdefault(actor, actor),
                                         one.setdefault(group, group), one.setdefault(issue, issue),
                                         one.setdefault(stance, stance), round(maximalism, 3), round(confidence, 3),
                                         low)
                            for sid, date, actor, group, issue, stance, maximalism, confidence, low in rows)
        return readings

    def statement_dates(self) -> list[dt.date]:
        """Every distinct date a statement carries."""
        return [r[0] for r in self.db.execute("SELECT DISTINCT date FROM statements WHERE date IS NOT NULL")
                .fetchall()]

    def holders(self) -> set[str]:
        """Every actor and actor group that holds a statement here."""
        return {name for (name,) in self.db.execute("SELECT actor FROM statements UNION SELECT actor_group "
                                                    "FROM statements").fetchall()}

    def latest_model(self) -> str | None:
        """The model of the most recent run that used one (and has classified statements here)."""
        row = self._first("SELECT model_id FROM runs WHERE model_id IN (SELECT model_id FROM classified) "
                          "ORDER BY started DESC LIMIT 1")
        return row[0] if row else None

    def positions(self, model_id: str | None = None, period_kind: str = "quarter") -> list[Position]:
        """Stored positions of one model (the latest by default) for one period kind, in series order."""
        model_id = model_id or self.latest_model()
        columns = ", ".join("CAST(period_start AS VARCHAR)" if c == "period_start" else c for c in _POSITION_COLUMNS)
        cursor = self.db.execute(f"SELECT {columns} FROM positions WHERE model_id = ? AND period_kind = ? "
                                 "ORDER BY level, actor, issue, period_start", [model_id, period_kind])
        positions = []
        for row in cursor.fetchall():
            fields = dict(zip(_POSITION_COLUMNS, row))
            fields["statement_ids"] = tuple(fields["statement_ids"] or ())
            positions.append(Position(**fields))
        return positions

    def quarantined(self) -> list[dict]:
        cursor = self.db.execute("SELECT path, line, reason, level FROM quarantine ORDER BY path, line")
        return [dict(zip(("path", "line", "reason", "level"), r)) for r in cursor.fetchall()]

    def runs(self) -> list[dict]:
        cursor = self.db.execute("SELECT * FROM runs ORDER BY started")
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, r)) for r in cursor.fetchall()]


_STAGING = " (being written)"  # the period kind of positions not yet swapped in
_POSITION_COLUMNS = ("model_id", "period_kind", "level", "actor", "actor_group", "issue", "period", "period_start",
                     "n", "maximalism", "maximalism_low", "maximalism_high", "favor", "against", "neutral",
                     "statement_ids")


def _vector_bytes(vectors: np.ndarray) -> pa.Array:
    """Rows of a float matrix as float32 bytes, the form the embeddings table keeps."""
    rows = np.ascontiguousarray(vectors, dtype=np.float32)
    return pa.array([row.tobytes() for row in rows], pa.binary())


def _no_predictions(model_id: str | None) -> dict:
    return {"issues": [], "stance": {}, "maximalism": {}, "confidence": {}, "zero_shot": [],
            "low_confidence": [], "targets": [], "model_id": model_id}
