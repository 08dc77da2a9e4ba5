"""Export and the positions table: every format reads back as the rows the store holds."""

from __future__ import annotations

import csv
import datetime as dt
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from pipeline.aggregate import positions_by_period
from pipeline.errors import TimelineError
from pipeline.export import (
    LIST_SEPARATOR,
    POSITION_SCHEMA,
    STATEMENT_SCHEMA,
    export,
    position_rows,
    statement_rows,
)
from pipeline.records import Position
from pipeline.store import Store

from .conftest import TIMELINE_MODEL, TIMELINE_STATEMENTS


@pytest.fixture
def store(timeline_store):
    with Store(timeline_store, read_only=True) as opened:
        yield opened


def _iso(rows: list[dict]) -> list[dict]:
    return [{k: v.isoformat() if isinstance(v, dt.date) else v for k, v in row.items()} for row in rows]


def test_statement_rows_are_one_per_statement_and_issue(store):
    rows = statement_rows(store.statements())
    expected = sum(max(1, len(issues)) for *_, issues in TIMELINE_STATEMENTS)
    assert len(rows) == expected and list(rows[0]) == STATEMENT_SCHEMA.names
    (no_issue,) = [r for r in rows if r["actor"] == "author"]
    assert no_issue["issue"] == "" and no_issue["stance"] is None and no_issue["maximalism"] is None


def test_parquet_round_trip(store, tmp_path):
    statements_path, positions_path = export(store, "parquet", tmp_path / "out")
    assert _iso(pq.read_table(statements_path).to_pylist()) == statement_rows(store.statements())
    assert pq.read_table(positions_path).schema.equals(POSITION_SCHEMA)
    assert _iso(pq.read_table(positions_path).to_pylist()) == position_rows(store.positions())


def test_csv_round_trip(store, tmp_path):
    statements_path, positions_path = export(store, "csv", tmp_path / "out")
    assert _read_csv(statements_path, STATEMENT_SCHEMA) == statement_rows(store.statements())
    assert _read_csv(positions_path, POSITION_SCHEMA) == position_rows(store.positions())


def _read_csv(path, schema: pa.Schema) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [{f.name: _parse(row[f.name], f.type, f.name) for f in schema} for row in csv.DictReader(handle)]


def _parse(cell: str, kind: pa.DataType, name: str):
    if pa.types.is_list(kind):
        return cell.split(LIST_SEPARATOR) if cell else []
    if cell == "" and name != "issue":
        return None
    if pa.types.is_boolean(kind):
        return cell == "true"
    if pa.types.is_integer(kind):
        return int(cell)
    if pa.types.is_floating(kind):
        return float(cell)
    return cell


