"""Train: a corpus → a model folder. `heads` trains the three heads over cached frozen embeddings;
`finetune` then trains low-rank adapters in the encoder together with the heads. Seeded and reproducible.

`train(config) -> RedlineModel` owns the loop; the model owns prediction. Calibration (temperature,
one issue threshold, the zero-shot similarity threshold) is fitted on the dev split, and dev and test
metrics go into the card.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import yaml
from pydantic import Field, model_validator
from torch import nn

from .classify import Heads, HeadsEnsemble, RedlineModel, build_heads, mix_probs, platt_scale, sharpen
from .config import (
    DEFAULT_TAXONOMY,
    MAXIMALISM_LEVELS,
    ROOT,
    STANCES,
    Strict,
    Taxonomy,
    load_config,
    load_taxonomy,
)
from .corpus import SPLITS, corpus_hash, load_rows
from .encoder import DEFAULT_ENCODER, Encoder
from .errors import ConfigError
from .evaluate import evaluate_model
from .lexical import Lexical
from .registry import start_heads

MAXIMALISM_L1 = 1.0


class TrainingConfig(Strict):
    """Everything a training run depends on; stored in the model folder as config.yaml."""

    name: str = "default"
    mode: Literal["heads", "finetune"] = "heads"
    corpus: tuple[str, ...] = ("corpora/statements",)
    taxonomy: str = str(DEFAULT_TAXONOMY.relative_to(ROOT))
    encoder: str = DEFAULT_ENCODER
    max_length: int = Field(128, ge=16, le=512)
    # Earlier encoder layers whose mean-pooled states the maximalism head reads beside the last layer's
    # (Encoder.layers; 0 is the word embeddings): their wording tells a hedged demand from an absolute one.
    maximalism_layers: tuple[int, ...] = ()
    seed: int = 13
    epochs: int = Field(40, ge=1)
    batch_size: int = Field(64, ge=1)
    learning_rate: float = Field(2e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    hidden: int = Field(256, ge=8)
    dropout: float = Field(0.2, ge=0, lt=1)
    # Heads trained from seeds seed, seed+1, ...; their logits are averaged (classify.HeadsEnsemble).
    ensemble: int = Field(1, ge=1, le=16)
    patience: int = Field(8, ge=1)
    finetune_epochs: int = Field(3, ge=1)
    finetune_batch_size: int = Field(16, ge=1)
    encoder_learning_rate: float = Field(3e-4, gt=0)
    lora_rank: int = Field(8, ge=0)
    lora_alpha: float = Field(16.0, gt=0)
    exclude_issues: tuple[str, ...] = ()
    device: str | None = None
    # Inputs of a foreign dataset (e.g. SemEval stance) are mapped in the corpus loader, not here.
    text_prefix_group: bool = False
    # Word n-gram models blended with the heads (pipeline/lexical.py); the blend weights are chosen on dev.
    lexical: bool = True
    # A model folder whose head weights start the training (same issues, encoder and hidden size).
    start_from: str | None = None

    @model_validator(mode="after")
    def _check(self) -> TrainingConfig:
        # a saved config.yaml lists every field, the default lora_rank too: only another value is a mistake
        if self.mode == "heads" and "lora_rank" in self.model_fields_set \
                and self.lora_rank not in (0, type(self).model_fields["lora_rank"].default):
            raise ValueError(f"lora_rank={self.lora_rank} only applies to mode 'finetune', not 'heads'")
        return self


def load_training_config(path: str | Path, **overrides) -> TrainingConfig:
    config = load_config(path, TrainingConfig)
    return config.model_copy(update={k: v for k, v in overrides.items() if v is not None}) if overrides else config


def _project_path(path: str) -> Path:
    candidate = Path(path)
    if candidate.is_absolute() or candidate.exists():
        return candidate
    return ROOT / candidate


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# --- data as tensors ----------------------------------------------------------------------------


class Batch:
    """Features and targets of a set of rows: issue multi-hot, and one (row, issue) pair per gold issue."""

    def __init__(self, rows: Sequence[dict], model: RedlineModel, embeddings: torch.Tensor | None):
        texts = [r["text"] for r in rows]
        self.rows = rows
        self.features = model.features(texts, embeddings) if embeddings is not None else None
        self.texts = texts
        labels = model.labels
        index = {issue: j for j, issue in enumerate(labels)}
        self.issue_targets = torch.zeros(len(rows), len(labels))
        pair_rows, pair_issues, stances, levels = [], [], [], []
        for i, row in enumerate(rows):
            for issue in row["issues"]:
                j = index[issue]
                self.issue_targets[i, j] = 1.0
                pair_rows.append(i)
                pair_issues.append(j)
                stances.append(STANCES.index(row["stance"][issue]))
                levels.append(int(row["maximalism"][issue]))
        self.pair_rows = torch.tensor(pair_rows, dtype=torch.long)
        self.pair_issues = torch.tensor(pair_issues, dtype=torch.long)
        self.stances = torch.tensor(stances, dtype=torch.long)
        self.levels = torch.tensor(levels, dtype=torch.long)
        self.groups = model.group_onehot([r.get("actor_group") for r in rows])


def _losses(heads: Heads | HeadsEnsemble, model: RedlineModel, feats: dict, batch: Batch, rows: torch.Tensor,
            pos_weight: torch.Tensor) -> torch.Tensor:
    """Issue BCE over the given rows plus stance and maximalism cross-entropy over their gold pairs."""
    k = len(model.labels)
    logits = heads.issue_logits(feats["h"], feats["keywords"][:, :k], feats["similarity"][:, :k], feats["cues"])
    loss = nn.functional.binary_cross_entropy_with_logits(logits, batch.issue_targets[rows], pos_weight=pos_weight)
    position = {int(r): n for n, r in enumerate(rows)}
    mask = torch.tensor([int(r) in position for r in batch.pair_rows], dtype=torch.bool)
    if mask.any():
        local = torch.tensor([position[int(r)] for r in batch.pair_rows[mask]], dtype=torch.long)
        onehot = nn.functional.one_hot(batch.pair_issues[mask], k).float()
        stance, maximalism = heads.pair_logits(feats["h"][local], onehot, batch.groups[rows][local],
                                               feats["cues"][local])
        expected = torch.softmax(maximalism, -1) @ torch.arange(4, dtype=maximalism.dtype)
        # cross-entropy learns the levels; the L1 term on the expected value is what users read
        loss = loss + nn.functional.cross_entropy(stance, batch.stances[mask]) \
            + nn.functional.cross_entropy(maximalism, batch.levels[mask]) \
            + MAXIMALISM_L1 * (expected - batch.levels[mask].to(expected.dtype)).abs().mean()
    return loss


def _issue_pos_weight(batch: Batch) -> torch.Tensor:
    """Weight of an issue's positives in the BCE: the negative/positive ratio, capped at 10, square-rooted."""
    positives = batch.issue_targets.sum(0)
    return ((len(batch.rows) - positives) / positives.clamp(min=1)).clamp(max=10).sqrt()


