"""The `redline` command as a user runs it: one line on errors, JSONL rows with the documented fields."""

from __future__ import annotations

import json
import subprocess
import sys


def _redline(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def test_run_then_statements_as_jsonl(tmp_path):
    doc = tmp_path / "a.md"
    doc.write_text("---\ndate: 2025-03-11\nsource_type: news_report\n---\n"
                   "Lavrov said Kyiv must withdraw from Donetsk.\n", encoding="utf-8")
    store = tmp_path / "s.duckdb"
    result = _redline("run", str(doc), "--store", str(store))
    assert result.returncode == 0, result.stderr
    assert "1 documents added" in result.stderr
    listed = _redline("statements", "--store", str(store), "--format", "jsonl")
    (row,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert {"id", "doc_id", "text", "start", "end", "actor", "actor_group", "attribution", "date"} <= row.keys()
    assert (row["actor"], row["actor_group"], row["date"]) == ("Sergei Lavrov", "Russia", "2025-03-11")
    # the default model tags it: a Russian demand for Donetsk is territory, favor, firm
    assert row["issues"] == ["territory"] and row["stance"] == {"territory": "favor"}
    assert row["maximalism"]["territory"] >= 1.5 and 0 < row["confidence"]["territory"] <= 1
    assert row["targets"] == ["Donetsk"]


def test_errors_are_one_line_without_traceback(tmp_path):
    result = _redline("statements", "--store", str(tmp_path / "missing.duckdb"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "no such store" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_mistyped_command_or_option_says_so_in_a_line_or_two(tmp_path):
    for args, said in ((("annotate", "pick"), "No such command 'pick'"),
                       (("statements", "--stor", str(tmp_path)), "No such option: --stor")):
        result = _redline(*args)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr and said in result.stderr
