"""The annotation loop on a tiny store: export by doubt, answer as an annotator would (Prodigy and Label Studio),
import, retrain from the old model, compare, promote, re-tag; plus the refusals a user meets on the way."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from pipeline.annotate import choose, parse_positions, pick, text_key
from pipeline.annotate_import import import_annotations
from pipeline.classify import RedlineModel
from pipeline.cli import app
from pipeline.config import load_taxonomy
from pipeline.errors import InputError, ModelError
from pipeline.evaluate import _stance_macro_f1, _weighted_macro_f1, issue_metrics, stance_metrics
from pipeline.registry import default_model_path, promote, promotions, resolve_model
from pipeline.store import Store
from pipeline.train import config_yaml, train

from .test_classify import tiny_config, tiny_corpus, tiny_model  # noqa: F401  (the tiny model, trained once)

# The annotators' answers: (sentence, actor, {issue: (stance, maximalism)}); the store holds each sentence once.
GOLD = [
    ("Lavrov said Ukraine's entry into NATO would never be tolerated by Moscow.", {"nato_membership": ("against", 3)}),
    ("Zelensky said Ukraine expects a clear path to NATO membership.", {"nato_membership": ("favor", 2)}),
    ("Orban said Hungary would block Ukraine's accession to the European Union at every step.",
     {"eu_membership": ("against", 3)}),
    ("Kuleba said Kyiv wants to start EU accession negotiations before the summer.", {"eu_membership": ("favor", 2)}),
    ("Stoltenberg said the door of the alliance remains open to Ukraine.", {"nato_membership": ("favor", 2)}),
    ("Medvedev said Kyiv joining NATO would mean a direct war with Russia.", {"nato_membership": ("against", 3)}),
    ("Scholz said Germany supports Ukraine's bid to become an EU member.", {"eu_membership": ("favor", 2)}),
    ("Macron said France could discuss a gradual path for Ukraine toward the European Union.",
     {"eu_membership": ("favor", 1)}),
    ("Zakharova said that NATO expansion to Ukraine is completely unacceptable.", {"nato_membership": ("against", 3)}),
    ("Sybiha said Ukraine might accept a delay on NATO if the guarantees are strong.",
     {"nato_membership": ("favor", 1)}),
    ("Fico said Slovakia will not support Ukrainian membership of NATO.", {"nato_membership": ("against", 2)}),
    ("Von der Leyen said Ukraine's EU membership must move ahead this year.", {"eu_membership": ("favor", 2)}),
    ("Putin said Russia has nothing against Ukraine joining the European Union.", {"eu_membership": ("favor", 0)}),
    ("Zelensky said Ukraine will never give up on joining NATO and the European Union.",
     {"nato_membership": ("favor", 3), "eu_membership": ("favor", 3)}),
    ("Rutte said Ukraine's path to NATO is irreversible.", {"nato_membership": ("favor", 3)}),
    ("Tusk said Poland would back Kyiv's EU talks but wants its farmers protected.", {"eu_membership": ("favor", 1)}),
    ("Blinken said NATO membership for Ukraine is a question for a later day.", {"nato_membership": ("neutral", 1)}),
    ("Lavrov said the talks in Istanbul were held in a calm atmosphere.", {}),
    ("Peskov said the weather in Moscow delayed the arrival of the delegation.", {}),
    ("Zelensky said the delegation flew home late on Sunday evening.", {}),
    ("Kallas said the European Union is ready to open the first negotiating cluster with Kyiv.",
     {"eu_membership": ("favor", 2)}),
    ("Shoigu said Moscow rejects any plan that puts Ukraine in NATO.", {"nato_membership": ("against", 2)}),
    ("Meloni said Italy is open to a debate on Ukraine's EU accession timeline.", {"eu_membership": ("favor", 1)}),
    ("Tusk said the ministers met for two hours in Warsaw.", {}),
]
# Sentences the tiny corpus already holds: an export must never offer them.
IN_CORPUS = ["Moscow does not object to Ukraine joining the European Union.",
             "Budapest blocks the EU accession of Kyiv under any circumstances."]

runner = CliRunner()


def _redline(*args: str):
    result = runner.invoke(app, [str(a) for a in args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result


def _gold_for(text: str) -> dict:
    (labels,) = [labels for sentence, labels in GOLD if text in sentence or sentence in text]
    return labels


@pytest.fixture(scope="module")
def loop(tmp_path_factory, tiny_model):  # noqa: F811
    """A models folder whose default is the tiny model, and a store of GOLD + IN_CORPUS it has tagged."""
    root = tmp_path_factory.mktemp("loop")
    models = root / "models"
    shutil.copytree(tiny_model, models / "default")
    documents = root / "documents.jsonl"
    lines = [{"text": text, "date": f"2024-{1 + k % 12:02d}-15", "source_type": "news_report"}
             for k, text in enumerate([s for s, _ in GOLD] + IN_CORPUS)]
    documents.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    store = root / "store.duckdb"
    _redline("run", documents, "--store", store, "--model", models / "default")
    return {"root": root, "models": models, "store": store, "documents": documents}


@pytest.fixture(scope="module")
def exported(loop):
    """20 statements exported by uncertainty as Prodigy tasks, and the same 20 as Label Studio tasks."""
    copy = loop["root"] / "store-for-labelstudio.duckdb"
    shutil.copy(loop["store"], copy)
    prodigy = loop["root"] / "tasks.jsonl"
    labelstudio = loop["root"] / "tasks.json"
    for store, fmt, out in ((loop["store"], "prodigy", prodigy), (copy, "labelstudio", labelstudio)):
        _redline("annotate", "export", "--store", store, "--model", loop["models"] / "default", "--n", 20,
                 "--strategy", "uncertainty", "--format", fmt, "--out", out)
    return {"prodigy": prodigy, "labelstudio": labelstudio}


def _positions(labels: dict) -> str:
    return "; ".join(f"{issue} {stance} {level}" for issue, (stance, level) in labels.items())


def _answer_prodigy(tasks_path, out_path) -> list[dict]:
    """A Prodigy annotator: accepts with the gold labels, rejects the 3rd task, ignores the 4th (db-out form)."""
    answers = []
    for k, line in enumerate(tasks_path.read_text(encoding="utf-8").splitlines()):
        task = json.loads(line)
        labels = _gold_for(task["text"])
        task.update({"accept": list(labels), "positions": _positions(labels), "_annotator_id": "loop-alice",
                     "_session_id": "loop-alice", "_timestamp": 1735689600 + k,
                     "answer": {2: "reject", 3: "ignore"}.get(k, "accept")})
        answers.append(task)
    out_path.write_text("".join(json.dumps(a) + "\n" for a in answers), encoding="utf-8")
    return answers


def _ls_result(labels: dict) -> list[dict]:
    def choice(name, values):
        return {"from_name": name, "to_name": "text", "type": "choices", "value": {"choices": values}}

    result = [choice("issues", list(labels))]
    for issue, (stance, level) in labels.items():
        result += [choice(f"stance_{issue}", [stance]), choice(f"maximalism_{issue}", [str(level)])]
    return result


def _answer_labelstudio(tasks_path, out_path) -> list[dict]:
    """Two Label Studio annotators per task. Bob rates the first two labelled tasks one level softer; on the
    first, a reviewer marked Alice's annotation ground truth. Both skip the last task."""
    tasks = json.loads(tasks_path.read_text(encoding="utf-8"))
    labelled = [k for k, t in enumerate(tasks) if _gold_for(t["data"]["text"])]
    for k, task in enumerate(tasks):
        labels = _gold_for(task["data"]["text"])
        softer = {i: (s, max(level - 1, 0) if level else 1) for i, (s, level) in labels.items()}
        bob = softer if k in labelled[:2] else labels
        task.update({"id": 100 + k, "annotations": [
            {"id": 2 * k, "completed_by": {"id": 1, "email": "alice@example.org"}, "result": _ls_result(labels),
             "was_cancelled": k == len(tasks) - 1, "ground_truth": k == labelled[0],
             "created_at": "2025-01-02T10:00:00Z"},
            {"id": 2 * k + 1, "completed_by": 2, "result": _ls_result(bob), "was_cancelled": k == len(tasks) - 1,
             "ground_truth": False, "created_at": "2025-01-02T11:00:00Z"}]})
    out_path.write_text(json.dumps(tasks, indent=2), encoding="utf-8")
    return tasks