def _select(feats: dict, rows: torch.Tensor) -> dict:
    return {k: v[rows] for k, v in feats.items()}


def _selection_score(metrics: dict) -> float:
    return metrics["issues"]["macro_f1"] + metrics["stance"]["macro_f1"] - metrics["maximalism"]["mae"] / 3


# --- the loop -----------------------------------------------------------------------------------


def train(config: TrainingConfig, log: Callable[[str], None] = lambda _: None, rows: list[dict] | None = None,
          encoder: Encoder | None = None) -> RedlineModel:
    """Train a model from `config`; returns it calibrated, with dev and test metrics in its card. `rows`
    (corpus rows, already read) replace the config's corpus; `encoder` (heads mode only: fine-tuning changes
    it) is a loaded encoder to use, e.g. one whose embeddings are cached across trainings."""
    if encoder is not None and config.mode != "heads":
        raise ConfigError("a shared encoder is for heads mode only: fine-tuning would change it")
    if encoder is not None and encoder.layers != tuple(config.maximalism_layers):
        raise ConfigError(f"the shared encoder pools layers {list(encoder.layers)}, the config asks for "
                          f"{list(config.maximalism_layers)}")
    seed_everything(config.seed)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    taxonomy = load_taxonomy(_project_path(config.taxonomy))
    unknown = [i for i in config.exclude_issues if i not in taxonomy.ids]
    if unknown:
        raise ConfigError(f"exclude_issues names {unknown}, not in the taxonomy ({list(taxonomy.ids)})")
    if rows is None:
        rows = load_rows([_project_path(p) for p in config.corpus], taxonomy)
    rows = [_without(r, config.exclude_issues) for r in rows]
    splits = {s: [r for r in rows if r["split"] == s] for s in SPLITS}
    if not splits["train"] or not splits["dev"]:
        raise ConfigError(f"the corpus needs train and dev rows; found {({s: len(v) for s, v in splits.items()})}")
    labels = tuple(i for i in taxonomy.ids if i not in config.exclude_issues)
    start = start_heads(config.start_from, labels, config.encoder, config.hidden, config.maximalism_layers) \
        if config.start_from else None
    # starting from a model keeps its holder groups (its stance head's inputs); new groups count as "other"
    groups = start.groups if start else tuple(sorted({r.get("actor_group") or "other" for r in splits["train"]}
                                                     | {"other"}))
    encoder = encoder or Encoder(config.encoder, config.max_length, device=config.device,
                                 layers=config.maximalism_layers)
    heads = build_heads(encoder.dim, len(labels), len(groups), config.hidden, config.dropout, config.ensemble,
                        encoder.width - encoder.dim)
    if start:
        start.load_into(heads)
    heads.to(encoder.device_)
    card = _card(config, taxonomy, labels, groups, rows, splits, encoder)
    card["start_from"] = {"path": start.path, "model_id": start.model_id} if start else None
    model = RedlineModel(encoder, heads, card, taxonomy)
    log(f"encoding {len(rows)} statements with {config.encoder}")
    embeddings = {s: encoder.encode([r["text"] for r in splits[s]]) for s in SPLITS}
    if not start:  # a starting model's heads keep the standardisation they were trained with
        heads.standardise(embeddings["train"])
    batches = {s: Batch(splits[s], model, embeddings[s]) for s in SPLITS}
    _train_heads(model, batches, config, log)
    if config.mode == "finetune":
        _finetune(model, batches, config, log)
        embeddings = {s: encoder.encode([r["text"] for r in splits[s]]) for s in SPLITS}
    if config.lexical:
        log("fitting the word n-gram models")
        model.lexical = Lexical.fit(labels, splits["train"], splits["dev"])
    _calibrate(model, splits["dev"], embeddings["dev"])
    model.card["metrics"] = {s: evaluate_model(model, splits[s], embeddings[s]) if splits[s] else {}
                             for s in ("dev", "test")}
    model.card["fingerprint"] = _fingerprint(model)
    return model


