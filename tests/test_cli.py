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
    # a report the system refuses to write (its folder would sit under a file) is one line naming the path
    (tmp_path / "afile").write_text("", encoding="utf-8")
    refused = _redline("export", "--store", str(store), "--format", "html", "--out", str(tmp_path / "afile" / "r.html"))
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().startswith("error:") and str(tmp_path / "afile") in refused.stderr


def test_errors_are_one_line_without_traceback(tmp_path):
    result = _redline("statements", "--store", str(tmp_path / "missing.duckdb"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "no such store" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_inputs_are_named_and_nothing_is_created(tmp_path):
    missing = tmp_path / "missing.jsonl"
    result = _redline("evaluate", "--model", "default", "--data", str(missing))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{missing}: No such file or directory" in result.stderr
    # picking statements to annotate from a store that is not there: said so, and no empty store is left behind
    result = _redline("annotate", "export", "--store", str(tmp_path / "none.duckdb"), "--n", "5",
                      "--out", str(tmp_path / "tasks.jsonl"))
    assert result.returncode == 2 and "no such store" in result.stderr
    assert not (tmp_path / "none.duckdb").exists() and not (tmp_path / "tasks.jsonl").exists()


def test_the_exit_status_tells_a_script_that_nothing_was_read_or_a_check_failed(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("Lavrov said NATO membership for Kyiv is unacceptable.", encoding="utf-8")
    store = tmp_path / "s.duckdb"
    nothing = _redline("run", str(tmp_path / "typo.txt"), "--store", str(store), "--no-classify")
    assert nothing.returncode == 1 and "nothing could be read" in nothing.stderr
    assert f"{tmp_path / 'typo.txt'}: no such file" in nothing.stderr
    some = _redline("run", str(tmp_path / "typo.txt"), str(good), "--store", str(store), "--no-classify")
    assert some.returncode == 0 and "1 quarantined" in some.stderr and "1 documents added" in some.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "We will never accept it.", "issues": ["no_such_issue"]}\n', encoding="utf-8")
    check = _redline("corpus", "check", str(bad))  # a failed check is a failed status for scripts and CI
    assert check.returncode == 1 and f"{bad}:1" in check.stdout


def test_a_mistyped_command_or_option_says_so_in_a_line_or_two(tmp_path):
    for args, said in ((("annotate", "pick"), "No such command 'pick'"),
                       (("statements", "--stor", str(tmp_path)), "No such option: --stor"),
                       (("statements", "--limit", "-3"), "Invalid value for '--limit'")):
        result = _redline(*args)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr and said in result.stderr
