"""Classify: statements → issues (multi-label), stance and maximalism per issue, with calibrated confidence.

One encoder pass per statement feeds three heads. Stance is conditioned on the issue and on the holder's
group (attribution found it); maximalism on the issue and the wording (cue features, and where the config
names `maximalism_layers` the pooled states of earlier encoder layers of the same pass), not the holder; its
distribution, blended with the word models', is sharpened to the dev MAE of its expected value (`sharpen`).
`RedlineModel.score(...)` only computes; `predictions_for(...)` builds `Prediction` records from scores.
A statement about two or more issues that sit in different clauses ("X is a red line for us, but we do not
object to Y") gets each issue's stance and maximalism from the clause most about it (`clause_readings`).
A model is a folder: `card.json`, `config.yaml`, `taxonomy.yaml`, `heads.safetensors` (+ `adapter.safetensors`
after fine-tuning, + `lexical.safetensors`/`lexical.json`: word n-gram models blended with the heads, see lexical.py;
+ `doubt.safetensors`: the annotation loop's learned doubt, see doubt.py). Issues that are only in the taxonomy are detected by similarity to their description
and examples, and marked `zero_shot`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .config import MAXIMALISM_LEVELS, STANCES, Taxonomy, load_taxonomy
from .cues import CUES, cue_counts
from .doubt import DOUBT_WEIGHTS, LearnedDoubt
from .encoder import Encoder, load_lora, load_weights, save_weights
from .errors import ModelError
from .lexical import VOCABULARY as LEXICAL_VOCABULARY
from .lexical import WEIGHTS as LEXICAL_WEIGHTS
from .lexical import Lexical
from .records import Prediction, Statement

CARD = "card.json"
HEADS = "heads.safetensors"
ADAPTER = "adapter.safetensors"
ENCODER_WEIGHTS = "encoder.safetensors"  # a fully fine-tuned encoder (lora_rank 0)
TAXONOMY = "taxonomy.yaml"
CONFIG = "config.yaml"
# The spread of each standardised earlier-layer input of the maximalism head: about that of one coordinate of
# the last layer's unit vector (0.044 on the corpus), so that neither part of its input drowns the other
LAYER_SPREAD = 0.05

def cue_features(texts: Sequence[str]) -> torch.Tensor:
    """Counts of each cue family per text (log-scaled), shape (n, len(CUES))."""
    return torch.tensor(cue_counts(texts), dtype=torch.float32)


def keyword_features(texts: Sequence[str], taxonomy: Taxonomy, issues: Sequence[str]) -> torch.Tensor:
    """Whether each issue's keywords occur in each text (log count), shape (n, len(issues))."""
    patterns = [re.compile("|".join(rf"\b{re.escape(k.lower())}" for k in taxonomy.issue(i).keywords) or r"(?!)")
                for i in issues]
    return torch.tensor([[np.log1p(len(p.findall(t.lower()))) for p in patterns] for t in texts],
                        dtype=torch.float32)


# Joins between clauses that can carry different demands on different issues.
CLAUSE_BREAK = re.compile(r";\s+|,\s+(?:but|while|whereas|although|though|yet)\s+(?:also\s+)?|\s+but\s+(?:also\s+)?"
                          r"|\s+whereas\s+", re.I)
MIN_CLAUSE_WORDS = 4


def issue_clauses(text: str) -> list[str]:
    """The clauses of `text` at the joins of CLAUSE_BREAK (the joining words dropped); a piece under
    MIN_CLAUSE_WORDS words stays with its neighbour, as written ("For example, while in X, ..." is no clause)."""
    cuts = [(m.start(), m.end()) for m in CLAUSE_BREAK.finditer(text)]
    spans = [(start, end) for start, end in zip([0, *(e for _, e in cuts)], [*(s for s, _ in cuts), len(text)])
             if text[start:end].strip()]
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and len(text[merged[-1][0]:merged[-1][1]].split()) < MIN_CLAUSE_WORDS:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    if len(merged) > 1 and len(text[merged[-1][0]:merged[-1][1]].split()) < MIN_CLAUSE_WORDS:
        merged[-2:] = [(merged[-2][0], merged[-1][1])]
    return [text[start:end].strip() for start, end in merged]