def _without(row: dict, excluded: Sequence[str]) -> dict:
    if not excluded or not set(row["issues"]) & set(excluded):
        return row
    row = dict(row)
    row["issues"] = [i for i in row["issues"] if i not in excluded]
    row["stance"] = {i: v for i, v in row["stance"].items() if i not in excluded}
    row["maximalism"] = {i: v for i, v in row["maximalism"].items() if i not in excluded}
    return row


def _train_heads(model: RedlineModel, batches: dict[str, Batch], config: TrainingConfig, log) -> None:
    """Train the heads; an ensemble's members one after the other, each from its own seed and each stopped
    early on its own dev score."""
    heads = model.heads
    if not isinstance(heads, HeadsEnsemble):
        _train_member(model, batches, config, config.seed, log)
        return
    try:
        for n, member in enumerate(heads.members):
            model.heads = member
            seed_everything(config.seed + n)
            _train_member(model, batches, config, config.seed + n,
                          lambda line, n=n: log(f"member {n + 1}/{len(heads.members)}: {line}"))
    finally:
        model.heads = heads


def _train_member(model: RedlineModel, batches: dict[str, Batch], config: TrainingConfig, seed: int, log) -> None:
    heads, train_batch = model.heads, batches["train"]
    optimizer = torch.optim.AdamW(heads.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    pos_weight = _issue_pos_weight(train_batch)
    generator = torch.Generator().manual_seed(seed)
    best, best_state, waited = -1e9, None, 0
    for epoch in range(config.epochs):
        heads.train()
        order = torch.randperm(len(train_batch.rows), generator=generator)
        for start in range(0, len(order), config.batch_size):
            rows = order[start:start + config.batch_size]
            loss = _losses(heads, model, _select(train_batch.features, rows), train_batch, rows, pos_weight)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        score = _selection_score(evaluate_model(model, batches["dev"].rows, batches["dev"].features["h"]))
        if score > best + 1e-4:
            best, best_state, waited = score, copy.deepcopy(heads.state_dict()), 0
        else:
            waited += 1
        log(f"heads epoch {epoch + 1}: dev score {score:.4f} (best {best:.4f})")
        if waited >= config.patience:
            break
    heads.load_state_dict(best_state)


def _finetune(model: RedlineModel, batches: dict[str, Batch], config: TrainingConfig, log) -> None:
    """Low-rank adapters in the encoder (or the whole encoder with lora_rank 0), trained with the heads."""
    encoder, heads, train_batch = model.encoder, model.heads, batches["train"]
    if config.lora_rank:
        encoder.add_lora(config.lora_rank, config.lora_alpha)
    trainable = [p for p in encoder.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW([{"params": trainable, "lr": config.encoder_learning_rate},
                                   {"params": heads.parameters(), "lr": config.learning_rate / 4}],
                                  weight_decay=config.weight_decay)
    pos_weight = _issue_pos_weight(train_batch)
    generator = torch.Generator().manual_seed(config.seed + 1)
    static = {k: v for k, v in train_batch.features.items() if k != "h"}
    best, best_state, improved = _finetune_score(model, batches["dev"]), _trainable_state(model), False
    for epoch in range(config.finetune_epochs):
        encoder.model.train()
        heads.train()
        order = torch.randperm(len(train_batch.rows), generator=generator)
        for start in range(0, len(order), config.finetune_batch_size):
            rows = order[start:start + config.finetune_batch_size]
            feats = {"h": encoder([train_batch.texts[int(i)] for i in rows]).float(), **_select(static, rows)}
            loss = _losses(heads, model, feats, train_batch, rows, pos_weight)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model._issue_vectors = None
        score = _finetune_score(model, batches["dev"])
        log(f"finetune epoch {epoch + 1}: dev score {score:.4f} (best {best:.4f})")
        if score > best:
            best, best_state, improved = score, _trainable_state(model), True
    _load_trainable(model, best_state)
    model.card["encoder"].update({"lora_rank": config.lora_rank, "lora_alpha": config.lora_alpha})
    if not config.lora_rank and improved:  # the whole encoder was trained: `save` writes its weights with the model
        encoder.mark_tuned()
    elif not config.lora_rank:
        log("no fine-tuning epoch beat the frozen encoder on dev: the encoder is kept as it was")


def _finetune_score(model: RedlineModel, dev: Batch) -> float:
    model._issue_vectors = None
    return _selection_score(evaluate_model(model, dev.rows))


def _trainable_state(model: RedlineModel) -> dict:
    """What fine-tuning changes: the heads and the adapters, or the heads and the whole encoder."""
    whole = not model.encoder.lora_rank
    return {"heads": copy.deepcopy(model.heads.state_dict()),
            "encoder": {k: v.detach().clone() for k, v in model.encoder.model.state_dict().items()
                        if whole or "lora_" in k}}


def _load_trainable(model: RedlineModel, state: dict) -> None:
    model.heads.load_state_dict(state["heads"])
    model.encoder.model.load_state_dict(state["encoder"], strict=False)
    model._issue_vectors = None


# --- calibration --------------------------------------------------------------------------------


def _calibrate(model: RedlineModel, dev_rows: Sequence[dict], dev_embeddings: torch.Tensor) -> None:
    """Temperature of the issue head, the blend with the word models, one threshold for all issues (best dev
    macro-F1), the zero-shot similarity threshold, the maximalism temperature and sharpening, and the
    low-confidence threshold."""
    model.temperature, model.thresholds = 1.0, np.full(len(model.labels), 0.5)
    model.maximalism_sharpening = 1.0
    model.issue_scaling = (1.0, 0.0)
    model.extra = ()
    if model.lexical is not None:
        model.lexical.blend = {"issues": 0.0, "stance": 0.0, "maximalism": 0.0}
    feats = model.features([r["text"] for r in dev_rows], dev_embeddings)
    k = len(model.labels)
    with torch.inference_mode():
        logits = model.heads.issue_logits(feats["h"], feats["keywords"][:, :k], feats["similarity"][:, :k],
                                          feats["cues"]).numpy()
    gold = np.array([[issue in r["issues"] for issue in model.labels] for r in dev_rows], dtype=float)
    temperatures = np.linspace(0.5, 4.0, 36)
    model.temperature = float(min(temperatures, key=lambda t: _bce(logits / t, gold)))
    probs = 1 / (1 + np.exp(-logits / model.temperature))
    grid = np.linspace(0.2, 0.8, 25)

    def thresholds(p: np.ndarray) -> np.ndarray:
        # one threshold for every issue (the probabilities are calibrated): a threshold per issue fitted to a
        # few dozen dev positives lands wherever two or three statements happen to sit, and moved by 0.1-0.3
        # between seeds; the shared one scores as well on the test split and real text
        shared = max(grid, key=lambda t: (np.mean([_f1_at(p[:, j], gold[:, j], t) for j in range(k)]), -abs(t - 0.5)))
        return np.full(k, shared)

    if model.lexical is not None:
        words = model.lexical.issue_probs([r["text"] for r in dev_rows])

        def macro_f1(weight: float) -> float:
            p = mix_probs(probs, words, weight)
            return float(np.mean([_f1_at(p[:, j], gold[:, j], t) for j, t in enumerate(thresholds(p))]))

        model.lexical.blend["issues"] = _best_weight(macro_f1)
        probs = mix_probs(probs, words, model.lexical.blend["issues"])
        # the balanced word models overstate positives: Platt scaling makes the blend a probability again
        model.issue_scaling = _platt(probs, gold)
        probs = platt_scale(probs, model.issue_scaling)
    model.thresholds = thresholds(probs)
    similarity = feats["similarity"][:, :k].numpy()
    sims = np.linspace(0.1, 0.7, 61)
    zero_shot = float(max(sims, key=lambda t: np.mean([_f1_at(similarity[:, j], gold[:, j], t) for j in range(k)])))
    model.zero_shot_threshold = zero_shot
    model.maximalism_temperature = _maximalism_temperature(model, dev_rows, dev_embeddings)
    if model.lexical is not None:
        _blend_pairs(model, dev_rows, dev_embeddings)
    dev_scores = model.score([r["text"] for r in dev_rows], [r.get("actor_group") for r in dev_rows], dev_embeddings)
    model.maximalism_sharpening = _maximalism_sharpening(dev_rows, dev_scores)
    model.low_confidence = _low_confidence_threshold(model, dev_rows, dev_scores)  # issues and stance: unsharpened
    model.card["calibration"] = {"temperature": model.temperature, "zero_shot_threshold": zero_shot,
                                 "thresholds": {i: float(t) for i, t in zip(model.labels, model.thresholds)},
                                 "low_confidence": model.low_confidence,
                                 "maximalism_temperature": model.maximalism_temperature,
                                 "maximalism_sharpening": model.maximalism_sharpening,
                                 "lexical_blend": dict(model.lexical.blend) if model.lexical is not None else None,
                                 "issue_scaling": list(model.issue_scaling)}
    model.extra = tuple(i for i in model.taxonomy.ids if i not in model.labels)
    model._issue_vectors = None


BLEND_GRID = np.linspace(0.0, 1.0, 11)


def _platt(probs: np.ndarray, gold: np.ndarray) -> tuple[float, float]:
    """Slope and offset on the logit that minimise the dev log loss (Platt scaling, one pair for all issues)."""
    logits = np.log(np.clip(probs, 1e-6, 1 - 1e-6) / np.clip(1 - probs, 1e-6, 1))
    grid = [(a, b) for a in np.linspace(0.25, 3.0, 45) for b in np.linspace(-3.0, 3.0, 61)]
    a, b = min(grid, key=lambda ab: _bce(ab[0] * logits + ab[1], gold))
    return float(a), float(b)


def _best_weight(objective: Callable[[float], float]) -> float:
    """The blend weight the dev objective likes best (the smaller weight on ties: heads first)."""
    return float(max(BLEND_GRID, key=lambda w: (round(objective(float(w)), 4), -w)))


def _blend_pairs(model: RedlineModel, dev_rows: Sequence[dict], embeddings: torch.Tensor) -> None:
    """Blend weights for stance and maximalism, read at the gold issues: the lowest dev log-loss. A proper
    scoring rule moves smoothly with the weight; macro-F1 over a few hundred pairs (and the neutral class's few
    dozen) jumps between neighbouring weights, and picked weights that real text did not bear out."""
    texts, groups = [r["text"] for r in dev_rows], [r.get("actor_group") for r in dev_rows]
    heads = model.score(texts, groups, embeddings)  # the stance and maximalism weights are still 0
    words_stance, words_maximalism = model.lexical.pair_probs(texts, groups)
    pairs = [(i, model.labels.index(issue), row) for i, row in enumerate(dev_rows) for issue in row["issues"]]
    if not pairs:
        return
    at = tuple(np.array(x) for x in zip(*[(i, j) for i, j, _ in pairs]))
    gold_stance = np.array([STANCES.index(row["stance"][model.labels[j]]) for _, j, row in pairs])
    gold_level = np.array([int(row["maximalism"][model.labels[j]]) for _, j, row in pairs])

    def log_likelihood(heads_probs: np.ndarray, words_probs: np.ndarray, gold: np.ndarray) -> Callable[[float], float]:
        def objective(weight: float) -> float:
            p = mix_probs(heads_probs, words_probs, weight)[np.arange(len(gold)), gold]
            return float(np.log(np.clip(p, 1e-9, 1.0)).mean())
        return objective

    model.lexical.blend["stance"] = _best_weight(log_likelihood(heads.stance_probs[at], words_stance[at], gold_stance))
    model.lexical.blend["maximalism"] = _best_weight(log_likelihood(heads.maximalism_probs[at],
                                                                    words_maximalism[at], gold_level))


def _maximalism_temperature(model: RedlineModel, dev_rows: Sequence[dict], embeddings: torch.Tensor) -> float:
    """A temperature for the maximalism head that minimises the dev MAE of its expected value
    (the expected value of a soft distribution drifts towards the middle of the scale)."""
    pairs = _gold_levels(dev_rows, model.labels)
    if not pairs:
        return 1.0
    feats = model.features([r["text"] for r in dev_rows], embeddings)
    rows = torch.tensor([p[0] for p in pairs])
    onehot = nn.functional.one_hot(torch.tensor([p[1] for p in pairs]), len(model.labels)).float()
    with torch.inference_mode():
        _, logits = model.heads.pair_logits(feats["h"][rows], onehot, model.group_onehot([None] * len(pairs)),
                                            feats["cues"][rows])
    return _least_mae(np.linspace(0.3, 1.5, 13), lambda t: torch.softmax(logits / t, -1).numpy() @ np.arange(4),
                      pairs)


def _maximalism_sharpening(dev_rows: Sequence[dict], scores) -> float:
    """The sharpening (classify.sharpen) of the final maximalism distribution, after the blend with the word
    models, that minimises the dev MAE of its expected value (`scores`: the dev rows' scores before it): the
    heads' own temperature is fitted before the blend, and blending with the softer word-model distribution
    drew the expected value back to the middle."""
    pairs = _gold_levels(dev_rows, scores.issues)
    if not pairs:
        return 1.0
    dists = np.stack([scores.maximalism_probs[i, j] for i, j, _ in pairs])
    levels = np.asarray(MAXIMALISM_LEVELS, dtype=float)
    return _least_mae(np.linspace(0.1, 1.0, 19), lambda t: sharpen(dists, t) @ levels, pairs)


def _gold_levels(dev_rows: Sequence[dict], labels: Sequence[str]) -> list[tuple[int, int, int]]:
    """(row, label index, gold maximalism) for every gold issue of the dev rows."""
    return [(i, list(labels).index(issue), row["maximalism"][issue])
            for i, row in enumerate(dev_rows) for issue in row["issues"]]


def _least_mae(grid, expected, pairs: Sequence[tuple[int, int, int]]) -> float:
    """The temperature of `grid` whose `expected(t)` (one value per pair) is nearest the pairs' gold levels in
    mean absolute error (to four places; a tie goes to the value nearer 1, the distribution left as it is)."""
    gold = np.array([level for _, _, level in pairs], dtype=float)
    return float(min(grid, key=lambda t: (round(float(np.abs(expected(t) - gold).mean()), 4), abs(t - 1))))


def _low_confidence_threshold(model: RedlineModel, dev_rows: Sequence[dict], scores, wrong_share: float = 0.5,
                              minimum: int = 5) -> float:
    """The highest score (issue probability × stance probability) below which dev predictions are wrong
    (wrong issue or wrong stance) more often than `wrong_share`; predictions under it are `low_confidence`."""
    chosen = model.decide(scores)
    graded = []
    for i, row in enumerate(dev_rows):
        for j in np.flatnonzero(chosen[i]):
            issue = scores.issues[j]
            stance = STANCES[int(scores.stance_probs[i, j].argmax())]
            right = issue in row["issues"] and row["stance"][issue] == stance
            graded.append((float(scores.issue_probs[i, j] * scores.stance_probs[i, j].max()), right))
    best = 0.0
    for threshold in np.linspace(0.05, 0.6, 12):
        below = [right for score, right in graded if score < threshold]
        if len(below) >= minimum and 1 - sum(below) / len(below) > wrong_share:
            best = float(threshold)
    return best


def _bce(logits: np.ndarray, gold: np.ndarray) -> float:
    probs = np.clip(1 / (1 + np.exp(-logits)), 1e-7, 1 - 1e-7)
    return float(-(gold * np.log(probs) + (1 - gold) * np.log(1 - probs)).mean())


def _f1_at(scores: np.ndarray, gold: np.ndarray, threshold: float) -> float:
    predicted = scores >= threshold
    tp = float((predicted & (gold > 0)).sum())
    fp = float((predicted & (gold == 0)).sum())
    fn = float((~predicted & (gold > 0)).sum())
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


# --- the card -----------------------------------------------------------------------------------


def _card(config: TrainingConfig, taxonomy: Taxonomy, labels, groups, rows, splits, encoder: Encoder) -> dict:
    versions = {}
    for package in ("torch", "transformers", "spacy", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    try:
        versions["redline"] = metadata.version("redline")
    except metadata.PackageNotFoundError:
        pass
    reduced = taxonomy.model_copy(update={"issues": tuple(i for i in taxonomy.issues if i.id in labels)})
    return {
        "name": config.name, "mode": config.mode, "fingerprint": "",
        "labels": {"issues": list(labels), "stances": list(STANCES), "maximalism": [0, 1, 2, 3],
                   "groups": list(groups)},
        "taxonomy": taxonomy.name, "taxonomy_hash": reduced.content_hash(),
        "corpus": {"paths": list(config.corpus), "hash": corpus_hash(rows),
                   "sizes": {s: len(v) for s, v in splits.items()}},
        "encoder": {"name": config.encoder, "max_length": config.max_length, "lora_rank": 0, "lora_alpha": 0,
                    "layers": list(config.maximalism_layers)},
        "heads": {"hidden": config.hidden, "dropout": config.dropout, "members": config.ensemble},
        "config": json.loads(config.model_dump_json()), "versions": versions,
        "calibration": {"temperature": 1.0, "thresholds": {i: 0.5 for i in labels}},
        "metrics": {},
    }


def _fingerprint(model: RedlineModel) -> str:
    digest = hashlib.sha256()
    for key, value in sorted(model.heads.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().cpu().numpy().tobytes())
    for key, value in sorted(model.encoder.lora_state().items()):
        digest.update(key.encode())
        digest.update(value.numpy().tobytes())
    digest.update(model.encoder.tuned.encode())
    if model.lexical is not None:
        for linear in (model.lexical.issue, model.lexical.stance, model.lexical.maximalism):
            digest.update(np.asarray(linear.coef, dtype=np.float32).tobytes())
    digest.update(json.dumps(model.card["calibration"], sort_keys=True).encode())
    return digest.hexdigest()[:12]


def config_yaml(config: TrainingConfig) -> str:
    return yaml.safe_dump(json.loads(config.model_dump_json()), sort_keys=False)
