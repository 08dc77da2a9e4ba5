"""The annotation loop's learned doubt: `redline annotate fit-doubt` trains fold models, learns where readings go
wrong, writes it into the model folder; export uses it; a retrained or mixed folder never keeps a stale one."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from pipeline.classify import RedlineModel
from pipeline.cli import app
from pipeline.doubt import (
    DOUBT_WEIGHTS,
    FEATURES,
    LearnedDoubt,
    doubt,
    doubt_features,
    formula_doubt,
    held_out_check,
    reading_errors,
)
from pipeline.errors import ModelError
from pipeline.train import config_yaml, train

from .test_classify import EXAMPLES, _rows, tiny_config, tiny_corpus, tiny_model  # noqa: F401  (fixtures)

runner = CliRunner()


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, tiny_config):  # noqa: F811
    """A tiny model whose corpus groups hold out whole examples, with its doubt fitted on 2 folds by the CLI."""
    root = tmp_path_factory.mktemp("doubt")
    corpus = root / "corpus"
    corpus.mkdir()
    rows = _rows("train", 3, True) + _rows("dev", 1, True) + _rows("test", 1, True)
    (corpus / "tiny.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    config = tiny_config.model_copy(update={"corpus": (str(corpus),), "name": "doubtful"})
    folder = root / "doubtful"
    train(config).save(folder, config_yaml(config))
    result = runner.invoke(app, ["annotate", "fit-doubt", "--model", str(folder), "--folds", "2", "--force"])
    assert result.exit_code == 0, result.output
    return {"folder": folder, "config": config, "output": result.output, "train_rows": 3 * len(EXAMPLES)}


def test_fit_doubt_writes_a_doubt_learned_from_every_training_row_read_by_a_model_that_never_saw_it(fitted):
    card = json.loads((fitted["folder"] / "card.json").read_text(encoding="utf-8"))
    model = RedlineModel.load(fitted["folder"])
    assert card["doubt"]["folds"] == 2 and card["doubt"]["rows"] == fitted["train_rows"]
    assert 0 < card["doubt"]["wrong"] < fitted["train_rows"] and card["doubt"]["model_id"] == model.model_id
    assert "fold 2/2" in fitted["output"] and f"{card['doubt']['wrong']} wrong" in fitted["output"]
    assert card["doubt"]["kept"] and f"kept → {fitted['folder']}" in fitted["output"].replace("\n", "")
    assert 0 <= card["doubt"]["check"]["learned"] <= 1 and card["doubt"]["check"]["top"] == fitted["train_rows"] // 4
    assert model.learned_doubt is not None and (fitted["folder"] / DOUBT_WEIGHTS).exists()
    assert f"learned from {fitted['train_rows']} readings of 2 fold models" in \
        (fitted["folder"] / "README.md").read_text(encoding="utf-8")
    texts = ["Ukraine will never join NATO, that is a red line for us.", "The talks went on late into the night.",
             "Perhaps the EU question can wait, the minister said."]
    scores = model.score(texts, ["Russia", "author", "Europe"])
    learned = doubt(model, scores, texts)
    assert learned.shape == (3,) and np.all((learned > 0) & (learned < 1))
    assert not np.allclose(learned, formula_doubt(model, scores))  # the fitted doubt is what export ranks by


def test_fit_doubt_does_not_change_a_prediction_or_the_model_id(fitted, tmp_path):
    before = tmp_path / "before"
    config = fitted["config"]
    train(config).save(before, config_yaml(config))  # the same seed and corpus: the same model, no doubt
    plain, with_doubt = RedlineModel.load(before), RedlineModel.load(fitted["folder"])
    assert plain.learned_doubt is None and plain.model_id == with_doubt.model_id
    texts = ["Hungary will never approve Ukraine's membership of the European Union.", "We want to join NATO."]
    assert plain.tag(texts) == with_doubt.tag(texts)


def test_export_says_which_doubt_ranked_the_tasks(fitted, tmp_path):
    documents = tmp_path / "documents.jsonl"
    documents.write_text("".join(json.dumps({"text": f"{t[:-1]}, an official said on Monday.", "date": "2024-03-01",
                                             "source_type": "news_report"}) + "\n" for t, *_ in EXAMPLES),
                         encoding="utf-8")
    store = tmp_path / "store.duckdb"
    assert runner.invoke(app, ["run", str(documents), "--store", str(store), "--model", str(fitted["folder"])]
                         ).exit_code == 0
    out = tmp_path / "tasks.jsonl"
    result = runner.invoke(app, ["annotate", "export", "--store", str(store), "--model", str(fitted["folder"]),
                                 "--n", "5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "doubt learned from fold errors" in result.output
    doubts = [json.loads(line)["meta"]["doubt"] for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(doubts) == 5 and doubts == sorted(doubts, reverse=True)


def test_a_retrained_model_saved_over_the_folder_drops_the_old_doubt(fitted, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(fitted["folder"], folder)
    retrained = train(fitted["config"].model_copy(update={"seed": 14}))
    retrained.save(folder, config_yaml(fitted["config"]))
    assert not (folder / DOUBT_WEIGHTS).exists() and "doubt" not in json.loads((folder / "card.json").read_text())
    assert "Annotation doubt" not in (folder / "README.md").read_text(encoding="utf-8")
    assert RedlineModel.load(folder).learned_doubt is None


def test_a_doubt_fitted_for_another_model_is_refused_by_name(fitted, tiny_model, tmp_path):  # noqa: F811
    folder = tmp_path / "mixed"
    shutil.copytree(tiny_model, folder)
    shutil.copy(fitted["folder"] / DOUBT_WEIGHTS, folder / DOUBT_WEIGHTS)
    with pytest.raises(ModelError, match="doubt.safetensors was fitted for None, not tiny@"):
        RedlineModel.load(folder)
    (folder / DOUBT_WEIGHTS).write_bytes(b"not a safetensors file")
    with pytest.raises(ModelError, match="corrupt doubt weights"):
        RedlineModel.load(folder)


def test_without_force_the_doubt_is_kept_only_where_it_beat_the_formula_on_held_out_folds(fitted, tmp_path):
    folder = tmp_path / "checked"
    shutil.copytree(fitted["folder"], folder)
    result = runner.invoke(app, ["annotate", "fit-doubt", "--model", str(folder), "--folds", "2"])
    assert result.exit_code == 0, result.output
    doubt_card = json.loads((folder / "card.json").read_text(encoding="utf-8"))["doubt"]
    check = doubt_card["check"]
    assert doubt_card["kept"] == (check["learned"] > check["formula"]) == (folder / DOUBT_WEIGHTS).exists()
    assert (RedlineModel.load(folder).learned_doubt is not None) == doubt_card["kept"]
    said = "kept →" if doubt_card["kept"] else "not kept: `annotate export` ranks by the formula"
    output = " ".join(result.output.split())
    assert said in output and f"{check['formula']:.1%} by the formula" in output
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert ("ranks by a doubt learned" in readme) == doubt_card["kept"]


def test_held_out_check_prefers_whichever_ranks_the_unseen_folds_better():
    rng = np.random.default_rng(0)
    features = [rng.normal(size=(200, len(FEATURES))).astype(np.float32) for _ in range(3)]
    # errors follow the length column, which the formula (column 0) knows nothing of: the learned doubt wins
    by_length = [f[:, 7] > 0.5 for f in features]
    check = held_out_check(features, by_length)
    assert check["top"] == 150 and check["learned"] > check["formula"] + 0.2
    # errors are exactly what the formula says: the learned doubt cannot rank them better
    for f in features:
        f[:, 0] = rng.normal(size=200)
    by_formula = [f[:, 0] > 0.5 for f in features]  # ~31 % wrong: more than the top quarter
    check = held_out_check(features, by_formula)
    assert check["formula"] == 1.0 and not check["learned"] > check["formula"]


def test_a_training_split_of_one_group_is_refused_before_any_fold_is_trained(fitted, tmp_path):
    folder = tmp_path / "one-group"
    shutil.copytree(fitted["folder"], folder)
    corpus = tmp_path / "corpus.jsonl"
    rows = [dict(r, group="all") if r["split"] == "train" else r for r in _rows("train", 3) + _rows("dev", 1)]
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (folder / "config.yaml").write_text(config_yaml(fitted["config"].model_copy(update={"corpus": (str(corpus),)})),
                                        encoding="utf-8")
    result = runner.invoke(app, ["annotate", "fit-doubt", "--model", str(folder)])
    assert result.exit_code != 0 and "fall into fewer than 2 of 5 folds" in " ".join(str(result.exception).split())
    assert "fold 1/" not in result.output


def test_fitting_needs_right_and_wrong_readings(tiny_model):  # noqa: F811
    with pytest.raises(ModelError, match="2 wrong and 58 right"):
        LearnedDoubt.fit(np.zeros((60, len(FEATURES))), np.array([True, True] + [False] * 58))
    result = runner.invoke(app, ["annotate", "fit-doubt", "--model", str(tiny_model), "--folds", "1"])
    assert result.exit_code != 0 and "--folds" in result.output


def test_doubt_features_and_reading_errors_on_annotated_rows(fitted):
    model = RedlineModel.load(fitted["folder"])
    rows = [{"text": "Ukraine will never join NATO while I am in the Kremlin, that is a red line.",
             "actor_group": "Russia", "issues": ["nato_membership"], "stance": {"nato_membership": "favor"},
             "maximalism": {"nato_membership": 3}},
            {"text": "The train to Kyiv was delayed by three hours.", "actor_group": "author", "issues": [],
             "stance": {}, "maximalism": {}}]
    errors, scores = reading_errors(model, rows)
    assert errors.tolist() == [True, False]  # the gold stance here is wrong on purpose: the reading differs
    features = doubt_features(model, scores, [r["text"] for r in rows])
    assert features.shape == (2, len(FEATURES)) and features[1, 4] == 1.0  # no issue chosen for the train
