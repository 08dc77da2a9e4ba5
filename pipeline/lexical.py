"""Lexical models: TF-IDF word n-grams and logistic regressions, the part of a Redline model that reads words.

The heads read a sentence embedding, which blurs the words that decide a label ("never", "will not", a
place name); a linear model over word n-grams keeps them. Each model folder holds both, and the scores are a
blend whose weights (one for issues, one for stance, one for maximalism) are chosen on the dev split at
training time, 0 meaning heads only. Everything is stored as arrays and word lists (`lexical.safetensors`,
`lexical.json`), never as pickles, so a model folder stays safe to load from anywhere.

Stance and maximalism are read per (statement, issue) pair: the words, the words scoped by the issue
("border:never", so each issue learns its own weights) and one-hot keys for the issue and holder group.
Maximalism is read from the wording: it leaves the holder keys out and adds the counts of the wording cues
(cues.py: absolute, firm, hedged, conceding ...), which carry across issues what one issue's words cannot.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import MAXIMALISM_LEVELS, STANCES
from .cues import cue_counts
from .errors import ModelError

WEIGHTS = "lexical.safetensors"
VOCABULARY = "lexical.json"
C_GRID = (0.5, 2.0, 8.0)  # inverse regularisation strengths tried; the best on dev is kept


WORD = re.compile(r"\w+")


def scoped_words(doc: str) -> list[str]:
    """Words of "issue<TAB>text" prefixed with the issue: one vectoriser, per-issue word weights."""
    issue, text = doc.split("\t", 1)
    return [f"{issue}:{w}" for w in WORD.findall(text.lower())]


def pair_keys(issue: str, group: str | None) -> list[str]:
    group = group or "other"
    return [f"issue={issue}", f"group={group}", f"issue_group={issue}|{group}"]


def _words_vectorizer(vocabulary=None, min_df: int = 2):
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(ngram_range=(1, 2), min_df=min_df, sublinear_tf=True, vocabulary=vocabulary)


def _scoped_vectorizer(vocabulary=None, min_df: int = 2):
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(analyzer=scoped_words, min_df=min_df, sublinear_tf=True, vocabulary=vocabulary)


@dataclass
class Linear:
    """A fitted linear model as arrays: `coef` (classes × features), `intercept`, and how to normalise."""

    coef: np.ndarray
    intercept: np.ndarray
    multinomial: bool  # softmax over classes; else one sigmoid per column (one-vs-rest)

    def probs(self, x) -> np.ndarray:
        logits = np.asarray(x @ self.coef.T) + self.intercept
        if not self.multinomial:
            return 1 / (1 + np.exp(-logits))
        logits = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)


class Lexical:
    """TF-IDF features and three linear models over them (issues one-vs-rest; stance; maximalism)."""

    def __init__(self, labels: Sequence[str], words, scoped, keys: Sequence[str], issue: Linear, stance: Linear,
                 maximalism: Linear, blend: dict[str, float] | None = None, cues: bool = True):
        self.labels, self.words, self.scoped = tuple(labels), words, scoped
        self.cues = cues  # maximalism reads the wording cues (cues.py), not the holder; models saved before: False
        self.keys = {k: i for i, k in enumerate(keys)}
        self.issue, self.stance, self.maximalism = issue, stance, maximalism
        self.blend = dict(blend or {"issues": 0.0, "stance": 0.0, "maximalism": 0.0})
        self._scoped_lookup: tuple | None = None  # _scoped_index(), built on first use

    # --- fitting --------------------------------------------------------------------------------

    @classmethod
    def fit(cls, labels: Sequence[str], train: Sequence[dict], dev: Sequence[dict], cues: bool = True) -> Lexical:
        """Fit on annotated rows (ANNOTATION.md fields); the regularisation of each model is chosen on dev.
        `cues=False`: plain word models (maximalism reads the same features as stance), as a user wiring
        scikit-learn by hand would build them (the TF-IDF peer of benchmarks/)."""
        from .evaluate import issue_metrics, maximalism_metrics, stance_metrics

        labels = tuple(labels)
        min_df = 2 if len(train) >= 200 else 1
        pairs = [(r, i) for r in train for i in r["issues"] if i in labels]
        if not pairs:
            raise ModelError("no training row has an issue: the lexical models have nothing to learn from")
        words = _words_vectorizer(min_df=min_df).fit([r["text"] for r in train])
        scoped = _scoped_vectorizer(min_df=min_df).fit([f"{i}\t{r['text']}" for r, i in pairs])
        keys = sorted({k for r, i in pairs for k in pair_keys(i, r.get("actor_group"))})
        model = cls(labels, words, scoped, keys, None, None, None, cues=cues)
        x, dev_x = model._word_features([r["text"] for r in train]), model._word_features([r["text"] for r in dev])
        y = np.array([[i in r["issues"] for i in labels] for r in train], dtype=int)
        dev_gold = [[i for i in r["issues"] if i in labels] for r in dev]
        model.issue = _best(C_GRID, lambda c: _one_vs_rest(x, y, c), lambda m: issue_metrics(
            dev_gold, [{labels[j] for j in np.flatnonzero(p >= 0.5)} for p in m.probs(dev_x)], labels)["macro_f1"])
        dev_pairs = [(r, i) for r in dev for i in r["issues"] if i in labels]
        px, dev_px = model._pair_features(pairs), model._pair_features(dev_pairs)
        stances = [r["stance"][i] for r, i in pairs]
        gold_stance = [r["stance"][i] for r, i in dev_pairs]
        model.stance = _best(C_GRID, lambda c: _multinomial(px, stances, STANCES, c), lambda m: stance_metrics(
            gold_stance, [STANCES[k] for k in m.probs(dev_px).argmax(1)])["macro_f1"])
        levels = [int(r["maximalism"][i]) for r, i in pairs]
        gold_levels = [float(r["maximalism"][i]) for r, i in dev_pairs]
        # maximalism is read from the wording, not the holder (as the heads do): the holder keys are left out,
        # or a side that is often maximal would be read as maximal whatever it says; the cue counts carry
        # "never", "open to", "does not object" across issues
        wording = model._maximalism_features(px, lambda: cue_counts([r["text"] for r, _ in pairs]))
        dev_wording = model._maximalism_features(dev_px, lambda: cue_counts([r["text"] for r, _ in dev_pairs]))
        model.maximalism = _best(C_GRID, lambda c: _multinomial(wording, levels, MAXIMALISM_LEVELS, c), lambda m: -
                                 maximalism_metrics(gold_levels, list(m.probs(dev_wording) @ MAXIMALISM_LEVELS))["mae"])
        return model

    def _without_holder(self, x):
        """`x` (pair features) with the columns of the holder's group keys set to zero."""
        from scipy.sparse import diags

        offset = len(self.words.idf_) + len(self.scoped.idf_)
        keep = np.ones(x.shape[1])
        keep[[offset + j for key, j in self.keys.items() if not key.startswith("issue=")]] = 0.0
        return (x @ diags(keep)).tocsr()

    # --- scoring --------------------------------------------------------------------------------

    def _word_features(self, texts: Sequence[str]):
        return self.words.transform(texts)

    def _pair_features(self, pairs: Sequence[tuple[dict, str]], words=None, scoped=None):
        """Features of (row, issue) pairs; `words` and `scoped` are the pairs' word and issue-scoped word
        matrices when the caller has them already."""
        from scipy.sparse import csr_matrix, hstack

        rows, cols = [], []
        for n, (row, issue) in enumerate(pairs):
            for key in pair_keys(issue, row.get("actor_group")):
                if key in self.keys:
                    rows.append(n)
                    cols.append(self.keys[key])
        keys = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(pairs), len(self.keys)))
        if words is None:
            words = self.words.transform([r["text"] for r, _ in pairs])
        if scoped is None:
            scoped = self.scoped.transform([f"{i}\t{r['text']}" for r, i in pairs])
        return hstack([words, scoped, keys]).tocsr()

    def _scoped_by_issue(self, texts: Sequence[str]):
        """`self.scoped.transform` of every (issue, text) pair, issue by issue (row j·n + t), with each
        text split into words once rather than once per issue: the same TF-IDF (sublinear term frequency
        times idf, rows scaled to unit length)."""
        from scipy.sparse import csr_matrix
        from sklearn.preprocessing import normalize

        if self._scoped_lookup is None:
            self._scoped_lookup = self._scoped_index()
        words, starts, entry_issue, entry_column = self._scoped_lookup
        n, found, word_ids, counts = len(texts), [], [], []
        for t, text in enumerate(texts):
            for word, count in Counter(WORD.findall(text.lower())).items():
                if (w := words.get(word)) is not None:
                    found.append(t)
                    word_ids.append(w)
                    counts.append(count)
        word_ids = np.asarray(word_ids, dtype=np.int64)
        lengths = starts[word_ids + 1] - starts[word_ids]  # the issues that scope each found word
        entries = np.repeat(starts[word_ids] - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
        columns = entry_column[entries]
        tf = np.repeat(np.log(np.asarray(counts, dtype=np.float64)) + 1, lengths)
        x = csr_matrix((tf * self.scoped.idf_[columns], (entry_issue[entries] * n + np.repeat(found, lengths),
                                                          columns)),
                       shape=(len(self.labels) * n, len(self.scoped.idf_)))
        return normalize(x, norm="l2", copy=False)

    def _scoped_index(self) -> tuple[dict[str, int], np.ndarray, np.ndarray, np.ndarray]:
        """The scoped vocabulary by word: word ids, and for word w the entries starts[w]:starts[w + 1] of
        (issue position, column)."""
        position, by_word = {issue: j for j, issue in enumerate(self.labels)}, {}
        for key, column in (getattr(self.scoped, "vocabulary_", None) or self.scoped.vocabulary).items():
            issue, word = key.rsplit(":", 1)
            if issue in position:
                by_word.setdefault(word, []).append((position[issue], column))
        words = {word: w for w, word in enumerate(by_word)}
        entries = [entry for word in by_word for entry in by_word[word]]
        starts = np.concatenate([[0], np.cumsum([len(v) for v in by_word.values()])]).astype(np.int64)
        return (words, starts, np.array([j for j, _ in entries], dtype=np.int64),
                np.array([c for _, c in entries], dtype=np.int64))

    def _maximalism_features(self, x, cues: Callable[[], np.ndarray]):
        """What the maximalism model reads of pair features `x`: the wording, i.e. without the holder keys and
        with the pairs' cue counts (`cues()`, called only when needed); models saved before the cues read `x`."""
        if not self.cues:
            return x
        from scipy.sparse import csr_matrix, hstack

        return hstack([self._without_holder(x), csr_matrix(cues())]).tocsr()

    def issue_probs(self, texts: Sequence[str]) -> np.ndarray:
        """Probability of each trained issue per text, shape (n, issues)."""
        return self.issue.probs(self._word_features(texts))

    def pair_probs(self, texts: Sequence[str], groups: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray]:
        """Stance (n, issues, 3) and maximalism (n, issues, 4) distributions for every (text, issue)."""
        return self.probs(texts, groups)[1:]

    def probs(self, texts: Sequence[str], groups: Sequence[str | None], cues: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Issue probabilities (n, issues), stance (n, issues, 3) and maximalism (n, issues, 4) per text,
        from one pass over the words; `cues` are the texts' cue counts when the caller has them."""
        n, k = len(texts), len(self.labels)
        from scipy.sparse import vstack

        words = self._word_features(texts)
        pairs = [({"text": t, "actor_group": g}, issue) for issue in self.labels for t, g in zip(texts, groups)]
        x = self._pair_features(pairs, vstack([words] * k), self._scoped_by_issue(texts))
        stance = self.stance.probs(x).reshape(k, n, len(STANCES)).transpose(1, 0, 2)
        # the cue counts of the batch once, not once per issue
        maximalism = self.maximalism.probs(self._maximalism_features(
            x, lambda: np.tile(cue_counts(texts) if cues is None else cues, (k, 1))))
        maximalism = maximalism.reshape(k, n, len(MAXIMALISM_LEVELS)).transpose(1, 0, 2)
        return self.issue.probs(words), stance, maximalism

    # --- files ----------------------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        from safetensors.numpy import save_file

        arrays = {"words_idf": self.words.idf_, "scoped_idf": self.scoped.idf_}
        for name, linear in (("issue", self.issue), ("stance", self.stance), ("maximalism", self.maximalism)):
            arrays[f"{name}_coef"], arrays[f"{name}_intercept"] = linear.coef, linear.intercept
        save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in arrays.items()}, str(folder / WEIGHTS))
        meta = {"labels": list(self.labels), "blend": self.blend, "keys": list(self.keys), "cues": self.cues,
                "words": self.words.get_feature_names_out().tolist(),
                "scoped": self.scoped.get_feature_names_out().tolist()}
        (folder / VOCABULARY).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> Lexical | None:
        """The folder's lexical models, or None for a model trained without them (heads only)."""
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        if not (folder / VOCABULARY).exists() and not (folder / WEIGHTS).exists():
            return None
        try:
            meta = json.loads((folder / VOCABULARY).read_text(encoding="utf-8"))
            arrays = load_file(str(folder / WEIGHTS))
            words = _words_vectorizer(vocabulary={t: i for i, t in enumerate(meta["words"])})
            words.idf_ = arrays["words_idf"]
            scoped = _scoped_vectorizer(vocabulary={t: i for i, t in enumerate(meta["scoped"])})
            scoped.idf_ = arrays["scoped_idf"]
            linear = {name: Linear(arrays[f"{name}_coef"], arrays[f"{name}_intercept"], name != "issue")
                      for name in ("issue", "stance", "maximalism")}
        except (OSError, ValueError, KeyError, SafetensorError) as e:
            raise ModelError(f"{folder}: missing or corrupt lexical model ({WEIGHTS}, {VOCABULARY}): {e}") from e
        return cls(meta["labels"], words, scoped, meta["keys"], linear["issue"], linear["stance"],
                   linear["maximalism"], meta["blend"], meta.get("cues", False))


