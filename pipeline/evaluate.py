"""Evaluate: score Redline's outputs against gold annotations (attribution, classifiers), and compare two models."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from .errors import InputError
from .records import Statement


def read_jsonl(path: str | Path) -> list[dict]:
    """Rows of a JSONL file; a malformed line is an error naming the file and line."""
    rows = []
    with open(path, encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except ValueError as e:
                raise InputError(f"{path}:{lineno}: malformed JSON line: {e}") from e
    return rows


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def match_units(gold: Sequence[dict], statements: Sequence[Statement]) -> list[tuple[dict, Statement | None]]:
    """Each gold unit with the predicted statement that overlaps it most (same document)."""
    pairs = []
    for unit in gold:
        span = (unit["start"], unit["end"])
        best = max(statements, key=lambda s: _overlap(span, (s.start, s.end)), default=None)
        if best is not None and _overlap(span, (best.start, best.end)) == 0:
            best = None
        # two gold rows on one span (two holders): credit any overlapping statement with the right actor
        same_actor = [s for s in statements if _overlap(span, (s.start, s.end)) > 0
                      and s.actor in _accepted_actors(unit)]
        pairs.append((unit, same_actor[0] if same_actor else best))
    return pairs


def _accepted_actors(unit: dict) -> set[str]:
    accepted = {unit["actor"]}
    alt = unit.get("alt_actor")
    if alt:
        accepted.update(alt if isinstance(alt, list) else [alt])
    return accepted


def _group_of(actor: str, groups_of: dict[str, str] | None) -> str:
    """The group of an accepted actor: from the dictionary; `author` is its own group."""
    return "author" if actor == "author" else (groups_of or {}).get(actor, "")


def attribution_scores(pairs: Iterable[tuple[dict, Statement | None]], groups_of: dict[str, str] | None = None) -> dict:
    """Share of gold units whose actor (an `alt_actor` counts) and actor group are right, overall and per kind."""
    total = defaultdict(int)
    actor_ok = defaultdict(int)
    group_ok = defaultdict(int)
    for unit, predicted in pairs:
        for key in ("all", unit.get("attribution", "?")):
            total[key] += 1
            if predicted is not None and predicted.actor in _accepted_actors(unit):
                actor_ok[key] += 1
            accepted_groups = {unit["actor_group"]} | {_group_of(a, groups_of) for a in _accepted_actors(unit)}
            if predicted is not None and predicted.actor_group in accepted_groups:
                group_ok[key] += 1
    return {key: {"n": total[key], "actor": actor_ok[key] / total[key], "group": group_ok[key] / total[key]}
            for key in sorted(total, key=lambda k: (k != "all", k))}


# --- classifiers --------------------------------------------------------------------------------


def _f1(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def issue_metrics(gold: Sequence[Iterable[str]], predicted: Sequence[Iterable[str]], labels: Sequence[str]) -> dict:
    """Micro and macro F1 over issue labels; macro averages the labels that occur in the gold data."""
    per_label, totals = {}, [0, 0, 0]
    for label in labels:
        tp = sum(1 for g, p in zip(gold, predicted) if label in g and label in p)
        fp = sum(1 for g, p in zip(gold, predicted) if label not in g and label in p)
        fn = sum(1 for g, p in zip(gold, predicted) if label in g and label not in p)
        precision, recall, f1 = _f1(tp, fp, fn)
        per_label[label] = {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
                            "support": tp + fn}
        totals = [totals[0] + tp, totals[1] + fp, totals[2] + fn]
    supported = [v["f1"] for v in per_label.values() if v["support"] > 0]
    return {"micro_f1": round(_f1(*totals)[2], 4),
            "macro_f1": round(sum(supported) / len(supported), 4) if supported else 0.0, "per_label": per_label}


def stance_metrics(gold: Sequence[str], predicted: Sequence[str]) -> dict:
    """Macro-F1 over the stance classes present in the gold data, and F_avg = mean F1 of favor and against."""
    f1 = {}
    for label in ("favor", "against", "neutral"):
        tp = sum(1 for g, p in zip(gold, predicted) if g == label and p == label)
        fp = sum(1 for g, p in zip(gold, predicted) if g != label and p == label)
        fn = sum(1 for g, p in zip(gold, predicted) if g == label and p != label)
        f1[label] = (_f1(tp, fp, fn)[2], tp + fn)
    present = [v for v, support in f1.values() if support > 0]
    accuracy = sum(g == p for g, p in zip(gold, predicted)) / len(gold) if gold else 0.0
    return {"macro_f1": round(sum(present) / len(present), 4) if present else 0.0,
            "f_avg": round((f1["favor"][0] + f1["against"][0]) / 2, 4), "accuracy": round(accuracy, 4),
            "per_label": {k: round(v[0], 4) for k, v in f1.items()}, "n": len(gold)}


def maximalism_metrics(gold: Sequence[float], predicted: Sequence[float]) -> dict:
    """Mean absolute error, share within one level, and Spearman's rank correlation."""
    if not gold:
        return {"mae": 0.0, "within_1": 0.0, "spearman": 0.0, "n": 0}
    from scipy.stats import spearmanr

    errors = [abs(g - p) for g, p in zip(gold, predicted)]
    rho = spearmanr(gold, predicted).statistic if len(set(gold)) > 1 and len(set(predicted)) > 1 else 0.0
    return {"mae": round(sum(errors) / len(errors), 4), "within_1": round(sum(e <= 1 for e in errors) / len(errors), 4),
            "spearman": round(float(rho), 4), "n": len(gold)}


