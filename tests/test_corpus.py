"""Corpus: the shipped corpus passes its checks; bad rows are reported with file and line; splits stay apart."""

from __future__ import annotations

import json

import pytest

from pipeline.config import load_taxonomy
from pipeline.corpus import (
    assign_splits,
    check_corpus,
    corpus_stats,
    cross_split_duplicates,
    load_corpus,
    load_rows,
)
from pipeline.errors import ConfigError, CorpusError

from .conftest import ROOT

STATEMENTS = ROOT / "corpora" / "statements"


@pytest.fixture(scope="module")
def taxonomy():
    return load_taxonomy()


@pytest.fixture(scope="module")
def rows(taxonomy):
    return load_rows([STATEMENTS], taxonomy)


def test_shipped_corpus_has_no_schema_errors(taxonomy):
    _, errors = check_corpus([STATEMENTS], taxonomy)
    assert errors == []


def test_shipped_corpus_meets_its_data_card(rows, taxonomy):
    stats = corpus_stats(rows, taxonomy)
    assert stats["rows"] >= 3000
    assert stats["negatives"] / stats["rows"] >= 0.20 and stats["multi_issue"] / stats["rows"] >= 0.10
    assert len(stats["actors"]) >= 30
    assert set(stats["years"]) == {"2022", "2023", "2024", "2025"}
    totals = {issue: sum(c.values()) for issue, c in stats["issues"].items()}
    assert min(totals.values()) >= 150
    for issue in sorted(totals, key=totals.get)[-5:]:
        for level in (0, 1, 2, 3):
            assert sum(v for (_, m), v in stats["issues"][issue].items() if m == level) >= 40, (issue, level)


def test_near_duplicates_do_not_cross_splits(rows):
    share, _ = cross_split_duplicates(rows)
    assert share <= 0.01


def test_near_duplicates_and_groups_share_a_split():
    base = "Russia will never accept Ukraine in NATO, the Kremlin said on Tuesday in Moscow."
    rows = [{"id": f"r{i}", "text": t, "group": g} for i, (t, g) in enumerate([
        (base, "a"), (base.replace("Tuesday", "Wednesday"), "b"), ("Entirely different words here today.", "a"),
        *[(" ".join(f"w{(n * 7 + k * 13) % 997}" for k in range(12)), f"x{n}") for n in range(40)]])]
    splits = assign_splits(rows)
    assert splits[0] == splits[1] == splits[2]
    assert set(splits) == {"train", "dev", "test"}


def test_schema_errors_name_file_line_and_fix(tmp_path, taxonomy):
    bad = tmp_path / "bad.jsonl"
    lines = [
        {"id": "a", "text": "x", "actor": "A", "issues": ["tarrifs"], "stance": {"tarrifs": "favor"},
         "maximalism": {"tarrifs": 1}},
        {"id": "b", "text": "y", "actor": "B", "issues": ["territory"], "stance": {}, "maximalism": {"territory": 2}},
        {"id": "c", "text": "z", "actor": "C", "issues": [], "stance": {}, "maximalism": {}, "date": "2024-02-30"},
    ]
    bad.write_text("".join(json.dumps(r) + "\n" for r in lines) + "{broken\n", encoding="utf-8")
    _, errors = check_corpus([bad], taxonomy)
    assert any(e.startswith(f"{bad}:1:") and "unknown issue id(s) ['tarrifs']" in e for e in errors)
    assert any(e.startswith(f"{bad}:2:") and "'stance' keys" in e for e in errors)
    assert any(e.startswith(f"{bad}:3:") and "2024-02-30" in e for e in errors)
    assert any(e.startswith(f"{bad}:4:") and "not valid JSON" in e for e in errors)
    with pytest.raises(CorpusError):
        load_rows([bad], taxonomy)


def test_corpus_loads_as_a_dataset_dict_with_declared_features(tmp_path, taxonomy):
    rows = [{"id": f"r{i}", "text": f"Kyiv rejects the freeze, round {i}.", "actor": "Ukraine", "actor_group": "Ukraine",
             "issues": ["ceasefire"], "stance": {"ceasefire": "against"}, "maximalism": {"ceasefire": 2},
             "split": ("train", "dev", "test")[i % 3]} for i in range(6)]
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    dataset = load_corpus([path], taxonomy)
    assert set(dataset) == {"train", "dev", "test"} and dataset["train"].num_rows == 2
    issues = dataset["train"].features["issues"].feature
    assert issues.int2str(dataset["train"][0]["issues"][0]) == "ceasefire"


def test_a_malformed_taxonomy_is_refused_with_file_and_key(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("name: t\nissues:\n  - {id: Bad Id, proposition: p, description: d}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"t.yaml: key 'issues.0.id'"):
        load_taxonomy(path)
    path.write_text("name: t\nissues:\n  - {id: a, proposition: p, description: d, colour: red}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="colour"):
        load_taxonomy(path)
