"""Annotate, first half: pick the statements worth a person's time and write them as annotation tasks.

`doubt(model, scores, texts)` (doubt.py) is the probability that the model's reading of a statement (issue
decisions and stances) needs a correction: learned from fold errors where the model folder has it
(`redline annotate fit-doubt`), from the model's own probabilities otherwise;
`pick(strategy, ...)` chooses which statements to annotate: `uncertainty` (most doubtful first), `diverse`
(k-means over the encoder's embeddings, the most doubtful statement of each cluster) or `random`;
`write_tasks` writes them with the model's reading as pre-annotations, for Prodigy (JSONL that
`prodigy db-in` reads), Label Studio (tasks JSON with `predictions`, and the labelling config beside it)
or as ANNOTATION.md rows. `pipeline.annotate_import` reads the answers back.

Prodigy task format (one `choice` task per statement; docs/own-negotiation.md shows the recipe):
`options` are the taxonomy's issues (multiple choice), `accept` the issues the model found, and the
text field `positions` holds one `ISSUE STANCE LEVEL` entry per accepted issue, `;`-separated
(e.g. `border favor 3; truce against 2`), pre-filled by the model and corrected by the annotator.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np

from .config import MAXIMALISM_LEVELS, STANCES, Taxonomy
from .corpus import SOURCE_TYPES
from .doubt import doubt
from .errors import InputError

STRATEGIES = ("uncertainty", "diverse", "random")
FORMATS = ("prodigy", "labelstudio", "jsonl")
POSITIONS_FIELD = "positions"  # the Prodigy text field holding stance and maximalism per issue
ISSUES_CONTROL = "issues"  # the Label Studio control of the issues; per issue "stance_ID" and "maximalism_ID"
MAXIMALISM_NAMES = {0: "conciliatory", 1: "flexible", 2: "firm", 3: "maximal"}


def text_key(text: str) -> str:
    """A hash of the text with case, spacing and surrounding quotes normalised: the same sentence, however
    it was copied, has the same key."""
    normal = " ".join(text.lower().split()).strip(" \"'“”‘’")
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Reading:
    """The model's reading of one statement, as a pre-annotation: issues, stance and level per issue."""

    issues: tuple[str, ...]
    stance: dict[str, str] = field(default_factory=dict)
    maximalism: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Candidate:
    """A statement from the store chosen for annotation, with the model's reading and its doubt (0–1)."""

    statement: dict
    reading: Reading
    doubt: float


# --- the model's reading, as pre-annotations ---------------------------------------------------


def _levels(scores) -> np.ndarray:
    """The pre-annotated maximalism level of every (statement, issue): the expected value, rounded."""
    return np.clip(np.rint(scores.maximalism_probs @ np.array(MAXIMALISM_LEVELS, dtype=float)), 0, 3).astype(int)


def readings(model, scores) -> list[Reading]:
    """The model's decisions as pre-annotations (maximalism rounded to the nearest level)."""
    chosen = model.decide(scores)
    levels = _levels(scores)
    found = []
    for i in range(len(chosen)):
        columns = np.flatnonzero(chosen[i])
        issues = tuple(scores.issues[j] for j in columns)
        found.append(Reading(issues, {scores.issues[j]: STANCES[int(scores.stance_probs[i, j].argmax())]
                                      for j in columns},
                             {scores.issues[j]: int(levels[i, j]) for j in columns}))
    return found


def pick(strategy: str, doubts: np.ndarray, n: int, embeddings=None, seed: int = 0) -> list[int]:
    """Indices of `n` statements to annotate, by `strategy` (see the module docstring)."""
    if strategy not in STRATEGIES:
        raise InputError(f"unknown strategy '{strategy}'; choose one of {list(STRATEGIES)}")
    n = min(n, len(doubts))
    if strategy == "random":
        return sorted(np.random.default_rng(seed).choice(len(doubts), size=n, replace=False).tolist())
    if strategy == "uncertainty":
        return np.argsort(-doubts, kind="stable")[:n].tolist()
    from sklearn.cluster import KMeans

    clusters = KMeans(n_clusters=n, random_state=seed, n_init=3).fit_predict(np.asarray(embeddings))
    picked = []
    for cluster in range(n):
        members = np.flatnonzero(clusters == cluster)
        if len(members):
            picked.append(int(members[np.argmax(doubts[members])]))
    return sorted(picked, key=lambda i: -doubts[i])


