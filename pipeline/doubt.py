"""Doubt: how likely it is that the model's reading of a statement (its issue set, and the stance of each issue
it chose) needs a person's correction. `redline annotate export --strategy uncertainty` asks for the most
doubtful statements first.

Two readings of it:
- `formula_doubt`: from the model's own probabilities, 1 − P(every issue decision is right) × P(the stance of
  each chosen issue is right), each issue's probability read against the threshold that decides it.
- `LearnedDoubt`: a small network over the parts of that formula and a few plain facts of the reading (how
  many issues it chose, how near the nearest issue is to its threshold, how spread the stances are, how long
  the statement is), fitted on where models of the same kind were actually wrong: `fit_doubt` trains a model
  per fold of the training split, each without its fold, and reads every fold with the model that never saw
  it. A model's probabilities are calibrated on single decisions; how the decisions of one statement fail
  together (a second issue missed where the first is read with confidence, a question read as a demand) is
  what the fold errors teach. `redline annotate fit-doubt --model DIR` writes it into the model folder
  (`doubt.safetensors`) if, fitted fold by fold, it ranks the held-out folds better than the formula
  (`held_out_check`); card.json's `doubt` entry records the check either way. `doubt()` uses it wherever the
  folder has one.

The learned doubt does not change a single prediction, so the model's fingerprint stays as it was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path

import numpy as np

from .errors import ModelError

DOUBT_WEIGHTS = "doubt.safetensors"
FEATURES = ("formula doubt (logit)", "issue decisions (log −log P right)", "stances (log −log P right)",
            "issues chosen", "no issue chosen", "nearest issue to its threshold (logit gap)",
            "second nearest issue (logit gap)", "words (log)", "largest stance entropy of a chosen issue")
HIDDEN = 32
MEMBERS = 5
MIN_EACH = 5  # out-of-fold readings needed of each kind, right and wrong, to learn anything


def _parts(model, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Which issues the model chose; per statement and issue, logit(p) − logit(threshold) and the probability
    that each issue decision and each chosen issue's stance is right; and the formula doubt per statement."""
    from .classify import logit  # here, not at the top: classify imports this module

    chosen = model.decide(scores)
    gap = logit(scores.issue_probs) - logit(model.issue_thresholds()[None, :])
    against_threshold = 1 / (1 + np.exp(-gap))
    issues_right = np.where(chosen, against_threshold, 1 - against_threshold)
    stance_right = np.where(chosen, scores.stance_probs.max(axis=-1), 1.0)
    return chosen, gap, issues_right, stance_right, 1 - issues_right.prod(axis=1) * stance_right.prod(axis=1)


def formula_doubt(model, scores) -> np.ndarray:
    """Per statement, the model's own probability that its reading needs a correction: 1 − P(every issue
    decision is right) × P(the stance of each chosen issue is right).

    An issue's probability is read against the threshold that decides it: logit(p) − logit(threshold), so
    a score just above a 0.4 threshold is a coin toss, not a 60 % "no". Maximalism is left out: its
    probability of being within one level ranked worse (benchmarks/RESULTS.md, "Active learning": errors
    beyond one level are ~4 % of statements, and adding that factor cut the share of errors among 200 picks
    from 65.5 % to 62.5 %); a reading's maximalism is corrected along with the statement when it is picked."""
    return _parts(model, scores)[-1]


def doubt_features(model, scores, texts: Sequence[str]) -> np.ndarray:
    """The learned doubt's inputs (FEATURES), shape (n, len(FEATURES))."""
    from .classify import logit

    chosen, gap, issues_right, stance_right, formula = _parts(model, scores)
    gaps = np.sort(np.abs(gap), axis=1)
    entropy = -(scores.stance_probs * np.log(scores.stance_probs + 1e-9)).sum(axis=-1)
    return np.column_stack([
        logit(formula), np.log(-np.log(np.clip(issues_right.prod(axis=1), 1e-6, 1)) + 1e-6),
        np.log(-np.log(np.clip(stance_right.prod(axis=1), 1e-6, 1)) + 1e-6), chosen.sum(axis=1),
        chosen.sum(axis=1) == 0, gaps[:, 0], gaps[:, min(1, gaps.shape[1] - 1)],
        np.log([max(len(t.split()), 1) for t in texts]), np.where(chosen, entropy, 0.0).max(axis=1),
    ]).astype(np.float32)


def doubt(model, scores, texts: Sequence[str]) -> np.ndarray:
    """Per statement, the probability that the model's reading needs a correction: the model's learned doubt
    where its folder has one, the formula otherwise."""
    learned = getattr(model, "learned_doubt", None)
    if learned is not None:
        return learned.predict(doubt_features(model, scores, texts))
    return formula_doubt(model, scores)