def expected_calibration_error(confidences: Sequence[float], outcomes: Sequence[bool], bins: int = 10) -> float:
    """ECE of probabilities against what happened (10 equal-width bins)."""
    total, error = len(confidences), 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        members = [i for i, c in enumerate(confidences) if low <= c < high or (b == bins - 1 and c == 1.0)]
        if members:
            accuracy = sum(outcomes[i] for i in members) / len(members)
            confidence = sum(confidences[i] for i in members) / len(members)
            error += len(members) / total * abs(accuracy - confidence)
    return round(error, 4)


def unknown_issue_ids(rows: Sequence[dict], known: Iterable[str]) -> dict[str, int]:
    """Issue ids in the data that the model and its taxonomy do not know, with their counts."""
    known = set(known)
    unknown: dict[str, int] = defaultdict(int)
    for row in rows:
        for issue in row.get("issues", []):
            if issue not in known:
                unknown[issue] += 1
    return dict(unknown)


def model_readings(model, rows: Sequence[dict], embeddings=None) -> dict:
    """What a model says about annotated rows: the issue set of each row, and for every gold (row, issue)
    pair the stance and expected maximalism, with the scores behind them."""
    from .errors import ModelError

    unknown = unknown_issue_ids(rows, model.scores_issues())
    if unknown:
        raise ModelError(f"the data has issue ids the model does not know: {unknown}; "
                         f"the model knows {list(model.scores_issues())}")
    scores = model.score([r["text"] for r in rows], [r.get("actor_group") for r in rows], embeddings)
    chosen = model.decide(scores)
    position = {issue: j for j, issue in enumerate(scores.issues)}
    predicted = [{scores.issues[j] for j in range(len(scores.issues)) if chosen[i, j]} for i in range(len(rows))]
    pairs = [(i, issue) for i, row in enumerate(rows) for issue in row["issues"]]
    stances = [("favor", "against", "neutral")[int(scores.stance_probs[i, position[issue]].argmax())]
               for i, issue in pairs]
    maximalism = [float(scores.maximalism_probs[i, position[issue]] @ [0, 1, 2, 3]) for i, issue in pairs]
    return {"scores": scores, "predicted": predicted, "pairs": pairs, "stance": stances, "maximalism": maximalism}


def evaluate_model(model, rows: Sequence[dict], embeddings=None) -> dict:
    """Score a model on annotated rows: issues, stance and maximalism (on the gold issues), calibration."""
    return _metrics(model_readings(model, rows, embeddings), rows)


def _metrics(readings: dict, rows: Sequence[dict]) -> dict:
    scores, pairs = readings["scores"], readings["pairs"]
    gold_stance = [rows[i]["stance"][issue] for i, issue in pairs]
    gold_max = [float(rows[i]["maximalism"][issue]) for i, issue in pairs]
    confidences = [float(scores.issue_probs[i, j]) for i in range(len(rows)) for j in range(len(scores.issues))]
    outcomes = [scores.issues[j] in rows[i]["issues"] for i in range(len(rows)) for j in range(len(scores.issues))]
    return {"n": len(rows),
            "issues": issue_metrics([r["issues"] for r in rows], readings["predicted"], scores.issues),
            "stance": stance_metrics(gold_stance, readings["stance"]),
            "maximalism": maximalism_metrics(gold_max, readings["maximalism"]),
            "calibration": {"issue_ece": expected_calibration_error(confidences, outcomes)}}