def test_export_picks_doubtful_statements_not_in_the_corpus_with_pre_annotations(loop, exported):
    tasks = [json.loads(line) for line in exported["prodigy"].read_text(encoding="utf-8").splitlines()]
    assert len(tasks) == 20
    texts = {t["text"] for t in tasks}
    assert not texts & set(IN_CORPUS)
    doubts = [t["meta"]["doubt"] for t in tasks]
    assert doubts == sorted(doubts, reverse=True)
    model = RedlineModel.load(loop["models"] / "default")
    for task in tasks:
        assert {o["id"] for o in task["options"]} == {"nato_membership", "eu_membership"}
        assert isinstance(task["_input_hash"], int) and isinstance(task["_task_hash"], int)
        (tagged,) = model.tag([task["text"]], groups=[task["meta"]["actor_group"]])
        assert task["accept"] == tagged["issues"]  # the model's reading is the pre-annotation
        assert set(parse_positions(task["positions"])) == set(task["accept"])
    # the four statements left (none in the corpus) are all that a second export can give
    again = loop["root"] / "again.jsonl"
    _redline("annotate", "export", "--store", loop["store"], "--model", loop["models"] / "default", "--n", 20,
             "--format", "jsonl", "--out", again)
    rest = [json.loads(line)["text"] for line in again.read_text(encoding="utf-8").splitlines()]
    assert len(rest) == len(GOLD) - 20 and not set(rest) & (texts | set(IN_CORPUS))