def choose(model, statements: Sequence[dict], n: int, strategy: str, skip_keys: set[str],
           seed: int = 0, batch_size: int = 512) -> list[Candidate]:
    """Score the store's statements (minus those whose text key is in `skip_keys`) and pick `n` of them."""
    pool = [s for s in statements if text_key(s["text"]) not in skip_keys]
    pool = list({text_key(s["text"]): s for s in pool}.values())  # one task per distinct sentence
    if not pool:
        return []
    embeddings = [model.encoder.encode([s["text"] for s in pool[k:k + batch_size]])
                  for k in range(0, len(pool), batch_size)]
    doubts, found = [], []
    for start, h in zip(range(0, len(pool), batch_size), embeddings):
        batch = pool[start:start + batch_size]
        scores = model.score([s["text"] for s in batch], [s.get("actor_group") for s in batch], h)
        doubts.append(doubt(model, scores, [s["text"] for s in batch]))
        found.extend(readings(model, scores))
    doubts = np.concatenate(doubts)
    # diverse clusters by meaning: the last layer's vectors, without the earlier layers a model may pool too
    embedding_matrix = np.concatenate([model.encoder.last_layer(h).numpy() for h in embeddings]) \
        if strategy == "diverse" else None
    return [Candidate(pool[i], found[i], float(doubts[i]))
            for i in pick(strategy, doubts, n, embedding_matrix, seed)]


# --- task formats -------------------------------------------------------------------------------


def _meta(candidate: Candidate, model_id: str, strategy: str) -> dict:
    statement = candidate.statement
    source_type = statement.get("source_type")
    return {"statement_id": statement["id"], "actor": statement["actor"], "actor_group": statement["actor_group"],
            "date": statement.get("date"), "source_type": source_type if source_type in SOURCE_TYPES else None,
            "model": model_id, "strategy": strategy, "doubt": round(candidate.doubt, 4)}


def format_positions(reading: Reading) -> str:
    """The Prodigy `positions` text of a reading: 'ISSUE STANCE LEVEL; ...'."""
    return "; ".join(f"{i} {reading.stance[i]} {reading.maximalism[i]}" for i in reading.issues)


_POSITION = re.compile(r"^\s*([a-z][a-z0-9_]*)\s*[:=]?\s*(favor|against|neutral)\s*[,/]?\s*([0-3])\s*$", re.I)


def parse_positions(text: str) -> dict[str, tuple[str, int]]:
    """Parse a `positions` text into {issue: (stance, level)}; raises ValueError naming the bad entry."""
    found: dict[str, tuple[str, int]] = {}
    for entry in filter(str.strip, re.split(r"[;\n]", text or "")):
        match = _POSITION.match(entry)
        if not match:
            raise ValueError(f"cannot read the position {entry.strip()!r}; write 'ISSUE STANCE LEVEL', e.g. "
                             f"'border favor 3' (stance one of {list(STANCES)}, level 0–3)")
        issue = match.group(1).lower()
        if issue in found:
            raise ValueError(f"the position of '{issue}' is given twice")
        found[issue] = (match.group(2).lower(), int(match.group(3)))
    return found


def _signed_hash(*parts: str) -> int:
    """A 32-bit signed integer hash, the kind Prodigy keeps in `_input_hash` and `_task_hash`."""
    value = int(hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:8], 16)
    return value - 2 ** 32 if value >= 2 ** 31 else value


def prodigy_task(candidate: Candidate, taxonomy: Taxonomy, model_id: str, strategy: str) -> dict:
    text = candidate.statement["text"]
    options = [{"id": issue.id, "text": f"{issue.id}: {issue.proposition}"} for issue in taxonomy.issues]
    input_hash = _signed_hash(text)
    return {"text": text, "options": options, "accept": list(candidate.reading.issues),
            POSITIONS_FIELD: format_positions(candidate.reading), "meta": _meta(candidate, model_id, strategy),
            "_input_hash": input_hash, "_task_hash": _signed_hash(str(input_hash), *(o["id"] for o in options))}


def labelstudio_task(candidate: Candidate, model_id: str, strategy: str) -> dict:
    reading = candidate.reading
    result = [_choices(ISSUES_CONTROL, list(reading.issues))]
    for issue in reading.issues:
        result += [_choices(f"stance_{issue}", [reading.stance[issue]]),
                   _choices(f"maximalism_{issue}", [str(reading.maximalism[issue])])]
    meta = _meta(candidate, model_id, strategy)
    return {"data": {"text": candidate.statement["text"], **{k: v if v is not None else "" for k, v in meta.items()}},
            "predictions": [{"model_version": model_id, "score": round(1 - candidate.doubt, 4), "result": result}]}


def _choices(control: str, values: list[str]) -> dict:
    return {"from_name": control, "to_name": "text", "type": "choices", "value": {"choices": values}}