def _best(grid, fit, objective):
    return max((fit(c) for c in grid), key=objective)


def _one_vs_rest(x, y: np.ndarray, c: float) -> Linear:
    """One logistic regression per issue (class-balanced); an issue with one class in training keeps its prior."""
    from sklearn.linear_model import LogisticRegression

    coef, intercept = np.zeros((y.shape[1], x.shape[1])), np.zeros(y.shape[1])
    for j in range(y.shape[1]):
        if 0 < y[:, j].sum() < len(y):
            fitted = LogisticRegression(C=c, class_weight="balanced", max_iter=2000).fit(x, y[:, j])
            coef[j], intercept[j] = fitted.coef_[0], fitted.intercept_[0]
        else:
            prior = np.clip(y[:, j].mean(), 1e-3, 1 - 1e-3)
            intercept[j] = np.log(prior / (1 - prior))
    return Linear(coef, intercept, multinomial=False)


def _multinomial(x, y: Sequence, classes: Sequence, c: float) -> Linear:
    """A softmax regression over `classes`; a class never seen in training gets a very low score."""
    from sklearn.linear_model import LogisticRegression

    coef, intercept = np.zeros((len(classes), x.shape[1])), np.full(len(classes), -30.0)
    seen = sorted(set(y), key=list(classes).index)
    if len(seen) == 1:
        intercept[list(classes).index(seen[0])] = 0.0
        return Linear(coef, intercept, multinomial=True)
    fitted = LogisticRegression(C=c, class_weight="balanced", max_iter=3000).fit(x, list(y))
    for row, label in enumerate(fitted.classes_):
        at = list(classes).index(label)
        if len(fitted.classes_) == 2:  # sklearn keeps one row for two classes: the second's logit
            coef[at] = fitted.coef_[0] * (1 if row else -1) / 2
            intercept[at] = fitted.intercept_[0] * (1 if row else -1) / 2
        else:
            coef[at], intercept[at] = fitted.coef_[row], fitted.intercept_[row]
    return Linear(coef, intercept, multinomial=True)