def test_json_timeline_round_trip(store, tmp_path):
    (path,) = export(store, "json", tmp_path / "timeline.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["model_id"] == TIMELINE_MODEL and data["period_kind"] == "quarter"
    assert len(data["undated_statements"]) == 1
    assert list(data["actors"]["Vladimir Putin"]["territory"]) == ["2024-Q4", "2025-Q1"]
    positions = [Position(actor=actor, level=level, issue=issue, period=period, period_kind=data["period_kind"],
                          model_id=data["model_id"], **{**entry, "statement_ids": tuple(entry["statement_ids"])})
                 for key, level in (("actors", "actor"), ("groups", "group"))
                 for actor, issues in data[key].items() for issue, periods in issues.items()
                 for period, entry in periods.items()]
    assert sorted(positions, key=repr) == sorted(store.positions(), key=repr)
    assert [(s["actor"], s["direction"]) for s in data["shifts"] if s["level"] == "actor"] == \
        [("Vladimir Putin", "softened")]


def test_exports_are_reproducible(store, tmp_path):
    first = export(store, "json", tmp_path / "a.json")[0].read_bytes()
    assert export(store, "json", tmp_path / "b.json")[0].read_bytes() == first


def test_positions_are_computed_when_the_store_has_none_for_the_period(store, tmp_path):
    (path,) = export(store, "json", tmp_path / "t.json", period="month")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["period_kind"] == "month"
    assert list(data["actors"]["Vladimir Putin"]["territory"]) == ["2024-10", "2024-11", "2025-01", "2025-02"]


def test_replace_positions_is_idempotent_per_model_and_period(timeline_store):
    with Store(timeline_store) as store:
        quarterly = store.positions(TIMELINE_MODEL, "quarter")
        yearly = positions_by_period(store.statements(), "year")
        assert store.replace_positions(TIMELINE_MODEL, "year", yearly) == len(yearly)
        assert store.replace_positions(TIMELINE_MODEL, "year", yearly) == len(yearly)
        assert store.positions(TIMELINE_MODEL, "year") == sorted(yearly, key=_series_order)
        assert store.positions(TIMELINE_MODEL, "quarter") == quarterly
        store.replace_positions(TIMELINE_MODEL, "year", [])
        assert store.positions(TIMELINE_MODEL, "year") == []


def test_replacing_positions_that_fails_midway_keeps_the_old_ones(timeline_store):
    with Store(timeline_store) as store:
        quarterly = store.positions(TIMELINE_MODEL, "quarter")
        fresh = positions_by_period(store.statements(), "quarter")

        def dies_late():
            for _ in range(1 + 2000 // len(fresh)):  # more than one committed chunk is staged before the failure
                yield from fresh
            raise RuntimeError("killed while aggregating")

        with pytest.raises(RuntimeError, match="killed"):
            store.replace_positions(TIMELINE_MODEL, "quarter", dies_late())
        assert store.positions(TIMELINE_MODEL, "quarter") == quarterly
        assert store.replace_positions(TIMELINE_MODEL, "quarter", fresh[:10]) == 10  # the staged rows are cleared
        assert len(store.positions(TIMELINE_MODEL, "quarter")) == 10
        assert store.db.execute("SELECT DISTINCT period_kind FROM positions").fetchall() == [("quarter",)]


def _series_order(p: Position):
    return (p.level, p.actor, p.issue, p.period_start)


def test_bad_formats_and_paths_are_explained(store, tmp_path):
    with pytest.raises(TimelineError, match="unknown export format 'xlsx'; use one of"):
        export(store, "xlsx", tmp_path / "out")
    (tmp_path / "file").write_text("x")
    with pytest.raises(TimelineError, match="is a file"):
        export(store, "csv", tmp_path / "file")
    with pytest.raises(TimelineError, match="is a folder"):
        export(store, "json", tmp_path)


def test_cli_timeline_shifts_and_export(timeline_store, tmp_path):
    from pipeline.cli import app

    runner = CliRunner()
    listed = runner.invoke(app, ["timeline", "--store", str(timeline_store), "--format", "json", "--actor",
                                 "Vladimir Putin", "--issue", "territory"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [(r["period"], r["n"]) for r in rows] == [("2024-Q4", 2), ("2025-Q1", 2)]
    # a misspelt actor or issue is refused with the names there are; two real names with nothing together are not
    misspelt = runner.invoke(app, ["timeline", "--store", str(timeline_store), "--actor", "Vladimir Puttin"])
    assert isinstance(misspelt.exception, TimelineError) and "Vladimir Putin" in str(misspelt.exception)
    unknown = runner.invoke(app, ["timeline", "--store", str(timeline_store), "--issue", "nato"])
    assert isinstance(unknown.exception, TimelineError) and "nato_membership" in str(unknown.exception)
    apart = runner.invoke(app, ["timeline", "--store", str(timeline_store), "--actor", "Vladimir Putin", "--issue",
                                "nato_membership"])
    assert apart.exit_code == 0 and "not together" in apart.stderr
    misspelt = runner.invoke(app, ["statements", "--store", str(timeline_store), "--actor", "Zelenskyy"])
    assert isinstance(misspelt.exception, TimelineError) and "Volodymyr Zelensky" in str(misspelt.exception)
    shifts = runner.invoke(app, ["shifts", "--store", str(timeline_store)])
    assert "Vladimir Putin · territory: 3.0 (2024-Q4) → 1.0 (2025-Q1), 2 → 2 statements" in shifts.stdout
    plot = tmp_path / "t.png"
    assert runner.invoke(app, ["timeline", "--store", str(timeline_store), "--plot", str(plot)]).exit_code == 0
    assert plot.read_bytes()[:4] == b"\x89PNG"
    exported = runner.invoke(app, ["export", "--store", str(timeline_store), "--format", "html", "--out",
                                   str(tmp_path / "r.html")])
    assert exported.exit_code == 0 and (tmp_path / "r.html").exists()


def test_registered_exporters():
    from pipeline.export import EXPORTERS

    assert sorted(EXPORTERS) == ["csv", "html", "json", "parquet"]
