"""Store: one DuckDB file with documents, statements, predictions, positions, runs and quarantine.

Writes are idempotent (content-hash keys, ON CONFLICT DO NOTHING) and each batch of documents is
written in one transaction with its statements and predictions, so a run that dies part-way resumes
where it stopped and re-running the same input adds nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import duckdb

from .errors import StoreError
from .records import Document, Position, Prediction, Problem, Statement, content_id

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS runs (
    id VARCHAR PRIMARY KEY, started TIMESTAMP, finished TIMESTAMP, status VARCHAR, inputs VARCHAR,
    model_id VARCHAR, documents INTEGER, statements INTEGER, predictions INTEGER, quarantined INTEGER,
    seconds DOUBLE);
CREATE TABLE IF NOT EXISTS documents (
    id VARCHAR PRIMARY KEY, source_path VARCHAR, title VARCHAR, date DATE, speaker VARCHAR,
    source_type VARCHAR, source VARCHAR, url VARCHAR, body_start INTEGER, text VARCHAR,
    turns VARCHAR, meta VARCHAR, run_id VARCHAR);
CREATE TABLE IF NOT EXISTS statements (
    id VARCHAR PRIMARY KEY, doc_id VARCHAR, idx INTEGER, start_char INTEGER, end_char INTEGER, text VARCHAR,
    actor VARCHAR, actor_group VARCHAR, attribution VARCHAR, cue VARCHAR, date DATE, run_id VARCHAR);
CREATE TABLE IF NOT EXISTS predictions (
    statement_id VARCHAR, model_id VARCHAR, issue VARCHAR, stance VARCHAR, maximalism DOUBLE,
    maximalism_dist DOUBLE[], confidence DOUBLE, stance_confidence DOUBLE, zero_shot BOOLEAN,
    low_confidence BOOLEAN, targets VARCHAR[], run_id VARCHAR,
    PRIMARY KEY (statement_id, model_id, issue));
CREATE TABLE IF NOT EXISTS classified (statement_id VARCHAR, model_id VARCHAR, run_id VARCHAR,
    PRIMARY KEY (statement_id, model_id));
CREATE TABLE IF NOT EXISTS positions (
    model_id VARCHAR, period_kind VARCHAR, level VARCHAR, actor VARCHAR, actor_group VARCHAR, issue VARCHAR,
    period VARCHAR, period_start DATE, n INTEGER, maximalism DOUBLE, maximalism_low DOUBLE,
    maximalism_high DOUBLE, favor DOUBLE, against DOUBLE, neutral DOUBLE, statement_ids VARCHAR[]);
CREATE TABLE IF NOT EXISTS quarantine (
    id VARCHAR PRIMARY KEY, path VARCHAR, line INTEGER, reason VARCHAR, level VARCHAR, run_id VARCHAR,
    first_seen TIMESTAMP);
"""