class Heads(nn.Module):
    """Three heads over one sentence embedding. With `layer_width` > 0 the embedding carries the pooled states
    of earlier encoder layers after its first `dim` columns (`Encoder.layers`); only the maximalism head reads
    them, standardised by the training rows' mean and spread (`standardise`): they share one direction across
    sentences that would otherwise drown what tells one sentence's wording from another's."""

    def __init__(self, dim: int, n_issues: int, n_groups: int, n_cues: int, hidden: int = 256,
                 dropout: float = 0.1, layer_width: int = 0):
        super().__init__()
        self.n_issues, self.n_groups, self.dim, self.layer_width = n_issues, n_groups, dim, layer_width

        def mlp(inputs: int, outputs: int) -> nn.Sequential:
            return nn.Sequential(nn.Dropout(dropout), nn.Linear(inputs, hidden), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, outputs))

        self.issue = mlp(dim + 2 * n_issues + n_cues, n_issues)
        self.stance = mlp(dim + n_issues + n_groups + n_cues, len(STANCES))
        self.maximalism = mlp(dim + layer_width + n_issues + n_cues, len(MAXIMALISM_LEVELS))
        if layer_width:
            self.register_buffer("layer_mean", torch.zeros(layer_width))
            self.register_buffer("layer_scale", torch.ones(layer_width))

    def standardise(self, embeddings: torch.Tensor) -> None:
        """Fit the earlier layers' standardisation to the training rows' embeddings (before training)."""
        if self.layer_width:
            layers = embeddings[:, self.dim:]
            self.layer_mean.copy_(layers.mean(0))
            self.layer_scale.copy_(layers.std(0).clamp(min=1e-3) / LAYER_SPREAD)

    def _wording(self, h):
        """What the maximalism head reads: the last layer's vector, then the standardised earlier layers."""
        if not self.layer_width:
            return h[:, :self.dim]
        return torch.cat([h[:, :self.dim], (h[:, self.dim:] - self.layer_mean) / self.layer_scale], dim=-1)

    def issue_logits(self, h, keywords, similarity, cues):
        return self.issue(torch.cat([h[:, :self.dim], keywords, similarity, cues], dim=-1))

    def pair_logits(self, h, issue_onehot, group_onehot, cues):
        stance = self.stance(torch.cat([h[:, :self.dim], issue_onehot, group_onehot, cues], dim=-1))
        wording = self._wording(h)
        maximalism = self.maximalism(torch.cat([wording, issue_onehot, cues], dim=-1))
        return stance, maximalism

    def all_pair_logits(self, h, group_onehot, cues, extra: int = 0):
        """Stance (n, issues + extra, 3) and maximalism (n, issues + extra, 4) logits of every statement
        and issue at once, in eval mode; an `extra` issue has no one-hot column (a taxonomy-only issue).
        The same numbers as `pair_logits` per issue: the first layer's product with the statement's own
        inputs is taken once, and each issue adds its one-hot weight column to it."""
        wording = self._wording(h)
        return (_per_issue(self.stance, [h[:, :self.dim], group_onehot, cues], self.dim, self.n_issues, extra),
                _per_issue(self.maximalism, [wording, cues], wording.shape[1], self.n_issues, extra))


def _per_issue(mlp: nn.Sequential, inputs: list, at: int, n_issues: int, extra: int) -> torch.Tensor:
    """`mlp` (dropout, linear, GELU, dropout, linear; eval mode) over every issue's one-hot, which sits in
    its input at column `at`, between `inputs[0]` and the rest."""
    first, last = mlp[1], mlp[4]
    weight = first.weight
    own = torch.cat([weight[:, :at], weight[:, at + n_issues:]], dim=1)
    base = torch.cat(inputs, dim=-1) @ own.T + first.bias  # (n, hidden)
    columns = torch.cat([weight[:, at:at + n_issues].T, weight.new_zeros(extra, weight.shape[0])])
    return last(mlp[2](base[:, None, :] + columns[None, :, :]))