def reading_errors(model, rows: Sequence[dict], embeddings=None) -> tuple[np.ndarray, object]:
    """Per annotated row: does the model read its issue set, or the stance of one of its gold issues, wrongly?
    And the scores behind the readings."""
    from .evaluate import model_readings

    readings = model_readings(model, rows, embeddings)
    errors = np.array([predicted != set(row["issues"]) for predicted, row in zip(readings["predicted"], rows)],
                      dtype=bool)
    for (i, issue), stance in zip(readings["pairs"], readings["stance"]):
        errors[i] |= stance != rows[i]["stance"][issue]
    return errors, readings["scores"]


class LearnedDoubt:
    """A few one-hidden-layer networks (seeded members, their probabilities averaged) over standardised
    FEATURES; numpy only at inference."""

    def __init__(self, mean: np.ndarray, scale: np.ndarray, layers: list[tuple[np.ndarray, ...]]):
        self.mean, self.scale, self.layers = mean, scale, layers

    @classmethod
    def fit(cls, features: np.ndarray, errors: np.ndarray, seed: int = 0) -> LearnedDoubt:
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier

        wrong = int(errors.sum())
        if min(wrong, len(errors) - wrong) < MIN_EACH:
            raise ModelError(f"too few out-of-fold readings to learn a doubt from: {wrong} wrong and "
                             f"{len(errors) - wrong} right (at least {MIN_EACH} of each); the formula doubt stays")
        mean = features.mean(axis=0)
        scale = np.where(features.std(axis=0) > 0, features.std(axis=0), 1.0)
        z = (features - mean) / scale
        layers = []
        for member in range(MEMBERS):
            with warnings.catch_warnings():  # a few dozen rows (a tiny corpus) stop at max_iter: that is fine
                warnings.simplefilter("ignore", ConvergenceWarning)
                network = MLPClassifier((HIDDEN,), alpha=0.01, max_iter=500, early_stopping=len(errors) >= 200,
                                        random_state=seed + member).fit(z, errors.astype(int))
            layers.append((network.coefs_[0], network.intercepts_[0], network.coefs_[1][:, 0],
                           network.intercepts_[1][:1]))
        return cls(mean.astype(np.float32), scale.astype(np.float32),
                   [tuple(a.astype(np.float32) for a in layer) for layer in layers])

    def predict(self, features: np.ndarray) -> np.ndarray:
        z = (np.asarray(features, dtype=np.float32) - self.mean) / self.scale
        probs = [1 / (1 + np.exp(-(np.maximum(z @ w1 + b1, 0) @ w2 + b2[0]))) for w1, b1, w2, b2 in self.layers]
        return np.mean(probs, axis=0).astype(float)

    def save(self, path: str | Path) -> None:
        from safetensors.numpy import save_file

        tensors = {"mean": self.mean, "scale": self.scale}
        for k, layer in enumerate(self.layers):
            tensors.update({f"member{k}.{name}": np.ascontiguousarray(a)
                            for name, a in zip(("w1", "b1", "w2", "b2"), layer)})
        save_file(tensors, str(Path(path) / DOUBT_WEIGHTS))

    @classmethod
    def load(cls, path: str | Path) -> LearnedDoubt | None:
        """The folder's learned doubt, or None where it has none; a damaged file is an error naming it."""
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        file = Path(path) / DOUBT_WEIGHTS
        if not file.exists():
            return None
        try:
            tensors = load_file(str(file))
            members = sorted({key.split(".")[0] for key in tensors if key.startswith("member")})
            layers = [tuple(tensors[f"{m}.{name}"] for name in ("w1", "b1", "w2", "b2")) for m in members]
            doubt = cls(tensors["mean"], tensors["scale"], layers)
        except (SafetensorError, KeyError) as e:
            raise ModelError(f"{file}: corrupt doubt weights: {e}") from e
        if doubt.mean.shape != (len(FEATURES),) or not layers:
            raise ModelError(f"{file}: expected a doubt over {len(FEATURES)} features with at least one member")
        return doubt


def fold_of(row: dict, folds: int) -> int:
    """The fold of a corpus row, by its `group` (near-variants of one statement share a group and a fold)."""
    key = row.get("group") or row.get("id") or row["text"]
    return int(hashlib.sha1(str(key).encode("utf-8")).hexdigest(), 16) % folds


