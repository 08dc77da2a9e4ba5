"""Classify, train, evaluate: a tiny model trained in seconds on inline statements, saved, loaded, refused."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import spacy
import torch

from pipeline.classify import RedlineModel, build_heads, find_targets, issue_clauses, sharpen
from pipeline.config import load_taxonomy
from pipeline.errors import ConfigError, ModelError
from pipeline.evaluate import evaluate_model
from pipeline.records import Statement
from pipeline.registry import start_heads
from pipeline.train import TrainingConfig, config_yaml, train

from .conftest import ROOT

# (text, group, issue or None, stance, maximalism): two issues, clear wording, both holders.
EXAMPLES = [
    ("Ukraine will never join NATO while I am in the Kremlin, that is a red line.", "Russia", "nato_membership", "against", 3),
    ("NATO membership for Ukraine is absolutely unacceptable to Moscow.", "Russia", "nato_membership", "against", 3),
    ("The alliance's door must stay open and Ukraine belongs in NATO.", "Ukraine", "nato_membership", "favor", 2),
    ("We want an invitation to join NATO at the next summit.", "Ukraine", "nato_membership", "favor", 2),
    ("Kyiv could consider a neutral status instead of NATO if the guarantees are real.", "Ukraine", "nato_membership", "against", 1),
    ("Perhaps NATO membership can wait for some years, the minister said.", "Europe", "nato_membership", "against", 1),
    ("Moscow does not object to Ukraine joining the European Union.", "Russia", "eu_membership", "favor", 0),
    ("We have nothing against Kyiv's EU accession, that is their choice.", "Russia", "eu_membership", "favor", 0),
    ("Ukraine must open EU accession talks this year.", "Europe", "eu_membership", "favor", 2),
    ("The European Union should welcome Ukraine as a member state.", "Europe", "eu_membership", "favor", 2),
    ("Hungary will never approve Ukraine's membership of the European Union.", "Europe", "eu_membership", "against", 3),
    ("Budapest blocks the EU accession of Kyiv under any circumstances.", "Europe", "eu_membership", "against", 3),
    ("The weather in Geneva was cold as delegations arrived.", "author", None, None, None),
    ("Officials thanked the hosts for the dinner and the hospitality.", "other", None, None, None),
    ("Prisoners were exchanged at the border on Tuesday morning.", "author", None, None, None),
    ("The train to Kyiv was delayed by three hours.", "author", None, None, None),
]


def _rows(split: str, repeat: int, group_by_example: bool = False) -> list[dict]:
    """The examples, each written `repeat` times; a row's group is its own, or with `group_by_example` the
    example's (every wording of one example in one group, and so in one fold of `fit-doubt`)."""
    rows = []
    for n in range(repeat):
        for i, (text, group, issue, stance, level) in enumerate(EXAMPLES):
            variant = text if n == 0 else f"{text} ({split} {n})"
            rows.append({"id": f"{split}-{n}-{i}", "text": variant, "actor": "x", "actor_group": group,
                         "date": "2024-01-01", "issues": [issue] if issue else [],
                         "stance": {issue: stance} if issue else {}, "maximalism": {issue: level} if issue else {},
                         "split": split, "group": f"{split}-{i}" if group_by_example else f"{split}-{n}-{i}"})
    return rows


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    rows = _rows("train", 3) + _rows("dev", 1) + _rows("test", 1)
    (folder / "tiny.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def tiny_config(tiny_corpus, tmp_path_factory):
    taxonomy = load_taxonomy()
    keep = [i for i in taxonomy.issues if i.id in ("nato_membership", "eu_membership")]
    path = tmp_path_factory.mktemp("tax") / "two.yaml"
    import yaml

    path.write_text(yaml.safe_dump({"name": "two", "issues": [i.model_dump() for i in keep]}), encoding="utf-8")
    return TrainingConfig(name="tiny", corpus=(str(tiny_corpus),), taxonomy=str(path), epochs=30, patience=30,
                          learning_rate=0.01, hidden=32, dropout=0.0)


@pytest.fixture(scope="session")
def tiny_model(tiny_config, tmp_path_factory):
    model = train(tiny_config)
    folder = tmp_path_factory.mktemp("models") / "tiny"
    model.save(folder, config_yaml(tiny_config))
    return folder


def test_training_learns_issues_stance_and_maximalism(tiny_model):
    model = RedlineModel.load(tiny_model)
    (never, object_, weather) = model.tag(
        ["Ukraine will never join NATO, that is a red line for us.",
         "Moscow does not object to Ukraine joining the European Union.",
         "The weather was cold as delegations arrived."], groups=["Russia", "Russia", "author"])
    assert never["issues"] == ["nato_membership"] and never["stance"]["nato_membership"] == "against"
    assert never["maximalism"]["nato_membership"] > 2.0
    assert object_["issues"] == ["eu_membership"] and object_["maximalism"]["eu_membership"] < 1.0
    assert weather["issues"] == []
    # an empty batch tags to nothing; a holder group too few is named, not a shape error from inside the heads
    assert model.tag([]) == []
    with pytest.raises(ValueError, match="2 texts but 1 groups"):
        model.tag(["We want to join NATO.", "Budapest blocks the EU accession of Kyiv."], groups=["Ukraine"])


def test_saved_model_loads_with_the_same_scores_and_batch_equals_single(tiny_model):
    first, second = RedlineModel.load(tiny_model), RedlineModel.load(tiny_model)
    texts = ["We want to join NATO.", "Budapest blocks the EU accession of Kyiv."]
    batch = first.score(texts, ["Ukraine", "Europe"])
    single = second.score(texts[1:], ["Europe"])
    assert abs(batch.issue_probs[1] - single.issue_probs[0]).max() < 1e-5
    assert abs(batch.stance_probs[1] - single.stance_probs[0]).max() < 1e-5
    assert first.model_id == second.model_id


def test_card_records_labels_hashes_and_metrics(tiny_model):
    card = json.loads((tiny_model / "card.json").read_text())
    assert card["labels"]["issues"] == ["nato_membership", "eu_membership"]
    assert card["corpus"]["sizes"] == {"train": 48, "dev": 16, "test": 16}
    assert {"dev", "test"} <= card["metrics"].keys() and card["taxonomy_hash"]
    assert "torch" in card["versions"]


def test_training_is_reproducible(tiny_config, tiny_model):
    again = train(tiny_config)
    assert again.model_id == RedlineModel.load(tiny_model).model_id


def test_an_ensemble_averages_heads_trained_from_different_seeds(tiny_config, tiny_model, tmp_path):
    config = tiny_config.model_copy(update={"ensemble": 3})
    model = train(config)
    members = model.heads.members
    assert len(members) == 3 and not torch.equal(members[0].issue[1].weight, members[1].issue[1].weight)
    texts, groups = ["Ukraine will never join NATO.", "We welcome Kyiv's EU candidacy."], ["Russia", "Europe"]
    feats = model.features(texts)
    args = (feats["h"], feats["keywords"][:, :2], feats["similarity"][:, :2], feats["cues"])
    with torch.inference_mode():
        mean = torch.stack([m.issue_logits(*args) for m in members]).mean(0)
        assert torch.allclose(model.heads.issue_logits(*args), mean)
    model.save(tmp_path / "ensemble", config_yaml(config))
    loaded = RedlineModel.load(tmp_path / "ensemble")
    assert json.loads((tmp_path / "ensemble" / "card.json").read_text())["heads"]["members"] == 3
    assert abs(loaded.score(texts, groups).stance_probs - model.score(texts, groups).stance_probs).max() < 1e-5
    assert loaded.tag(texts[:1], ["Russia"])[0]["stance"] == {"nato_membership": "against"}
    # a single set of heads starts every member of an ensemble (`redline train --from`)
    single = RedlineModel.load(tiny_model)
    fresh = build_heads(single.encoder.dim, 2, len(single.groups), 32, 0.0, members=2)
    start_heads(tiny_model, single.labels, single.card["encoder"]["name"], 32).load_into(fresh)
    assert all(torch.equal(m.stance[1].weight, single.heads.stance[1].weight) for m in fresh.members)


def test_missing_or_corrupt_weights_are_refused(tiny_model, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    (broken / "heads.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(ModelError, match="corrupt"):
        RedlineModel.load(broken)
    (broken / "heads.safetensors").unlink()
    with pytest.raises(ModelError, match="missing"):
        RedlineModel.load(broken)


def test_a_taxonomy_without_the_models_labels_is_refused(tiny_model, tmp_path):
    other = tmp_path / "other.yaml"
    other.write_text("name: other\nissues:\n  - {id: tariffs, proposition: p, description: d}\n", encoding="utf-8")
    with pytest.raises(ModelError, match=r"nato_membership.*does not have"):
        RedlineModel.load(tiny_model, taxonomy=other)


def test_evaluate_names_unknown_issue_ids(tiny_model):
    model = RedlineModel.load(tiny_model)
    rows = [{"text": "x", "issues": ["tariffs"], "stance": {"tariffs": "favor"}, "maximalism": {"tariffs": 1}}]
    with pytest.raises(ModelError, match="tariffs"):
        evaluate_model(model, rows)


def test_taxonomy_only_issues_are_detected_zero_shot(tiny_model):
    model = RedlineModel.load(tiny_model, taxonomy=ROOT / "configs/issues/russia_ukraine.yaml")
    assert "sanctions" in model.extra
    (row,) = model.tag(["The next sanctions package targets Russian oil exports and the shadow fleet."],
                       groups=["Europe"])
    assert "sanctions" in row["issues"] and "sanctions" in row["zero_shot"]


def test_predictions_are_records_with_model_and_targets(tiny_model):
    model = RedlineModel.load(tiny_model)
    statement = Statement("s1", "d1", 0, 0, 10, "Ukraine will never join NATO, that is a red line.", "Vladimir Putin",
                          "Russia", "speaker", "test", "2024-01-01")
    (prediction,) = model.predict_statements([statement])
    assert (prediction.statement_id, prediction.issue, prediction.model_id) == ("s1", "nato_membership", model.model_id)
    assert len(prediction.maximalism_dist) == 4 and abs(sum(prediction.maximalism_dist) - 1) < 1e-5


def test_targets_are_normalised_through_the_dictionary():
    taxonomy = load_taxonomy()
    assert find_targets("Russia wants Pokrovsk and the Zaporizhzhia nuclear power plant.", taxonomy) == \
        ["Donetsk", "Zaporizhzhia NPP"]
    assert find_targets("The lines in Zaporizhzhia and Kherson would be frozen.", taxonomy) == ["Zaporizhzhia", "Kherson"]


@pytest.mark.parametrize("text, clauses", [
    ("Membership is a red line for us, but we do not object to the other accession.",
     ["Membership is a red line for us", "we do not object to the other accession."]),
    ("For example, while in the capital, he said the army cap stays; the rest is open to talks.",
     ["For example, while in the capital, he said the army cap stays", "the rest is open to talks."]),
    ("This region stays ours whereas the plant could be run jointly.", ["This region stays ours", "the plant could be run jointly."]),
    ("We will talk, but not now.", ["We will talk, but not now."]),  # a four-word piece is no clause
])
def test_issue_clauses_split_at_contrasts_and_semicolons(text, clauses):
    assert issue_clauses(text) == clauses


def test_two_issues_in_two_clauses_each_get_their_own_maximalism():
    import pipeline

    model = pipeline.load()
    text = ("Ukraine's membership in NATO is a red line for Russia, but Moscow does not object to "
            "Ukraine joining the European Union.")
    (split,) = model.tag(text, groups=["Russia"])
    assert split["stance"] == {"nato_membership": "against", "eu_membership": "favor"}
    assert split["maximalism"]["eu_membership"] < 0.5 and split["maximalism"]["nato_membership"] >= 2
    # before the final sharpening, the sentence-level reading pulls the two demands towards each other (the
    # concession towards the red line); the clause reading does not
    model.maximalism_sharpening = 1.0
    (raw_split,) = model.tag(text, groups=["Russia"])
    model.clause_readings = False
    (raw_whole,) = model.tag(text, groups=["Russia"])
    assert split["issues"] == raw_split["issues"] == raw_whole["issues"] == ["nato_membership", "eu_membership"]
    assert raw_split["maximalism"]["eu_membership"] < raw_whole["maximalism"]["eu_membership"] - 0.3
    assert raw_split["maximalism"]["nato_membership"] > raw_whole["maximalism"]["nato_membership"]


def test_python_api_and_spacy_component():
    import pipeline
    import pipeline.spacy_component  # noqa: F401  registers the factory

    model = pipeline.load()
    (row,) = model.tag("Ukraine's membership in NATO is a red line for us and will never happen.", groups=["Russia"])
    assert row["issues"] == ["nato_membership"] and row["stance"]["nato_membership"] == "against"
    from pipeline.segment import load_spacy

    pipe = load_spacy.__wrapped__()  # a fresh pipeline, not the cached one other tests share
    pipe.add_pipe("redline", config={"date": "2025-09-08"})
    doc = pipe("Lavrov said NATO membership for Kyiv is unacceptable. The weather was mild.")
    first, second = doc._.positions
    assert (first["actor"], first["issues"], first["stance"]) == ("Sergei Lavrov", ["nato_membership"],
                                                                 {"nato_membership": "against"})
    assert second["issues"] == []
    assert pipe("")._.positions == []
    blank = spacy.blank("en")
    blank.add_pipe("sentencizer")
    blank.add_pipe("redline")
    with pytest.raises(ConfigError, match="needs a dependency parse"):  # not every statement given to 'author'
        blank("Lavrov said NATO membership for Kyiv is unacceptable.")


def test_word_models_are_saved_as_arrays_and_blended_with_weights_chosen_on_dev(tiny_model, tmp_path):
    assert {"lexical.safetensors", "lexical.json"} <= {p.name for p in tiny_model.iterdir()}
    assert not any(p.suffix in (".pkl", ".pickle", ".joblib") for p in tiny_model.iterdir())
    card = json.loads((tiny_model / "card.json").read_text())
    blend = card["calibration"]["lexical_blend"]
    assert set(blend) == {"issues", "stance", "maximalism"} and all(0.0 <= w <= 1.0 for w in blend.values())
    model = RedlineModel.load(tiny_model)
    words = model.lexical.issue_probs(["Hungary will never approve Ukraine's membership of the European Union."])
    assert words[0, model.labels.index("eu_membership")] > words[0, model.labels.index("nato_membership")]
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    (broken / "lexical.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError, match="lexical"):
        RedlineModel.load(broken)


def test_maximalism_is_sharpened_after_the_blend_to_the_dev_mae(tiny_model, tiny_corpus):
    model = RedlineModel.load(tiny_model)
    chosen = model.maximalism_sharpening
    assert json.loads((tiny_model / "card.json").read_text())["calibration"]["maximalism_sharpening"] == chosen
    assert 0.1 <= chosen <= 1.0
    dev = [json.loads(line) for line in (tiny_corpus / "tiny.jsonl").read_text().splitlines()]
    dev = [r for r in dev if r["split"] == "dev" and r["issues"]]

    def dev_mae(sharpening: float) -> float:
        model.maximalism_sharpening = sharpening
        tagged = model.tag([r["text"] for r in dev], [r["actor_group"] for r in dev])
        issue = [r["issues"][0] for r in dev]
        return float(np.mean([abs(t["maximalism"].get(i, 1.5) - r["maximalism"][i])
                              for t, r, i in zip(tagged, dev, issue)]))

    assert dev_mae(chosen) <= dev_mae(1.0) + 1e-3
    # sharpening keeps the most likely level and moves mass to it; 1.0 leaves a distribution as it is
    soft = np.array([[0.1, 0.2, 0.3, 0.4]], dtype=np.float32)
    sharp = sharpen(soft, 0.5)
    assert sharp.argmax() == 3 and sharp[0, 3] > 0.4 and abs(sharp.sum() - 1) < 1e-6
    assert sharpen(soft, 1.0) is soft


def test_a_batch_is_read_once_with_the_numbers_of_reading_each_issue_apart(tiny_model):
    """`score` reads every issue of a batch at once (the heads' first layer once per statement, each text's
    words once): the same numbers as the heads per issue and the word vectoriser per (text, issue) pair."""
    model = RedlineModel.load(tiny_model)
    texts = ["Ukraine will never join NATO, and the EU door must stay open.", "We want to join NATO NATO soon.",
             "The weather was cold.", ""]
    groups = ["Russia", "Ukraine", None, "Europe"]
    feats, onehot = model.features(texts), model.group_onehot(groups)
    with torch.inference_mode():
        stance, maximalism = model.heads.all_pair_logits(feats["h"], onehot, feats["cues"], extra=1)
        for j in range(len(model.labels) + 1):
            issue = torch.zeros(len(texts), len(model.labels))
            if j < len(model.labels):
                issue[:, j] = 1.0
            one_stance, one_maximalism = model.heads.pair_logits(feats["h"], issue, onehot, feats["cues"])
            assert torch.allclose(stance[:, j], one_stance, atol=1e-5)
            assert torch.allclose(maximalism[:, j], one_maximalism, atol=1e-5)
    lexical = model.lexical
    scoped = lexical.scoped.transform([f"{issue}\t{text}" for issue in lexical.labels for text in texts])
    assert abs(lexical._scoped_by_issue(texts) - scoped).max() < 1e-9 and scoped.nnz > 0
    issues, pair_stance, pair_maximalism = lexical.probs(texts, groups)
    assert np.allclose(issues, lexical.issue_probs(texts))
    one = [lexical.pair_probs([text], [group]) for text, group in zip(texts, groups)]
    assert np.allclose(pair_stance, np.concatenate([s for s, _ in one])) and \
        np.allclose(pair_maximalism, np.concatenate([m for _, m in one]))


def test_word_maximalism_reads_the_wording_not_the_holder(tiny_model):
    model = RedlineModel.load(tiny_model)
    text = "We could perhaps discuss the neutrality question."
    _, one = model.lexical.pair_probs([text], ["Russia"])
    _, other = model.lexical.pair_probs([text], ["Ukraine"])
    assert np.allclose(one, other)  # the same words from either side: the same maximalism
    stance_one, _ = model.lexical.pair_probs([text], ["Russia"])
    stance_other, _ = model.lexical.pair_probs([text], ["Ukraine"])
    assert model.lexical.cues and not np.allclose(stance_one, stance_other)  # stance still knows the side


def test_a_heads_only_model_has_no_word_models(tiny_config, tiny_model, tmp_path):
    heads_only = train(tiny_config.model_copy(update={"lexical": False, "epochs": 5}))
    folder = tmp_path / "heads-only"
    shutil.copytree(tiny_model, folder)  # saving over a folder with word models must not keep them
    heads_only.save(folder)
    assert not (folder / "lexical.json").exists() and not (folder / "lexical.safetensors").exists()
    loaded = RedlineModel.load(folder)
    assert loaded.lexical is None and loaded.card["calibration"]["lexical_blend"] is None
    assert loaded.tag("We want to join NATO.", ["Ukraine"])[0]["issues"] == ["nato_membership"]


@pytest.mark.parametrize("rank", [4, 0], ids=["lora", "whole-encoder"])
def test_finetune_saves_what_it_trained_and_loads_with_the_same_scores(tiny_config, tiny_model, tmp_path, rank):
    from pipeline.encoder import Encoder

    config = tiny_config.model_copy(update={"mode": "finetune", "lora_rank": rank, "finetune_epochs": 2,
                                            "encoder_learning_rate": 1e-3 if rank else 5e-5})
    model = train(config)
    folder = tmp_path / "tuned"
    shutil.copytree(tiny_model, folder)  # saved over a heads model's folder
    model.save(folder, config_yaml(config))
    files = {p.name for p in folder.iterdir()}
    base = Encoder(tiny_config.encoder)
    if rank:  # adapters only; the encoder's own weights stay the named encoder's
        assert "adapter.safetensors" in files and "encoder.safetensors" not in files
        assert "lora=none" not in model.encoder.key()
    else:  # the whole encoder moved: its weights go with the model, and its vectors never mix with the base's
        assert "encoder.safetensors" in files and "adapter.safetensors" not in files
        name = "encoder.layer.0.attention.self.query.weight"
        assert not torch.equal(model.encoder.model.state_dict()[name], base.model.state_dict()[name])
        assert model.encoder.key() != base.key()
    loaded = RedlineModel.load(folder)
    assert loaded.model_id == model.model_id and loaded.encoder.key() == model.encoder.key()
    texts, groups = ["Ukraine will never join NATO, that is a red line.", "We welcome Kyiv's EU candidacy."], \
        ["Russia", "Europe"]
    assert abs(loaded.score(texts, groups).issue_probs - model.score(texts, groups).issue_probs).max() < 1e-5
    assert [row["issues"] for row in loaded.tag(texts, groups)] == [["nato_membership"], ["eu_membership"]]
    if not rank:
        (folder / "encoder.safetensors").write_bytes(b"not weights")
        with pytest.raises(ModelError, match="corrupt encoder weights"):
            RedlineModel.load(folder)
        (folder / "encoder.safetensors").unlink()
        with pytest.raises(ModelError, match="missing"):
            RedlineModel.load(folder)


def test_an_earlier_layer_feeds_the_maximalism_head_alone(tiny_config, tiny_model, tmp_path):
    """`maximalism_layers`: the maximalism head reads encoder layer 2 beside the last (standardised by the
    training rows); issues and stance read the last layer only; the card and the folder carry it."""
    config = tiny_config.model_copy(update={"maximalism_layers": (2,)})
    model = train(config)
    folder = tmp_path / "layered"
    model.save(folder, config_yaml(config))
    loaded = RedlineModel.load(folder)
    assert loaded.card["encoder"]["layers"] == [2] and loaded.encoder.layers == (2,)
    assert "maximalism_layers:\n- 2" in (folder / "config.yaml").read_text()
    assert "the maximalism head also reads its layer 2, mean-pooled" in (folder / "README.md").read_text()
    texts = ["Ukraine will never join NATO, that is a red line for us.", "We want to join NATO soon."]
    groups = ["Russia", "Ukraine"]
    assert np.allclose(loaded.score(texts, groups).maximalism_probs, model.score(texts, groups).maximalism_probs,
                       atol=1e-5)
    never = loaded.tag(texts[:1], groups[:1])[0]
    assert never["issues"] == ["nato_membership"] and never["maximalism"]["nato_membership"] > 2.0
    heads = loaded.heads
    assert heads.layer_mean.abs().sum() > 0 and (heads.layer_scale != 1).any()  # fitted to the training rows
    feats = loaded.features(texts)
    assert feats["h"].shape[1] == 2 * loaded.encoder.dim
    moved = feats["h"].clone()
    moved[:, loaded.encoder.dim:] = moved[:, loaded.encoder.dim:].flip(0)  # the other sentence's layer 2
    onehot = torch.eye(len(loaded.labels))[[0, 0]]
    with torch.inference_mode():
        k = len(loaded.labels)
        issue = [heads.issue_logits(h, feats["keywords"][:, :k], feats["similarity"][:, :k], feats["cues"])
                 for h in (feats["h"], moved)]
        pairs = [heads.pair_logits(h, onehot, loaded.group_onehot(groups), feats["cues"]) for h in (feats["h"], moved)]
        every = heads.all_pair_logits(feats["h"], loaded.group_onehot(groups), feats["cues"])
    assert torch.equal(issue[0], issue[1]) and torch.equal(pairs[0][0], pairs[1][0])  # issues, stance: last layer
    assert not torch.allclose(pairs[0][1], pairs[1][1])  # maximalism reads layer 2 too
    assert torch.allclose(every[1][:, 0], pairs[0][1], atol=1e-5)
    # a model whose maximalism head reads other layers cannot start this training, nor share its encoder
    with pytest.raises(ModelError, match=r"reads encoder layers \[2\], not \[\]"):
        start_heads(folder, loaded.labels, config.encoder, config.hidden)
    with pytest.raises(ConfigError, match=r"pools layers \[2\], the config asks for \[\]"):
        train(tiny_config, encoder=loaded.encoder)