class Store:
    """A Redline store on disk. Use as a context manager; only one process may hold it at a time."""

    def __init__(self, path: str | Path, read_only: bool = False):
        self.path = Path(path)
        if read_only and not self.path.exists():
            raise StoreError(f"{self.path}: no such store; create one with `redline run INPUT --store {self.path}`")
        try:
            self.db = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as e:
            if "lock" in str(e).lower():
                raise StoreError(f"{self.path} is in use by another Redline process; wait for it to finish "
                                 "or use another --store") from e
            raise StoreError(f"{self.path}: cannot open the store: {e}") from e
        except duckdb.Error as e:
            raise StoreError(f"{self.path}: not a Redline store (or corrupt): {e}") from e
        if not read_only:
            self.db.execute(SCHEMA)
            self.db.execute("INSERT INTO meta VALUES ('schema_version', ?) ON CONFLICT DO NOTHING",
                            [str(SCHEMA_VERSION)])

    def __enter__(self) -> Store:
        return self

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
                    predictions: Sequence[Prediction] = (), model_id: str | None = None) -> dict[str, int]:
        """Documents with their statements and predictions, all or nothing; returns the rows added."""
        before = self.counts()
        with self.transaction():
            self._insert_statements(statements, run_id)
            self.add_predictions(run_id, predictions, model_id, [s.id for s in statements])
            self._insert_documents(documents, run_id)  # last: a document present means its batch is complete
        after = self.counts()
        return {k: after[k] - before[k] for k in after}

    def _insert_documents(self, documents: Sequence[Document], run_id: str) -> None:
        rows = [(d.id, d.source_path, d.title, d.date, d.speaker, d.source_type, d.source, d.url, d.body_start,
                 d.text, json.dumps([asdict(t) for t in d.turns]), json.dumps(dict(d.meta)), run_id)
                for d in documents]
        if rows:
            self.db.executemany("INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING", rows)

    def _insert_statements(self, statements: Sequence[Statement], run_id: str) -> None:
        rows = [(s.id, s.doc_id, s.index, s.start, s.end, s.text, s.actor, s.actor_group, s.attribution, s.cue,
                 s.date, run_id) for s in statements]
        if rows:
            self.db.executemany("INSERT INTO statements VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING", rows)

    def add_predictions(self, run_id: str, predictions: Sequence[Prediction], model_id: str | None,
                        statement_ids: Sequence[str]) -> None:
        """Predictions of one model, and which statements it has classified (even those with no issue)."""
        rows = [(p.statement_id, p.model_id, p.issue, p.stance, p.maximalism, list(p.maximalism_dist),
                 p.confidence, p.stance_confidence, p.zero_shot, p.low_confidence, list(p.targets), run_id)
                for p in predictions]
        if rows:
            self.db.executemany("INSERT INTO predictions VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                                rows)
        if model_id is not None and statement_ids:
            self.db.executemany("INSERT INTO classified VALUES (?,?,?) ON CONFLICT DO NOTHING",
                                [(sid, model_id, run_id) for sid in statement_ids])

    def replace_positions(self, model_id: str, period_kind: str, positions: Sequence[Position]) -> int:
        """Replace `model_id`'s positions for `period_kind` with `positions`, in one transaction; returns rows."""
        rows = [(model_id, period_kind, p.level, p.actor, p.actor_group, p.issue, p.period, p.period_start, p.n,
                 p.maximalism, p.maximalism_low, p.maximalism_high, p.favor, p.against, p.neutral,
                 list(p.statement_ids)) for p in positions]
        with self.transaction():
            self.db.execute("DELETE FROM positions WHERE model_id = ? AND period_kind = ?", [model_id, period_kind])
            if rows:
                self.db.executemany(f"INSERT INTO positions ({', '.join(_POSITION_COLUMNS)}) VALUES "
                                    f"({', '.join('?' * len(_POSITION_COLUMNS))})", rows)
        return len(rows)

    def quarantine(self, run_id: str, problems: Iterable[Problem]) -> int:
        rows = [(content_id("problem", p.path, p.line, p.reason), p.path, p.line, p.reason, p.level, run_id,
                 dt.datetime.now()) for p in problems]
        if rows:
            self.db.executemany("INSERT INTO quarantine VALUES (?,?,?,?,?,?,?) ON CONFLICT DO NOTHING", rows)
        return len(rows)

    # --- reads ----------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        tables = ("documents", "statements", "predictions", "quarantine")
        return {t: self.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}

    def statements(self, actor: str | None = None, model_id: str | None = None,
                   limit: int | None = None) -> list[dict]:
        """Statements in document order, with their document's metadata and one model's predictions."""
        model_id = model_id or self.latest_model()
        sql = """
            SELECT s.id, s.doc_id, s.text, s.start_char AS start, s.end_char AS "end", s.actor, s.actor_group,
                   s.attribution, s.cue, CAST(s.date AS VARCHAR) AS date, d.source_path, d.title, d.source_type,
                   d.url, s.idx
            FROM statements s JOIN documents d ON d.id = s.doc_id
            WHERE (? IS NULL OR s.actor = ? OR s.actor_group = ?)
            ORDER BY d.source_path, s.idx"""
        params: list = [actor, actor, actor]
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
        """Statements that `model_id` has not classified yet, in store order."""
        cursor = self.db.execute(
            "SELECT id, doc_id, idx, start_char, end_char, text, actor, actor_group, attribution, cue, "
            "CAST(date AS VARCHAR) FROM statements s WHERE NOT EXISTS (SELECT 1 FROM classified c "
            "WHERE c.statement_id = s.id AND c.model_id = ?) ORDER BY doc_id, idx LIMIT ?", [model_id, limit])
        return [Statement(*row) for row in cursor.fetchall()]

    def latest_model(self) -> str | None:
        row = self.db.execute("SELECT c.model_id FROM classified c JOIN runs r ON r.id = c.run_id "
                              "ORDER BY r.started DESC LIMIT 1").fetchone()
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


_POSITION_COLUMNS = ("model_id", "period_kind", "level", "actor", "actor_group", "issue", "period", "period_start",
                     "n", "maximalism", "maximalism_low", "maximalism_high", "favor", "against", "neutral",
                     "statement_ids")


def _no_predictions(model_id: str | None) -> dict:
    return {"issues": [], "stance": {}, "maximalism": {}, "confidence": {}, "zero_shot": [],
            "low_confidence": [], "targets": [], "model_id": model_id}