def held_out_check(features: list[np.ndarray], errors: list[np.ndarray], seed: int = 0) -> dict:
    """Does the learned doubt rank readings it was not fitted on better than the formula? Each fold's readings
    are scored by a doubt fitted on the other folds' readings; `learned` and `formula` are the shares of errors
    among the most doubtful quarter (`top`) of all readings by each."""
    nested = [LearnedDoubt.fit(np.concatenate(features[:k] + features[k + 1:]),
                               np.concatenate(errors[:k] + errors[k + 1:]), seed).predict(features[k])
              for k in range(len(features))]
    wrong = np.concatenate(errors)
    top = max(1, len(wrong) // 4)

    def share(doubts: np.ndarray) -> float:
        return round(float(wrong[np.argsort(-doubts, kind="stable")[:top]].mean()), 4)

    # the first feature is the formula's logit: the same order as the formula
    return {"top": top, "learned": share(np.concatenate(nested)),
            "formula": share(np.concatenate([f[:, 0] for f in features]))}


def fit_doubt(model_dir: str | Path, folds: int = 5, log: Callable[[str], None] = lambda _: None,
              force: bool = False) -> dict:
    """Train a model per fold of the training split (the model's own config.yaml, without the fold's rows and
    without the test split), read each fold with the model that never saw it, and fit a LearnedDoubt on where
    those readings are wrong. It is written into `model_dir` (doubt.safetensors) only if, fitted fold by fold,
    it ranks the held-out readings better than the formula (`held_out_check`), or with `force`; card.json's
    `doubt` entry records the check and whether the doubt was kept."""
    import json

    from .classify import CARD, CONFIG, RedlineModel, model_readme
    from .config import load_taxonomy
    from .corpus import load_rows
    from .embedding_cache import EmbeddingCache
    from .train import _project_path, _without, load_training_config, train

    if folds < 2:
        raise ModelError(f"fit-doubt needs at least 2 folds, got {folds}")
    model_dir = Path(model_dir)
    model = RedlineModel.load(model_dir)
    if not (model_dir / CONFIG).exists() or not (model_dir / CONFIG).read_text(encoding="utf-8").strip():
        raise ModelError(f"{model_dir}: no {CONFIG} to train the fold models with")
    config = load_training_config(model_dir / CONFIG)
    taxonomy = load_taxonomy(_project_path(config.taxonomy))
    rows = [_without(r, config.exclude_issues) for r in load_rows([_project_path(p) for p in config.corpus], taxonomy)]
    train_rows = [r for r in rows if r["split"] == "train"]
    dev_rows = [r for r in rows if r["split"] == "dev"]
    # every fold model starts from scratch: a starting model may have seen the fold's rows
    config = config.model_copy(update={"start_from": None})
    # heads mode: the model's own frozen encoder serves every fold, each sentence encoded once
    encoder = model.encoder if config.mode == "heads" else None
    held_out = {k: held for k in range(folds) if (held := [r for r in train_rows if fold_of(r, folds) == k])}
    if len(held_out) < 2:
        raise ModelError(f"{model_dir}: the training split's {len(train_rows)} rows fall into fewer than 2 of "
                         f"{folds} folds (rows of one `group` share a fold); nothing to fit a doubt on")
    features, errors = [], []
    with (encoder.caching(EmbeddingCache(encoder.key(), memory_items=len(rows) + 1)) if encoder else nullcontext()):
        for k, held in held_out.items():
            training = [r for r in train_rows if fold_of(r, folds) != k]
            log(f"fold {k + 1}/{folds}: training on {len(training)} rows, reading {len(held)}")
            fold_model = train(config.model_copy(update={"name": f"{config.name}-fold{k}"}),
                               rows=training + dev_rows, encoder=encoder)
            wrong, scores = reading_errors(fold_model, held)
            features.append(doubt_features(fold_model, scores, [r["text"] for r in held]))
            errors.append(wrong)
            log(f"fold {k + 1}/{folds}: {int(wrong.sum())} of {len(held)} read wrongly")
    check = held_out_check(features, errors, seed=config.seed)
    keep = force or check["learned"] > check["formula"]
    features, errors = np.concatenate(features), np.concatenate(errors)
    if keep:
        LearnedDoubt.fit(features, errors, seed=config.seed).save(model_dir)
    else:  # the formula ranks; an older fitted doubt must not stay either
        (model_dir / DOUBT_WEIGHTS).unlink(missing_ok=True)
    card_path = model_dir / CARD
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card["doubt"] = {"folds": folds, "rows": len(errors), "wrong": int(errors.sum()),
                     "error_rate": round(float(errors.mean()), 4), "members": MEMBERS, "hidden": HIDDEN,
                     "features": list(FEATURES), "model_id": model.model_id, "check": check, "kept": keep}
    card_path.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (model_dir / "README.md").write_text(model_readme(card), encoding="utf-8")
    return card["doubt"]