def test_labelstudio_export_has_predictions_and_a_labelling_config(exported):
    tasks = json.loads(exported["labelstudio"].read_text(encoding="utf-8"))
    assert len(tasks) == 20
    first = tasks[0]["predictions"][0]["result"]
    assert first[0]["from_name"] == "issues"
    assert {r["from_name"] for r in first[1:]} == {f"{kind}_{issue}" for issue in first[0]["value"]["choices"]
                                                   for kind in ("stance", "maximalism")}
    config = exported["labelstudio"].with_name("tasks.config.xml").read_text(encoding="utf-8")
    import xml.etree.ElementTree as ET

    root = ET.fromstring(config)
    names = {c.get("name") for c in root.iter("Choices")}
    assert names == {"issues", "stance_nato_membership", "maximalism_nato_membership", "stance_eu_membership",
                     "maximalism_eu_membership"}


@pytest.fixture(scope="module")
def imported(loop, exported, tiny_config):  # noqa: F811
    corpus = loop["root"] / "annotated"
    answers = {"prodigy": loop["root"] / "prodigy-db-out.jsonl", "labelstudio": loop["root"] / "ls-export.json"}
    _answer_prodigy(exported["prodigy"], answers["prodigy"])
    _answer_labelstudio(exported["labelstudio"], answers["labelstudio"])
    taxonomy = load_taxonomy(tiny_config.taxonomy)
    results = {fmt: import_annotations(path, corpus / f"{fmt}.jsonl", taxonomy) for fmt, path in answers.items()}
    return {"corpus": corpus, "answers": answers, "results": results, "taxonomy": taxonomy}


def test_prodigy_answers_become_corpus_rows_with_provenance(imported):
    result = imported["results"]["prodigy"]
    assert (len(result.added), result.rejected, result.ignored, result.conflicts) == (18, 1, 1, [])
    rows = [json.loads(line) for line in (imported["corpus"] / "prodigy.jsonl").read_text().splitlines()]
    assert len(rows) == 18
    for row in rows:
        labels = _gold_for(row["text"])
        assert row["issues"] == list(labels)
        assert row["stance"] == {i: s for i, (s, _) in labels.items()}
        assert row["maximalism"] == {i: m for i, (_, m) in labels.items()}
        assert row["provenance"]["annotators"] == ["loop-alice"] and row["provenance"]["tool"] == "prodigy"
        assert row["provenance"]["annotated"].startswith("2025-01-01") and row["split"] in ("train", "dev", "test")
    assert {"actor", "actor_group", "date", "source_type"} <= rows[0].keys()