class HeadsEnsemble(nn.Module):
    """Heads trained from different seeds; a statement's logits are the members' mean. One set of heads over
    a few thousand written statements moves with its seed (a few points of stance macro-F1 on real text); the
    mean moves less, and costs nothing next to the encoder pass."""

    def __init__(self, members: Sequence[Heads]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def issue_logits(self, h, keywords, similarity, cues):
        return torch.stack([m.issue_logits(h, keywords, similarity, cues) for m in self.members]).mean(0)

    def pair_logits(self, h, issue_onehot, group_onehot, cues):
        return _mean_pairs([m.pair_logits(h, issue_onehot, group_onehot, cues) for m in self.members])

    def all_pair_logits(self, h, group_onehot, cues, extra: int = 0):
        return _mean_pairs([m.all_pair_logits(h, group_onehot, cues, extra) for m in self.members])

    def standardise(self, embeddings: torch.Tensor) -> None:
        for member in self.members:
            member.standardise(embeddings)


def _mean_pairs(pairs: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """The members' mean stance logits and mean maximalism logits."""
    return torch.stack([s for s, _ in pairs]).mean(0), torch.stack([m for _, m in pairs]).mean(0)


def build_heads(dim: int, n_issues: int, n_groups: int, hidden: int, dropout: float,
                members: int = 1, layer_width: int = 0) -> Heads | HeadsEnsemble:
    """The heads of a model: one set, or an ensemble of `members` sets with averaged logits; `layer_width`:
    the width of the earlier layers' vectors after the last layer's (`Encoder.layers`)."""
    if members == 1:
        return Heads(dim, n_issues, n_groups, len(CUES), hidden, dropout, layer_width)
    return HeadsEnsemble([Heads(dim, n_issues, n_groups, len(CUES), hidden, dropout, layer_width)
                          for _ in range(members)])


@dataclass
class Scores:
    """What the model computed for a batch of statements (numpy arrays), before any record is built."""

    issue_probs: np.ndarray  # (n, issues)
    stance_probs: np.ndarray  # (n, issues, 3)
    maximalism_probs: np.ndarray  # (n, issues, 4)
    issues: tuple[str, ...]
    zero_shot: tuple[bool, ...]


class RedlineModel:
    """A trained Redline model: an encoder (frozen, or with adapters) and the three heads."""

    def __init__(self, encoder: Encoder, heads: Heads, card: dict, taxonomy: Taxonomy, path: Path | None = None,
                 lexical: Lexical | None = None):
        self.encoder, self.heads, self.card, self.taxonomy, self.path = encoder, heads, card, taxonomy, path
        self.lexical = lexical
        self.labels: tuple[str, ...] = tuple(card["labels"]["issues"])
        self.groups: tuple[str, ...] = tuple(card["labels"]["groups"])
        self.thresholds = np.array([card["calibration"]["thresholds"][i] for i in self.labels])
        self.temperature = float(card["calibration"]["temperature"])
        self.zero_shot_threshold = float(card["calibration"].get("zero_shot_threshold", 0.5))
        self.low_confidence = float(card["calibration"].get("low_confidence", 0.0))
        self.maximalism_temperature = float(card["calibration"].get("maximalism_temperature", 1.0))
        self.maximalism_sharpening = float(card["calibration"].get("maximalism_sharpening", 1.0))
        self.issue_scaling = tuple(card["calibration"].get("issue_scaling") or (1.0, 0.0))
        self.extra = tuple(i for i in taxonomy.ids if i not in self.labels)
        self._issue_vectors: torch.Tensor | None = None
        self.clause_readings = True  # see _read_clauses; False reads every issue from the whole statement
        self.learned_doubt: LearnedDoubt | None = None  # the annotation loop's doubt, where fitted (doubt.py)

    def scores_issues(self) -> tuple[str, ...]:
        """Every issue this model scores: its trained labels, then taxonomy-only (zero-shot) issues."""
        return (*self.labels, *self.extra)

    @property
    def model_id(self) -> str:
        return f"{self.card['name']}@{self.card['fingerprint']}"

    # --- loading and saving ---------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path, taxonomy: Taxonomy | str | Path | None = None,
             device: str | None = None) -> RedlineModel:
        """Load a model folder; refuse a missing or corrupt file and a taxonomy that contradicts its labels."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        path = Path(path)
        card_path = path / CARD
        if not card_path.exists():
            raise ModelError(f"{path}: not a Redline model (no {CARD}); train one with `redline train`")
        try:
            card = json.loads(card_path.read_text(encoding="utf-8"))
        except ValueError as e:
            raise ModelError(f"{card_path}: corrupt model card: {e}") from e
        own = load_taxonomy(path / TAXONOMY)
        if own.content_hash() != card["taxonomy_hash"]:
            raise ModelError(f"{path}: {TAXONOMY} does not match the card's taxonomy hash "
                             f"({own.content_hash()} vs {card['taxonomy_hash']}); the folder was edited or mixed")
        taxonomy = _check_taxonomy(own, taxonomy, card, path)
        encoder = Encoder(card["encoder"]["name"], card["encoder"]["max_length"], device=device,
                          layers=card["encoder"].get("layers", ()))
        if card["encoder"].get("lora_rank"):
            _require(path / ADAPTER)
            try:
                load_lora(encoder, path / ADAPTER, card["encoder"]["lora_rank"], card["encoder"]["lora_alpha"])
            except SafetensorError as e:
                raise ModelError(f"{path / ADAPTER}: corrupt adapter weights: {e}") from e
        elif card["encoder"].get("weights") == ENCODER_WEIGHTS:
            _require(path / ENCODER_WEIGHTS)
            try:
                load_weights(encoder, path / ENCODER_WEIGHTS)
            except SafetensorError as e:
                raise ModelError(f"{path / ENCODER_WEIGHTS}: corrupt encoder weights: {e}") from e
        heads = build_heads(encoder.dim, len(card["labels"]["issues"]), len(card["labels"]["groups"]),
                            card["heads"]["hidden"], card["heads"]["dropout"], card["heads"].get("members", 1),
                            encoder.width - encoder.dim)
        _require(path / HEADS)
        try:
            state = load_file(str(path / HEADS))
            heads.load_state_dict(state)
        except (SafetensorError, RuntimeError) as e:
            raise ModelError(f"{path / HEADS}: corrupt or mismatched head weights: {e}") from e
        heads.to(encoder.device_).eval()
        lexical = Lexical.load(path)
        if lexical is not None and lexical.labels != tuple(card["labels"]["issues"]):
            raise ModelError(f"{path}: the lexical model's issues {list(lexical.labels)} differ from the card's "
                             f"{card['labels']['issues']}; the folder was edited or mixed")
        model = cls(encoder, heads, card, taxonomy, path, lexical)
        model.learned_doubt = LearnedDoubt.load(path)
        if model.learned_doubt is not None and card.get("doubt", {}).get("model_id") != model.model_id:
            raise ModelError(f"{path / DOUBT_WEIGHTS} was fitted for {card.get('doubt', {}).get('model_id')}, "
                             f"not {model.model_id}; the folder was edited or mixed (refit it with "
                             "`redline annotate fit-doubt`)")
        return model

    def save(self, path: str | Path, config_yaml: str = "") -> None:
        from safetensors.torch import save_file

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().cpu().contiguous() for k, v in self.heads.state_dict().items()}, str(path / HEADS))
        if self.encoder.lora_rank:
            save_file({k: v.contiguous() for k, v in self.encoder.lora_state().items()}, str(path / ADAPTER))
        if self.encoder.tuned:
            save_weights(self.encoder, path / ENCODER_WEIGHTS)
            self.card["encoder"]["weights"] = ENCODER_WEIGHTS
        else:  # a model saved over a folder must not pick up the old folder's fine-tuned encoder
            (path / ENCODER_WEIGHTS).unlink(missing_ok=True)
            self.card["encoder"].pop("weights", None)
        fitted_here = self.card.get("doubt", {}).get("model_id") == self.model_id
        if self.learned_doubt is not None and fitted_here:
            self.learned_doubt.save(path)
        else:  # a retrained model must not pick up the doubt fitted for the folder's old one
            (path / DOUBT_WEIGHTS).unlink(missing_ok=True)
            if not fitted_here or self.card["doubt"].get("kept"):
                self.card.pop("doubt", None)
        if self.lexical is not None:
            self.lexical.save(path)
        else:  # a heads-only model saved over a folder must not pick up the old folder's word models
            for name in (LEXICAL_WEIGHTS, LEXICAL_VOCABULARY):
                (path / name).unlink(missing_ok=True)
        (path / TAXONOMY).write_text(_taxonomy_yaml(self.taxonomy, self.labels), encoding="utf-8")
        (path / CONFIG).write_text(config_yaml, encoding="utf-8")
        (path / CARD).write_text(json.dumps(self.card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        (path / "README.md").write_text(model_readme(self.card), encoding="utf-8")
        self.path = path

    # --- scoring --------------------------------------------------------------------------------

    def group_onehot(self, groups: Sequence[str | None]) -> torch.Tensor:
        index = {g: i for i, g in enumerate(self.groups)}
        fallback = index.get("other", 0)
        onehot = torch.zeros(len(groups), len(self.groups))
        for row, group in enumerate(groups):
            onehot[row, index.get(group or "other", fallback)] = 1.0
        return onehot

    def issue_vectors(self) -> torch.Tensor:
        """One embedding per taxonomy issue: mean of its description and examples (for similarity)."""
        if self._issue_vectors is None:
            vectors = []
            for issue_id in (*self.labels, *self.extra):
                issue = self.taxonomy.issue(issue_id)
                texts = [f"{issue.proposition}. {issue.description}", *issue.examples]
                last = self.encoder.last_layer(self.encoder.encode(texts))
                vectors.append(nn.functional.normalize(last.mean(0), dim=0))
            self._issue_vectors = torch.stack(vectors)
        return self._issue_vectors

    def features(self, texts: Sequence[str], embeddings: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        h = self.encoder.encode(texts) if embeddings is None else embeddings
        similarity = self.encoder.last_layer(h) @ self.issue_vectors().T
        return {"h": h, "cues": cue_features(texts), "similarity": similarity,
                "keywords": keyword_features(texts, self.taxonomy, (*self.labels, *self.extra))}

    @torch.inference_mode()
    def score(self, texts: Sequence[str], groups: Sequence[str | None], embeddings: torch.Tensor | None = None,
              batch_size: int = 256, clauses: bool = True) -> Scores:
        """Issue probabilities, and stance and maximalism distributions for every (statement, issue)."""
        self.heads.eval()
        feats = self.features(texts, embeddings)
        k = len(self.labels)
        known = slice(0, k)
        logits = self.heads.issue_logits(feats["h"], feats["keywords"][:, known], feats["similarity"][:, known],
                                         feats["cues"])
        issue_probs = torch.sigmoid(logits / self.temperature).numpy()
        lexical = self.lexical if self.lexical is not None and any(self.lexical.blend.values()) else None
        if lexical is not None:
            lexical_issues, lexical_stance, lexical_maximalism = lexical.probs(texts, groups,
                                                                               feats["cues"].numpy())
            issue_probs = platt_scale(mix_probs(issue_probs, lexical_issues, lexical.blend["issues"]),
                                      self.issue_scaling)
        all_issues = (*self.labels, *self.extra)
        if self.extra:  # taxonomy-only issues: similarity to the issue's description and examples
            similarity = feats["similarity"][:, k:].numpy()
            zero = 1 / (1 + np.exp(-(similarity - self.zero_shot_threshold) * 20))
            issue_probs = np.concatenate([issue_probs, zero], axis=1)
        s, m = self.heads.all_pair_logits(feats["h"], self.group_onehot(groups), feats["cues"], len(self.extra))
        stance = torch.softmax(s, -1).numpy()
        maximalism = torch.softmax(m / self.maximalism_temperature, -1).numpy()
        if lexical is not None:
            stance[:, :k] = mix_probs(stance[:, :k], lexical_stance, lexical.blend["stance"])
            maximalism[:, :k] = mix_probs(maximalism[:, :k], lexical_maximalism, lexical.blend["maximalism"])
        maximalism = sharpen(maximalism, self.maximalism_sharpening)
        zero_shot = tuple(j >= k for j in range(len(all_issues)))
        scores = Scores(issue_probs, stance, maximalism, all_issues, zero_shot)
        if clauses and self.clause_readings:
            self._read_clauses(texts, groups, scores)
        return scores

    def _read_clauses(self, texts: Sequence[str], groups: Sequence[str | None], scores: Scores) -> None:
        """Where a statement's issues sit in different clauses, read each issue's stance and maximalism from
        the clause with its highest issue probability (in place). A sentence-level reading would average a red
        line on one issue with a concession on another."""
        chosen = self.decide(scores)
        split = [(i, parts) for i in np.flatnonzero(chosen.sum(axis=1) >= 2)
                 if len(parts := issue_clauses(texts[i])) >= 2]
        if not split:
            return
        clause_scores = self.score([c for _, parts in split for c in parts],
                                   [groups[i] for i, parts in split for _ in parts], clauses=False)
        first = 0
        for i, parts in split:
            rows = np.arange(first, first + len(parts))
            first += len(parts)
            issues = np.flatnonzero(chosen[i])
            best = {j: rows[int(clause_scores.issue_probs[rows, j].argmax())] for j in issues}
            if len(set(best.values())) < 2:
                continue  # every issue is read from the same clause: the whole statement holds
            for j, row in best.items():
                scores.stance_probs[i, j] = clause_scores.stance_probs[row, j]
                scores.maximalism_probs[i, j] = clause_scores.maximalism_probs[row, j]

    def issue_thresholds(self) -> np.ndarray:
        """The probability above which each scored issue is chosen (taxonomy-only issues: 0.5)."""
        return np.concatenate([np.asarray(self.thresholds, dtype=float), np.full(len(self.extra), 0.5)])

    def decide(self, scores: Scores) -> np.ndarray:
        """Which issues each statement is about: probability above the issue's calibrated threshold."""
        return scores.issue_probs >= self.issue_thresholds()[None, :]

    # --- records --------------------------------------------------------------------------------

    def predict_statements(self, statements: Sequence[Statement], batch_size: int = 512) -> list[Prediction]:
        predictions: list[Prediction] = []
        for start in range(0, len(statements), batch_size):
            batch = statements[start:start + batch_size]
            scores = self.score([s.text for s in batch], [s.actor_group for s in batch])
            predictions.extend(self.predictions_for([s.id for s in batch], [s.text for s in batch], scores))
        return predictions

    def predictions_for(self, ids: Sequence[str], texts: Sequence[str], scores: Scores) -> list[Prediction]:
        chosen = self.decide(scores)
        predictions = []
        for row, statement_id in enumerate(ids):
            targets = tuple(find_targets(texts[row], self.taxonomy))
            for j in np.flatnonzero(chosen[row]):
                dist = scores.maximalism_probs[row, j]
                stance_dist = scores.stance_probs[row, j]
                confidence = float(scores.issue_probs[row, j])
                predictions.append(Prediction(
                    statement_id=statement_id, model_id=self.model_id, issue=scores.issues[j],
                    stance=STANCES[int(stance_dist.argmax())],
                    maximalism=float(np.dot(dist, MAXIMALISM_LEVELS)),
                    maximalism_dist=tuple(float(x) for x in dist), confidence=confidence,
                    stance_confidence=float(stance_dist.max()), zero_shot=scores.zero_shot[j],
                    low_confidence=confidence * float(stance_dist.max()) < self.low_confidence,
                    targets=targets))
        return predictions

    def tag(self, texts: str | Sequence[str], groups: Sequence[str | None] | None = None) -> list[dict]:
        """Tag raw text: one dict per text with issues, stance, maximalism, confidence, targets."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        groups = list(groups) if groups is not None else [None] * len(texts)
        if len(groups) != len(texts):
            raise ValueError(f"tag: {len(texts)} texts but {len(groups)} groups; give one holder group per text "
                             "(None where unknown)")
        if not texts:
            return []
        scores = self.score(texts, groups)
        rows = []
        for i, text in enumerate(texts):
            preds = self.predictions_for([str(i)], [text], Scores(
                scores.issue_probs[i:i + 1], scores.stance_probs[i:i + 1], scores.maximalism_probs[i:i + 1],
                scores.issues, scores.zero_shot))
            rows.append({"text": text, "issues": [p.issue for p in preds],
                         "stance": {p.issue: p.stance for p in preds},
                         "maximalism": {p.issue: round(p.maximalism, 3) for p in preds},
                         "confidence": {p.issue: round(p.confidence, 3) for p in preds},
                         "zero_shot": [p.issue for p in preds if p.zero_shot],
                         "targets": list(find_targets(text, self.taxonomy))})
        return rows


def mix_probs(heads: np.ndarray, lexical: np.ndarray, weight: float) -> np.ndarray:
    """The blend of the heads' and the word models' probabilities (weight 0: heads only)."""
    return ((1 - weight) * heads + weight * lexical).astype(np.float32)


def sharpen(probs: np.ndarray, temperature: float) -> np.ndarray:
    """p^(1/T), renormalised over the last axis: T < 1 moves a distribution's mass towards its mode (T = 1:
    unchanged). A blend of two soft distributions has an expected value drawn to the middle of the scale."""
    if temperature == 1.0:
        return probs
    scaled = np.log(np.clip(probs, 1e-12, 1.0)) / temperature
    scaled = np.exp(scaled - scaled.max(axis=-1, keepdims=True))
    return (scaled / scaled.sum(axis=-1, keepdims=True)).astype(np.float32)


def logit(probs: np.ndarray) -> np.ndarray:
    """log(p / (1 − p)), with p kept a millionth away from 0 and 1."""
    return np.log(np.clip(probs, 1e-6, 1 - 1e-6) / np.clip(1 - probs, 1e-6, 1))


def platt_scale(probs: np.ndarray, scaling: Sequence[float]) -> np.ndarray:
    """sigmoid(a · logit(p) + b): the dev-fitted map from blended scores to calibrated probabilities."""
    a, b = scaling
    if (a, b) == (1.0, 0.0):
        return probs
    return (1 / (1 + np.exp(-(a * logit(probs) + b)))).astype(np.float32)


def _require(path: Path) -> None:
    if not path.exists():
        raise ModelError(f"{path} is missing; the model folder is incomplete (retrain it or copy it whole)")


def _check_taxonomy(own: Taxonomy, wanted: Taxonomy | str | Path | None, card: dict, path: Path) -> Taxonomy:
    """The taxonomy to use: the model's own, or a configured one that contains every label it was trained on."""
    if wanted is None:
        return own
    wanted = wanted if isinstance(wanted, Taxonomy) else load_taxonomy(wanted)
    missing = [i for i in card["labels"]["issues"] if i not in wanted.ids]
    if missing:
        raise ModelError(f"{path} was trained on issues {missing} that the taxonomy '{wanted.name}' does not have "
                         f"(it has {list(wanted.ids)}); use the taxonomy the model was trained with, or retrain")
    return wanted