def labelstudio_config(taxonomy: Taxonomy) -> str:
    """The labelling config (XML): issues as multiple choice; stance and maximalism shown per chosen issue."""
    lines = ['<View>', '  <Header value="$actor ($actor_group), $date"/>', '  <Text name="text" value="$text"/>',
             f'  <Choices name="{ISSUES_CONTROL}" toName="text" choice="multiple" showInline="true">']
    lines += [f'    <Choice value="{i.id}" hint={quoteattr(i.proposition)}/>' for i in taxonomy.issues]
    lines.append('  </Choices>')
    for issue in taxonomy.issues:
        lines += [f'  <View visibleWhen="choice-selected" whenTagName="{ISSUES_CONTROL}" whenChoiceValue="{issue.id}">',
                  f'    <Header value={quoteattr(f"{issue.id}: {issue.proposition}")} size="5"/>',
                  f'    <Choices name="stance_{issue.id}" toName="text" choice="single-radio" showInline="true">',
                  *(f'      <Choice value="{s}"/>' for s in STANCES), '    </Choices>',
                  f'    <Choices name="maximalism_{issue.id}" toName="text" choice="single-radio" showInline="true">',
                  *(f'      <Choice value="{m}" hint="{MAXIMALISM_NAMES[m]}"/>' for m in MAXIMALISM_LEVELS),
                  '    </Choices>', '  </View>']
    lines.append('</View>')
    return "\n".join(lines) + "\n"


def jsonl_row(candidate: Candidate, model_id: str, strategy: str) -> dict:
    """An ANNOTATION.md row pre-filled with the model's reading, to correct in an editor."""
    meta = _meta(candidate, model_id, strategy)
    reading = candidate.reading
    row = {"id": f"ann-{meta['statement_id']}", "text": candidate.statement["text"], "actor": meta["actor"],
           "actor_group": meta["actor_group"], "date": meta["date"], "source_type": meta["source_type"],
           "issues": list(reading.issues), "stance": dict(reading.stance), "maximalism": dict(reading.maximalism),
           "provenance": {"source": "jsonl", "statement_id": meta["statement_id"], "model": model_id,
                          "strategy": strategy, "doubt": meta["doubt"]}}
    return {k: v for k, v in row.items() if v is not None}


def write_tasks(candidates: Sequence[Candidate], fmt: str, out: str | Path, taxonomy: Taxonomy, model_id: str,
                strategy: str) -> list[Path]:
    """Write the tasks in `fmt` to `out` (and, for Label Studio, its labelling config beside it)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "prodigy":
        rows = [prodigy_task(c, taxonomy, model_id, strategy) for c in candidates]
    elif fmt == "jsonl":
        rows = [jsonl_row(c, model_id, strategy) for c in candidates]
    elif fmt == "labelstudio":
        tasks = [labelstudio_task(c, model_id, strategy) for c in candidates]
        out.write_text(json.dumps(tasks, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        config = out.with_name(out.stem + ".config.xml")
        config.write_text(labelstudio_config(taxonomy), encoding="utf-8")
        return [out, config]
    else:
        raise InputError(f"unknown format '{fmt}'; choose one of {list(FORMATS)}")
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return [out]


# --- composing an export ------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote and what it left out."""

    paths: tuple[Path, ...]
    tasks: int
    pool: int
    in_corpus: int
    already_exported: int


def corpus_keys(paths: Sequence[str | Path]) -> set[str]:
    """Text keys of every statement in the corpus files or folders under `paths`."""
    from .corpus import read_rows

    rows, _ = read_rows(paths)
    return {text_key(str(r.data.get("text", ""))) for r in rows}


def export_tasks(store, model, n: int, strategy: str, fmt: str, out: str | Path, corpus: Sequence[str | Path],
                 seed: int = 0) -> ExportSummary:
    """Pick `n` statements of the open `store` that are neither in `corpus` nor exported before, write them as
    tasks with `model`'s pre-annotations, and record the export in the store."""
    from .attribute import INTERVIEWER_CUE

    statements = [s for s in store.statements() if not (s["cue"] or "").startswith(INTERVIEWER_CUE)]
    in_corpus = corpus_keys(corpus) if corpus else set()
    exported_ids, exported_keys = store.exported()
    fresh = [s for s in statements if s["id"] not in exported_ids]
    skip = in_corpus | exported_keys
    candidates = choose(model, fresh, n, strategy, skip, seed)
    paths = write_tasks(candidates, fmt, out, model.taxonomy, model.model_id, strategy)
    store.record_exports([(c.statement["id"], text_key(c.statement["text"])) for c in candidates], str(paths[0]),
                         fmt, strategy, model.model_id)
    keys = [text_key(s["text"]) for s in statements]
    return ExportSummary(tuple(paths), len(candidates), len(statements),
                         sum(k in in_corpus for k in keys),
                         sum(s["id"] in exported_ids or k in exported_keys for s, k in zip(statements, keys)))