def test_importing_the_same_file_twice_adds_nothing(imported):
    target = imported["corpus"] / "prodigy.jsonl"
    before = target.read_text(encoding="utf-8")
    again = import_annotations(imported["answers"]["prodigy"], target, imported["taxonomy"])
    assert (len(again.added), again.already) == (0, 18)
    assert target.read_text(encoding="utf-8") == before


def test_labelstudio_annotators_ground_truth_conflicts_and_agreement(imported):
    result = imported["results"]["labelstudio"]
    # 20 tasks: one skipped by both, one where the two disagree (no ground truth) → 18 rows
    assert (len(result.added), result.ignored, len(result.conflicts)) == (18, 1, 1)
    assert result.conflicts[0]["annotators"] == ["alice@example.org", "user-2"]
    settled = {row["provenance"]["settled"] for row in result.added}
    assert settled == {"ground_truth", "unanimous"}
    truth = [row for row in result.added if row["provenance"]["settled"] == "ground_truth"]
    assert len(truth) == 1 and truth[0]["maximalism"] == {i: m for i, (_, m) in _gold_for(truth[0]["text"]).items()}
    agreement = result.agreement
    assert agreement["issues"]["agreement"] == 1.0 and agreement["stance"]["agreement"] == 1.0
    assert agreement["maximalism"]["agreement"] < 1.0 and agreement["maximalism"]["kappa"] < 1.0
    assert agreement["maximalism"]["pairs"] == 1


def test_a_file_with_an_unknown_label_or_bad_json_is_refused_with_its_line(imported, tmp_path):
    lines = imported["answers"]["prodigy"].read_text(encoding="utf-8").splitlines()
    task = json.loads(lines[4])
    task.update({"accept": ["tariffs"], "positions": "tariffs favor 2", "answer": "accept"})
    broken = tmp_path / "unknown.jsonl"
    broken.write_text("\n".join(lines[:4] + [json.dumps(task)] + lines[5:]) + "\n", encoding="utf-8")
    target = tmp_path / "out.jsonl"
    with pytest.raises(InputError, match=r"unknown\.jsonl:5 .*tariffs"):
        import_annotations(broken, target, imported["taxonomy"])
    broken.write_text("\n".join(lines[:2] + ["{not json"] + lines[3:]) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"unknown\.jsonl:3: not valid JSON"):
        import_annotations(broken, target, imported["taxonomy"])
    task.update({"accept": ["nato_membership"], "positions": "nato_membership maybe 2"})
    broken.write_text(json.dumps(task) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"unknown\.jsonl:1: cannot read the position"):
        import_annotations(broken, target, imported["taxonomy"])
    tasks = json.loads(imported["answers"]["labelstudio"].read_text(encoding="utf-8"))
    tasks[1]["annotations"][0]["result"][0]["value"]["choices"] = ["tariffs"]
    bad_ls = tmp_path / "ls.json"
    bad_ls.write_text(json.dumps(tasks, indent=2), encoding="utf-8")
    with pytest.raises(InputError, match=r"ls\.json:\d+ .*task 101.*stance"):
        import_annotations(bad_ls, target, imported["taxonomy"])
    assert not target.exists()


@pytest.fixture(scope="module")
def retrained(loop, imported, tiny_corpus):  # noqa: F811
    out = loop["models"] / "tiny2"
    _redline("train", "--from", loop["models"] / "default", "--corpus", tiny_corpus,
             "--corpus", imported["corpus"] / "prodigy.jsonl", "--name", "tiny2", "--seed", 21, "--out", out)
    return out