# --- comparing two models -----------------------------------------------------------------------


def compare_models(first, second, rows: Sequence[dict], resamples: int = 2000, seed: int = 0,
                   level: float = 0.9) -> dict:
    """Both models' figures on the same rows, per-label differences (first − second), and a seeded paired
    bootstrap interval (resampling statements) on the differences of issues and stance macro-F1."""
    readings = [model_readings(m, rows) for m in (first, second)]
    labels = readings[0]["scores"].issues
    results = [_metrics(r, rows) for r in readings]
    gold = np.array([[label in r["issues"] for label in labels] for r in rows])
    predicted = [np.array([[label in p for label in labels] for p in r["predicted"]]) for r in readings]
    pair_rows = np.array([i for i, _ in readings[0]["pairs"]], dtype=int)
    stance_gold = np.array([rows[i]["stance"][issue] for i, issue in readings[0]["pairs"]])
    stance_pred = [np.array(r["stance"]) for r in readings]
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(len(rows), np.full(len(rows), 1 / len(rows)), size=resamples).astype(float)
    issue_diff = _weighted_macro_f1(gold, predicted[0], weights) - _weighted_macro_f1(gold, predicted[1], weights)
    stance_diff = _stance_macro_f1(stance_gold, stance_pred[0], weights[:, pair_rows]) \
        - _stance_macro_f1(stance_gold, stance_pred[1], weights[:, pair_rows])
    tail = (1 - level) / 2 * 100
    return {"n": len(rows), "first": results[0], "second": results[1], "resamples": resamples, "seed": seed,
            "level": level,
            "difference": {
                "issues_macro_f1": _interval(results[0]["issues"]["macro_f1"] - results[1]["issues"]["macro_f1"],
                                             issue_diff, tail),
                "stance_macro_f1": _interval(results[0]["stance"]["macro_f1"] - results[1]["stance"]["macro_f1"],
                                             stance_diff, tail),
                "maximalism_mae": round(results[0]["maximalism"]["mae"] - results[1]["maximalism"]["mae"], 4),
                "issues_f1": {label: round(results[0]["issues"]["per_label"][label]["f1"]
                                           - results[1]["issues"]["per_label"][label]["f1"], 4) for label in labels},
                "stance_f1": {label: round(results[0]["stance"]["per_label"][label]
                                           - results[1]["stance"]["per_label"][label], 4)
                              for label in ("favor", "against", "neutral")}}}


def _interval(observed: float, resampled: np.ndarray, tail: float) -> dict:
    low, high = np.percentile(resampled, [tail, 100 - tail])
    return {"observed": round(observed, 4), "low": round(float(low), 4), "high": round(float(high), 4)}


def _weighted_macro_f1(gold: np.ndarray, predicted: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Issues macro-F1 of each resample (rows weighted by how often they were drawn), as issue_metrics
    computes it: the mean F1 of the labels with gold support in the resample."""
    tp = weights @ (gold & predicted)
    fp = weights @ (~gold & predicted)
    fn = weights @ (gold & ~predicted)
    return _mean_f1(tp, fp, fn)


def _stance_macro_f1(gold: np.ndarray, predicted: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Stance macro-F1 of each resample over the stance classes with gold support, as stance_metrics."""
    classes = ("favor", "against", "neutral")
    g = np.stack([gold == c for c in classes], axis=1)
    p = np.stack([predicted == c for c in classes], axis=1)
    return _mean_f1(weights @ (g & p), weights @ (~g & p), weights @ (g & ~p))


def _mean_f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    f1 = np.divide(2 * tp, 2 * tp + fp + fn, out=np.zeros_like(tp), where=tp > 0)
    supported = (tp + fn) > 0
    return np.where(supported.any(1), (f1 * supported).sum(1) / np.maximum(supported.sum(1), 1), 0.0)