def _taxonomy_yaml(taxonomy: Taxonomy, labels: Sequence[str]) -> str:
    import yaml

    data = taxonomy.model_dump(mode="json", exclude_none=True)
    data["issues"] = [i for i in data["issues"] if i["id"] in labels]
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)


# --- targets ------------------------------------------------------------------------------------

_TARGET_CACHE: dict[Path | None, tuple[re.Pattern | None, list[tuple[str, re.Pattern]]]] = {}


def find_targets(text: str, taxonomy: Taxonomy) -> list[str]:
    """Places and objects a statement names, normalised through the taxonomy's targets dictionary (configs/).
    Where one target's name sits inside a longer name of another ("<region> nuclear power plant"), only the
    longer counts."""
    from .config import load_targets

    path = taxonomy.targets_path
    if path not in _TARGET_CACHE:
        patterns = [] if path is None else [
            (name, "|".join(rf"\b{re.escape(a)}\b" for a in sorted(aliases, key=len, reverse=True)))
            for name, aliases in load_targets(path).items()]
        # one search over every alias first: most statements name no target and cost one pass, not one per name
        _TARGET_CACHE[path] = (re.compile("|".join(p for _, p in patterns if p), re.I) if patterns else None,
                               [(name, re.compile(p, re.I)) for name, p in patterns])
    any_target, patterns = _TARGET_CACHE[path]
    if any_target is None or not any_target.search(text):
        return []
    matches = [(m.start(), m.end(), name) for name, pattern in patterns for m in pattern.finditer(text)]
    inside = {(start, end, name) for start, end, name in matches
              for s, e, other in matches if other != name and s <= start and end <= e and (e - s) > (end - start)}
    found = []
    for start, end, name in sorted(matches):
        if (start, end, name) not in inside and name not in found:
            found.append(name)
    return found