def test_retraining_from_a_model_starts_from_its_heads_and_records_it(loop, retrained, imported):
    card = json.loads((retrained / "card.json").read_text(encoding="utf-8"))
    old = json.loads((loop["models"] / "default" / "card.json").read_text(encoding="utf-8"))
    assert card["start_from"]["model_id"] == f"{old['name']}@{old['fingerprint']}"
    assert str(imported["corpus"] / "prodigy.jsonl") in card["corpus"]["paths"]
    assert sum(card["corpus"]["sizes"].values()) == sum(old["corpus"]["sizes"].values()) + 18
    assert card["labels"]["groups"] == old["labels"]["groups"]
    assert card["config"]["seed"] == 21 and old["config"]["seed"] != 21


def test_evaluate_compare_prints_differences_and_a_bootstrap_interval(loop, retrained, imported):
    # the Label Studio rows: statements the old model never saw, and the new one was trained on
    table = " ".join(_redline("evaluate", "--model", retrained, "--compare", loop["models"] / "default", "--data",
                              imported["corpus"] / "labelstudio.jsonl", "--resamples", 200).stdout.split())
    assert re.search(r"issues macro f1 difference \(tiny2 − default\): [+-]\d\.\d{3}, 90% bootstrap interval "
                     r"\[[+-]\d\.\d{3}, [+-]\d\.\d{3}\] \(200 resamples, seed 0\)", table)
    assert "issues nato_membership" in table and "stance favor" in table


def test_bootstrap_macro_f1_matches_the_metrics_on_unit_weights():
    rng = np.random.default_rng(1)
    labels = ("a", "b", "c")
    gold = [set(rng.choice(labels, size=rng.integers(0, 3), replace=False)) for _ in range(40)]
    predicted = [g ^ {"a"} if k % 5 == 0 else g for k, g in enumerate(gold)]
    as_matrix = [np.array([[label in row for label in labels] for row in rows]) for rows in (gold, predicted)]
    once = _weighted_macro_f1(*as_matrix, np.ones((1, len(gold))))
    assert round(float(once[0]), 4) == issue_metrics(gold, predicted, labels)["macro_f1"]
    stances = np.array(["favor", "against", "neutral", "favor"] * 5)
    guessed = np.array(["favor", "against", "favor", "favor"] * 5)
    assert round(float(_stance_macro_f1(stances, guessed, np.ones((1, 20)))[0]), 4) == \
        stance_metrics(list(stances), list(guessed))["macro_f1"]


def test_promotion_refuses_a_worse_model_unless_forced_and_records_it(loop, retrained, tiny_config):  # noqa: F811
    models = loop["models"]
    # heads barely trained and no word models (on the tiny corpus the word models alone read dev without a fault)
    bad = train(tiny_config.model_copy(update={"name": "bad", "epochs": 1, "learning_rate": 1e-6, "lexical": False}))
    bad.save(models / "bad", config_yaml(tiny_config))
    with pytest.raises(ModelError, match="below the current default"):
        promote("bad", models)
    assert default_model_path(models) == models / "default" and promotions(models) == []
    shutil.copytree(models / "default", models / "same")
    same = promote("same", models)  # as good as the current default: not worse, so promoted
    assert (same["forced"], same["candidate"]["score"]) == (False, same["current"]["score"])
    record = promote("tiny2", models, force=True)
    assert record["forced"] == (record["candidate"]["score"] < record["current"]["score"])
    assert record["rows"] == json.loads((retrained / "card.json").read_text())["corpus"]["sizes"]["dev"]
    assert default_model_path(models) == models / "tiny2" == resolve_model(None, models)
    listed = [json.loads(line) for line in _redline("models", "list", "--models-dir", models, "--json")
              .stdout.splitlines()]
    assert [m["name"] for m in listed if m["default"]] == ["tiny2"]
    assert [m["start_from"] for m in listed if m["name"] == "tiny2"] == [str(models / "default")]
    card = json.loads((retrained / "card.json").read_text(encoding="utf-8"))
    assert card["promotions"][-1]["replaced"] == "same"
    assert [(p["promoted"], p["replaced"]) for p in promotions(models)] == [("same", "default"), ("tiny2", "same")]


