"""The TweetEval stance loader: a tiny folder in the TweetEval layout → Redline corpus rows, splits, config."""

from __future__ import annotations

from collections import Counter

import pytest

from pipeline.config import load_taxonomy
from pipeline.corpus import load_rows, row_errors
from pipeline.datasets_stance import (
    SEMEVAL_TAXONOMY,
    materialise_tweeteval,
    semeval_training_config,
    tweeteval_rows,
    write_jsonl,
)
from pipeline.errors import InputError

from .conftest import ROOT

# Written for this test, not taken from the data set: (split prefix, text, label number).
TWEETS = {
    "abortion": [("train", "My body, my choice. ", 2), ("train", "Every life is precious.", 1),
                 ("val", "Lunch was great today", 0), ("test", "Protect the unborn", 1)],
    "climate": [("train", "The planet is warming fast", 2), ("val", "Cut emissions now", 2),
                ("test", "Nice weather for a walk", 0), ("test", "Warming is a hoax", 1)],
}


def _write_folder(root, tweets=TWEETS):
    root.mkdir()
    (root / "mapping.txt").write_text("0\tnone\n1\tagainst\n2\tfavor", encoding="utf-8")
    for target, items in tweets.items():
        folder = root / target
        folder.mkdir()
        for prefix in ("train", "val", "test"):
            chosen = [(text, label) for split, text, label in items if split == prefix]
            (folder / f"{prefix}_text.txt").write_text("".join(f"{t}\n" for t, _ in chosen), encoding="utf-8")
            (folder / f"{prefix}_labels.txt").write_text("".join(f"{n}\n" for _, n in chosen), encoding="utf-8")
    return root


@pytest.fixture
def folder(tmp_path):
    return _write_folder(tmp_path / "tweeteval")


def test_rows_splits_and_labels(folder):
    rows = tweeteval_rows(folder)
    assert len(rows) == 8
    assert Counter(r["split"] for r in rows) == {"train": 3, "dev": 2, "test": 3}
    first = rows[0]
    assert first["id"] == "abortion-train-0001" and first["text"] == "My body, my choice."
    assert first["issues"] == ["abortion"] and first["stance"] == {"abortion": "favor"}
    assert first["maximalism"] == {"abortion": 1} and first["actor_group"] == "other"
    stances = {r["id"]: r["stance"][r["issues"][0]] for r in rows}
    assert stances["abortion-val-0001"] == "neutral" and stances["climate-test-0002"] == "against"


def test_rows_follow_the_corpus_schema(folder):
    taxonomy = load_taxonomy(SEMEVAL_TAXONOMY)
    assert all(row_errors(r, taxonomy) == [] for r in tweeteval_rows(folder))


def test_taxonomy_has_the_five_targets():
    taxonomy = load_taxonomy(SEMEVAL_TAXONOMY)
    assert taxonomy.ids == ("abortion", "atheism", "climate", "feminist", "hillary")


def test_named_targets_only(folder):
    rows = tweeteval_rows(folder, targets=["climate"])
    assert {r["issues"][0] for r in rows} == {"climate"}
    with pytest.raises(InputError, match="hillary"):
        tweeteval_rows(folder, targets=["hillary"])


def test_misaligned_files_are_refused(folder):
    (folder / "climate" / "test_labels.txt").write_text("0\n", encoding="utf-8")
    with pytest.raises(InputError, match="line by line"):
        tweeteval_rows(folder)


def test_unknown_label_names_file_and_line(folder):
    (folder / "climate" / "val_labels.txt").write_text("7\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"val_labels.txt:1"):
        tweeteval_rows(folder)


def test_missing_mapping_is_refused(folder):
    (folder / "mapping.txt").unlink()
    with pytest.raises(InputError, match="mapping.txt"):
        tweeteval_rows(folder)


def test_materialise_round_trip(folder, tmp_path):
    path = materialise_tweeteval(folder, tmp_path / "out" / "rows.jsonl")
    rows = load_rows([path], load_taxonomy(SEMEVAL_TAXONOMY))
    assert rows == tweeteval_rows(folder)


def test_unknown_target_is_refused(tmp_path):
    folder = _write_folder(tmp_path / "tweeteval", {"brexit": TWEETS["climate"]})
    with pytest.raises(InputError, match="brexit"):
        materialise_tweeteval(folder, tmp_path / "rows.jsonl")


def test_never_written_into_the_repository(folder):
    with pytest.raises(InputError, match="inside the repository"):
        write_jsonl(tweeteval_rows(folder), ROOT / "corpora" / "semeval.jsonl")
    assert not (ROOT / "corpora" / "semeval.jsonl").exists()


def test_training_config_points_at_the_materialised_file(tmp_path):
    config = semeval_training_config(tmp_path / "rows.jsonl")
    assert config.corpus == (str(tmp_path / "rows.jsonl"),)
    assert config.mode == "heads" and config.taxonomy.endswith("semeval2016.yaml")