def _tuning(encoder: dict) -> str:
    layers = encoder.get("layers")
    pooled = f"; the maximalism head also reads its layer{'s' if len(layers or ()) > 1 else ''} " \
             f"{', '.join(map(str, layers))}, mean-pooled" if layers else ""
    if encoder.get("lora_rank"):
        return f" with LoRA adapters (rank {encoder['lora_rank']}){pooled}"
    if encoder.get("weights"):
        return f", fully fine-tuned (weights in `{encoder['weights']}`){pooled}"
    return pooled


def model_readme(card: dict) -> str:
    """The model folder's README: what it is for, its labels, how it was trained and what it scores."""
    metrics = card.get("metrics", {})
    lines = [f"# Redline model `{card['name']}`", "",
             f"Mode `{card['mode']}` over the encoder `{card['encoder']['name']}`"
             f"{_tuning(card['encoder'])}.",
             "", "## Intended use",
             "Tagging statements about the issues below with stance and maximalism (0–3), as defined in the "
             "annotation scheme; input is one sentence or clause with the holder's group from attribution.",
             "", f"Issues: {', '.join(card['labels']['issues'])}.", f"Holder groups: {', '.join(card['labels']['groups'])}.",
             "", "## Training data",
             f"Corpus hash `{card['corpus']['hash']}`: {card['corpus']['sizes']} statements per split "
             f"(taxonomy hash `{card['taxonomy_hash']}`).", "", "## Metrics", ""]
    for split, values in metrics.items():
        if not values:
            continue
        lines.append(f"- **{split}**: issues macro-F1 {values['issues']['macro_f1']:.3f}, stance macro-F1 "
                     f"{values['stance']['macro_f1']:.3f}, maximalism MAE {values['maximalism']['mae']:.3f}, "
                     f"within-1 {values['maximalism']['within_1']:.3f} (n={values['n']})")
    if card.get("doubt"):
        doubt, check = card["doubt"], card["doubt"]["check"]
        found = (f"{doubt['rows']} readings of {doubt['folds']} fold models, each reading rows it was not "
                 f"trained on ({doubt['error_rate']:.1%} wrong); on held-out folds its most doubtful "
                 f"{check['top']} readings held {check['learned']:.1%} errors, the formula's {check['formula']:.1%}")
        lines += ["", "## Annotation doubt",
                  f"`redline annotate export --strategy uncertainty` ranks by a doubt learned from {found} "
                  "(`redline annotate fit-doubt`, doubt.safetensors)." if doubt["kept"] else
                  f"A doubt learned from {found}, so `redline annotate export --strategy uncertainty` ranks by the "
                  "formula (the model's own probabilities)."]
    lines += ["", "## Caveats",
              "The corpus was written for the project in the voices of real actors; figures on it are an upper "
              "bound. Figures on real statements (real-dev) are what users get; see benchmarks/RESULTS.md.",
              "Stance uses the holder's group: a wrong attribution can flip a stance.", ""]
    return "\n".join(lines)