def test_run_with_a_new_model_retags_and_keeps_the_old_predictions(loop, retrained):
    with Store(loop["store"], read_only=True) as store:
        before = store.db.execute("SELECT model_id, count(*) FROM predictions GROUP BY model_id").fetchall()
    (old_model, old_count), = before
    _redline("run", loop["documents"], "--store", loop["store"], "--model", retrained)
    with Store(loop["store"], read_only=True) as store:
        after = dict(store.db.execute("SELECT model_id, count(*) FROM predictions GROUP BY model_id").fetchall())
        classified = dict(store.db.execute("SELECT model_id, count(*) FROM classified GROUP BY model_id").fetchall())
    new_model = RedlineModel.load(retrained).model_id
    assert after[old_model] == old_count and after[new_model] > 0
    assert classified[old_model] == classified[new_model] == len(GOLD) + len(IN_CORPUS)


def test_uncertainty_ranks_by_doubt_and_diverse_spreads_over_clusters():
    doubts = np.array([0.1, 0.9, 0.8, 0.3, 0.2, 0.4])
    assert pick("uncertainty", doubts, 3) == [1, 2, 5]
    # two tight clusters: diverse takes the most doubtful of each, not the two most doubtful overall
    embeddings = np.array([[1, 0], [1, 0.01], [1, 0.02], [0, 1], [0.01, 1], [0.02, 1]])
    assert sorted(pick("diverse", doubts, 2, embeddings)) == [1, 5]
    assert pick("random", doubts, 3, seed=4) == pick("random", doubts, 3, seed=4)
    with pytest.raises(InputError, match="unknown strategy"):
        pick("loudest", doubts, 3)


def test_statements_with_the_same_normalised_text_are_offered_once(tiny_model):  # noqa: F811
    model = RedlineModel.load(tiny_model)
    statements = [{"id": str(k), "text": text, "actor_group": "Russia"}
                  for k, text in enumerate(["NATO is a red line.", "  nato is a RED line. ", "“NATO is a red line.”"])]
    assert text_key(statements[0]["text"]) == text_key(statements[2]["text"])
    assert len(choose(model, statements, 5, "uncertainty", set())) == 1
    assert choose(model, statements, 5, "uncertainty", {text_key("NATO is a red line.")}) == []


def test_a_registry_that_names_no_model_or_is_not_json_is_an_error(tmp_path):
    assert default_model_path(tmp_path) == tmp_path / "default"  # no registry: models/default, as before
    (tmp_path / "registry.json").write_text('{"default": "gone"}', encoding="utf-8")
    with pytest.raises(ModelError, match="gone is not a model folder"):
        default_model_path(tmp_path)
    (tmp_path / "registry.json").write_text("default: gone", encoding="utf-8")
    with pytest.raises(ModelError, match="registry.json: expected"):
        resolve_model(None, tmp_path)


def test_doubt_reads_an_issue_score_against_its_threshold_and_ignores_maximalism(tiny_model):  # noqa: F811
    """A score just above or just below the issue's threshold is a coin toss, whatever the threshold; a clear
    reading is not doubted, and how spread its maximalism is does not move its doubt."""
    from pipeline.classify import Scores
    from pipeline.doubt import formula_doubt

    model = RedlineModel.load(tiny_model)
    k = len(model.scores_issues())
    model.thresholds = np.full(len(model.labels), 0.3)
    probs = np.full((4, k), 0.01)
    probs[0, 0], probs[1, 0], probs[2, 0], probs[3, 0] = 0.32, 0.28, 0.95, 0.95
    stance = np.tile(np.array([0.98, 0.01, 0.01]), (4, k, 1))
    maximalism = np.tile(np.array([0.0, 0.0, 1.0, 0.0]), (4, k, 1))
    maximalism[3] = 0.25  # the same clear reading with its maximalism spread over all four levels
    scores = Scores(probs, stance, maximalism, model.scores_issues(), tuple(False for _ in range(k)))
    above, below, clear, spread = formula_doubt(model, scores)
    assert 0.45 < above < 0.6 and 0.4 < below < 0.55  # near 0.5 at a 0.3 threshold: not 0.68 and 0.28
    assert clear < 0.15 and spread == pytest.approx(clear)
