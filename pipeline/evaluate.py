"""Evaluate: score Redline's outputs against gold annotations (attribution now; classifiers later)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

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


def evaluate_model(model, rows: Sequence[dict], embeddings=None) -> dict:
    """Score a model on annotated rows: issues, stance and maximalism (on the gold issues), calibration."""
    from .errors import ModelError

    unknown = unknown_issue_ids(rows, model.scores_issues())
    if unknown:
        raise ModelError(f"the data has issue ids the model does not know: {unknown}; "
                         f"the model knows {list(model.scores_issues())}")
    scores = model.score([r["text"] for r in rows], [r.get("actor_group") for r in rows], embeddings)
    chosen = model.decide(scores)
    position = {issue: j for j, issue in enumerate(scores.issues)}
    predicted = [{scores.issues[j] for j in range(len(scores.issues)) if chosen[i, j]} for i in range(len(rows))]
    gold_stance, pred_stance, gold_max, pred_max = [], [], [], []
    for i, row in enumerate(rows):
        for issue in row["issues"]:
            j = position[issue]
            gold_stance.append(row["stance"][issue])
            pred_stance.append(("favor", "against", "neutral")[int(scores.stance_probs[i, j].argmax())])
            gold_max.append(float(row["maximalism"][issue]))
            pred_max.append(float(scores.maximalism_probs[i, j] @ [0, 1, 2, 3]))
    confidences = [float(scores.issue_probs[i, j]) for i in range(len(rows)) for j in range(len(scores.issues))]
    outcomes = [scores.issues[j] in rows[i]["issues"] for i in range(len(rows)) for j in range(len(scores.issues))]
    return {"n": len(rows),
            "issues": issue_metrics([r["issues"] for r in rows], predicted, scores.issues),
            "stance": stance_metrics(gold_stance, pred_stance),
            "maximalism": maximalism_metrics(gold_max, pred_max),
            "calibration": {"issue_ece": expected_calibration_error(confidences, outcomes)}}
