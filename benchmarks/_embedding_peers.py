"""Peers over frozen sentence embeddings, for the real-text benchmark (benchmarks/real_text.py).

- `ZeroShotSimilarityPeer`: no training on statements; an issue is chosen when the statement's embedding is
  similar enough to the issue's proposition, description and examples (the taxonomy YAML); one threshold,
  chosen on the corpus dev split. Stance and maximalism are a trivial baseline: per issue, the most common
  stance and level of the corpus train split.
- `cross_validated_logistic`: logistic regression on frozen embeddings, trained and scored by k-fold
  cross-validation *within* one labelled set (real-dev): the bar a written corpus must clear. A benchmark
  comparator only; nothing it fits is saved.

Both return `benchmarks._peers.Predicted` (stance and maximalism per (row, gold issue) pair, in
`gold_pairs` order), so that `benchmarks._peers.score` scores them like every other peer.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence

import numpy as np

from benchmarks._peers import SEED, Predicted, gold_pairs
from pipeline.config import Taxonomy
from pipeline.evaluate import issue_metrics

THRESHOLDS = np.round(np.arange(0.05, 0.80, 0.01), 2)
C_GRID = (0.25, 1.0, 4.0, 16.0)  # chosen per fold by an inner cross-validation on the training folds only


def issue_vectors(encoder, taxonomy: Taxonomy, issues: Sequence[str]) -> np.ndarray:
    """One unit vector per issue: the mean embedding of "proposition. description" and the examples."""
    vectors = []
    for issue_id in issues:
        issue = taxonomy.issue(issue_id)
        texts = [f"{issue.proposition}. {issue.description}", *issue.examples]
        mean = encoder.last_layer(encoder.encode(texts)).numpy().mean(0)
        vectors.append(mean / np.linalg.norm(mean))
    return np.stack(vectors)


class ZeroShotSimilarityPeer:
    """Cosine similarity to each issue's description and examples, one threshold tuned on the corpus dev split."""

    name = "zero-shot similarity (MiniLM, taxonomy descriptions)"

    def __init__(self, taxonomy: Taxonomy, encoder):
        self.taxonomy, self.encoder, self.labels = taxonomy, encoder, list(taxonomy.ids)

    def fit(self, train: Sequence[dict], dev: Sequence[dict], dev_embeddings: np.ndarray) -> ZeroShotSimilarityPeer:
        self.vectors_ = issue_vectors(self.encoder, self.taxonomy, self.labels)
        similarity = dev_embeddings @ self.vectors_.T
        gold = [r["issues"] for r in dev]
        self.threshold_ = float(max(THRESHOLDS, key=lambda t: issue_metrics(
            gold, self._chosen(similarity, t), self.labels)["macro_f1"]))
        pairs = gold_pairs(train)
        self.stance_ = {i: Counter(r["stance"][i] for r, j in pairs if j == i).most_common(1)[0][0]
                        for i in self.labels}
        self.level_ = {i: Counter(int(r["maximalism"][i]) for r, j in pairs if j == i).most_common(1)[0][0]
                       for i in self.labels}
        return self

    def _chosen(self, similarity: np.ndarray, threshold: float) -> list[set[str]]:
        return [{self.labels[j] for j in np.flatnonzero(row >= threshold)} for row in similarity]

    def predict(self, rows: Sequence[dict], embeddings: np.ndarray) -> Predicted:
        pairs = gold_pairs(rows)
        return Predicted(self._chosen(embeddings @ self.vectors_.T, self.threshold_),
                         [self.stance_[i] for _, i in pairs], [float(self.level_[i]) for _, i in pairs])


# --- logistic regression on frozen embeddings, cross-validated within one set -------------------


def cross_validated_logistic(rows: Sequence[dict], embeddings: np.ndarray, labels: Sequence[str],
                             groups: Sequence[str], folds: int = 5) -> Predicted:
    """Out-of-fold predictions of logistic regression on frozen embeddings: issues one-vs-rest; stance per
    (statement, gold issue) pair with the issue and the holder's group one-hot; maximalism per pair with the
    issue one-hot (the expected level). Folds split statements, so a statement's pairs stay together."""
    from sklearn.model_selection import KFold

    pairs = gold_pairs(rows)
    pair_row = np.array([index for index, row in enumerate(rows) for _ in row["issues"]])
    issue_x = embeddings
    stance_x = np.hstack([embeddings[pair_row], _onehot([i for _, i in pairs], labels),
                          _onehot([r.get("actor_group") or "other" for r, _ in pairs], groups)])
    level_x = np.hstack([embeddings[pair_row], _onehot([i for _, i in pairs], labels)])
    stance_y = np.array([r["stance"][i] for r, i in pairs])
    level_y = np.array([int(r["maximalism"][i]) for r, i in pairs])
    issue_y = np.array([[label in r["issues"] for label in labels] for r in rows], dtype=int)
    chosen = np.zeros_like(issue_y)
    stance = np.empty(len(pairs), dtype=object)
    level = np.zeros(len(pairs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rare classes in inner folds; convergence on tiny folds
        for train, test in KFold(folds, shuffle=True, random_state=SEED).split(issue_x):
            for j in range(len(labels)):
                chosen[test, j] = _fit(issue_x[train], issue_y[train, j], "f1").predict(issue_x[test])
            fit_pairs, test_pairs = np.isin(pair_row, train), np.isin(pair_row, test)
            if not test_pairs.any():
                continue
            stance[test_pairs] = _fit(stance_x[fit_pairs], stance_y[fit_pairs], "f1_macro").predict(
                stance_x[test_pairs])
            model = _fit(level_x[fit_pairs], level_y[fit_pairs], "neg_mean_absolute_error")
            level[test_pairs] = model.predict_proba(level_x[test_pairs]) @ model.classes_.astype(float)
    return Predicted([{labels[j] for j in np.flatnonzero(row)} for row in chosen], [str(s) for s in stance],
                     [float(x) for x in level])


def _fit(x: np.ndarray, y: np.ndarray, scoring: str):
    """Logistic regression (balanced classes), C chosen by 3-fold cross-validation on these rows only."""
    from sklearn.linear_model import LogisticRegressionCV

    return LogisticRegressionCV(Cs=list(C_GRID), cv=3, scoring=scoring, class_weight="balanced",
                                max_iter=3000, random_state=SEED).fit(x, y)


def _onehot(values: Sequence[str], vocabulary: Sequence[str]) -> np.ndarray:
    index = {v: k for k, v in enumerate(vocabulary)}
    out = np.zeros((len(values), len(vocabulary)))
    for row, value in enumerate(values):
        if value in index:
            out[row, index[value]] = 1.0
    return out
