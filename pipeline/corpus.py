"""Corpus: annotated statements (JSONL per ANNOTATION.md) → checked rows, splits and a `datasets.DatasetDict`.

`check_corpus(paths, taxonomy)` lists every schema error with file and line; `load_corpus` refuses a
corpus with errors; `assign_splits` keeps near-duplicates (character 5-gram Jaccard ≥ 0.6) and rows
of one `group` in the same split; `cross_split_duplicates` measures what still crosses.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .config import MAXIMALISM_LEVELS, STANCES, Taxonomy
from .errors import CorpusError

SPLITS = ("train", "dev", "test")
SOURCE_TYPES = ("speech", "press_remarks", "interview", "news_report", "statement", "article")
REQUIRED = ("id", "text", "actor", "issues", "stance", "maximalism")
OPTIONAL = ("actor_group", "date", "source_type", "targets", "group", "form", "split", "note", "source_url",
            "provenance", "alt_actor", "attribution", "doc", "start", "end", "clause", "zero_shot")
NEAR_DUPLICATE = 0.6
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


@dataclass(frozen=True)
class CorpusRow:
    """One annotated statement and where it was read from."""

    path: str
    line: int
    data: dict

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def corpus_files(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*.jsonl") if not p.name.startswith(".")))
        elif path.exists():
            files.append(path)
        else:
            raise CorpusError(f"{path}: no such file or folder")
    return files


def read_rows(paths: Iterable[str | Path]) -> tuple[list[CorpusRow], list[str]]:
    """Rows of every JSONL file under `paths`, and an error for each line that is not a JSON object."""
    rows, errors = [], []
    for path in corpus_files(paths):
        with open(path, encoding="utf-8") as handle:
            for lineno, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                except ValueError as e:
                    errors.append(f"{path}:{lineno}: not valid JSON ({e})")
                    continue
                if not isinstance(data, dict):
                    errors.append(f"{path}:{lineno}: expected a JSON object")
                    continue
                rows.append(CorpusRow(str(path), lineno, data))
    return rows, errors


def row_errors(row: dict, taxonomy: Taxonomy) -> list[str]:
    """What is wrong with one annotated statement, each as a message a user can act on."""
    errors = [f"missing field '{f}'" for f in REQUIRED if f not in row]
    unknown = sorted(set(row) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        errors.append(f"unknown field(s) {unknown}; allowed: {list(REQUIRED + OPTIONAL)}")
    if errors:
        return errors
    if not isinstance(row["text"], str) or not row["text"].strip():
        errors.append("'text' is empty")
    issues = row["issues"]
    if not isinstance(issues, list):
        return errors + ["'issues' must be a list"]
    bad = [i for i in issues if i not in taxonomy.ids]
    if bad:
        errors.append(f"unknown issue id(s) {bad}; the taxonomy '{taxonomy.name}' has {list(taxonomy.ids)}")
    if len(set(issues)) != len(issues):
        errors.append("an issue is listed twice")
    for field, allowed in (("stance", STANCES), ("maximalism", MAXIMALISM_LEVELS)):
        labels = row[field]
        if not isinstance(labels, dict):
            errors.append(f"'{field}' must be an object keyed by issue id")
            continue
        if set(labels) != set(issues):
            errors.append(f"'{field}' keys {sorted(labels)} do not match issues {sorted(issues)}")
        for issue, value in labels.items():
            if value not in allowed:
                errors.append(f"{field} for '{issue}' is {value!r}; allowed: {list(allowed)}")
    date = row.get("date")
    if date is not None and not (isinstance(date, str) and _DATE.match(date) and _valid_date(date)):
        errors.append(f"date {date!r} is not an ISO date (YYYY-MM-DD)")
    if row.get("source_type") is not None and row["source_type"] not in SOURCE_TYPES:
        errors.append(f"source_type {row['source_type']!r}; allowed: {list(SOURCE_TYPES)}")
    if row.get("split") is not None and row["split"] not in SPLITS:
        errors.append(f"split {row['split']!r}; allowed: {list(SPLITS)}")
    return errors


def _valid_date(text: str) -> bool:
    import datetime as dt

    parts = [int(p) for p in text.split("-")] + [1, 1]
    try:
        dt.date(parts[0], parts[1], parts[2])
    except ValueError:
        return False
    return True


def check_corpus(paths: Iterable[str | Path], taxonomy: Taxonomy) -> tuple[list[CorpusRow], list[str]]:
    """All rows and all errors ('file:line: message'), duplicate ids included."""
    rows, errors = read_rows(paths)
    seen: dict[str, str] = {}
    for row in rows:
        errors.extend(f"{row.where}: {message}" for message in row_errors(row.data, taxonomy))
        row_id = str(row.data.get("id"))
        if row_id in seen:
            errors.append(f"{row.where}: id '{row_id}' is already used at {seen[row_id]}")
        seen.setdefault(row_id, row.where)
    return rows, errors


def load_rows(paths: Iterable[str | Path], taxonomy: Taxonomy) -> list[dict]:
    """Checked rows with a split each; raises CorpusError listing the first errors."""
    rows, errors = check_corpus(paths, taxonomy)
    if errors:
        shown = "\n  ".join(errors[:10])
        raise CorpusError(f"{len(errors)} error(s) in the corpus; run `redline corpus check` to see all:\n  {shown}")
    data = [row.data for row in rows]
    missing = [r for r in data if not r.get("split")]
    if missing:
        for row, split in zip(missing, assign_splits(missing)):
            row["split"] = split
    return data


def corpus_hash(rows: Sequence[dict]) -> str:
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps(row, sort_keys=True, ensure_ascii=False).encode())
    return digest.hexdigest()[:16]


# --- splits and near-duplicates -----------------------------------------------------------------


def _shingle_matrix(texts: Sequence[str]):
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(analyzer="char", ngram_range=(5, 5), lowercase=True, binary=True, dtype=float)
    normalised = [" ".join(t.split()) for t in texts]
    return vectorizer.fit_transform(normalised)


def near_duplicate_pairs(texts: Sequence[str], threshold: float = NEAR_DUPLICATE,
                         among: Sequence[int] | None = None, against: Sequence[int] | None = None):
    """Pairs (i, j, jaccard) of texts whose character 5-gram Jaccard similarity is ≥ threshold."""
    import numpy as np

    matrix = _shingle_matrix(texts)
    sizes = np.asarray(matrix.sum(axis=1)).ravel()
    rows_a = np.arange(len(texts)) if among is None else np.asarray(among)
    rows_b = np.arange(len(texts)) if against is None else np.asarray(against)
    pairs = []
    for start in range(0, len(rows_a), 500):
        block = rows_a[start:start + 500]
        if len(block) == 0 or len(rows_b) == 0:
            continue
        inter = (matrix[block] @ matrix[rows_b].T).toarray()
        union = sizes[block][:, None] + sizes[rows_b][None, :] - inter
        jaccard = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        for a, b in zip(*np.nonzero(jaccard >= threshold)):
            i, j = int(block[a]), int(rows_b[b])
            if i != j and (among is not None or i < j):
                pairs.append((i, j, float(jaccard[a, b])))
    return pairs


def assign_splits(rows: Sequence[dict], shares: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> list[str]:
    """A split per row: rows of one `group` and near-duplicates always share one (hash of the cluster)."""
    parent = list(range(len(rows)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        parent[find(i)] = find(j)

    by_group: dict[str, int] = {}
    for i, row in enumerate(rows):
        key = row.get("group") or row["id"]
        if key in by_group:
            union(i, by_group[key])
        by_group.setdefault(key, i)
    for i, j, _ in near_duplicate_pairs([r["text"] for r in rows]):
        union(i, j)
    clusters: dict[int, list[int]] = defaultdict(list)
    for i in range(len(rows)):
        clusters[find(i)].append(i)
    splits = [""] * len(rows)
    for members in clusters.values():
        key = min(str(rows[i].get("group") or rows[i]["id"]) for i in members)
        bucket = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        split = "train" if bucket < shares[0] else "dev" if bucket < shares[0] + shares[1] else "test"
        for i in members:
            splits[i] = split
    return splits


def cross_split_duplicates(rows: Sequence[dict], threshold: float = NEAR_DUPLICATE) -> tuple[float, list]:
    """Share of dev+test rows with a near-duplicate in another split, and the pairs found."""
    texts = [r["text"] for r in rows]
    index = defaultdict(list)
    for i, row in enumerate(rows):
        index[row["split"]].append(i)
    pairs = []
    for held_out in ("dev", "test"):
        others = [i for s in SPLITS if s != held_out for i in index[s]]
        pairs.extend(near_duplicate_pairs(texts, threshold, among=index[held_out], against=others))
    held = len(index["dev"]) + len(index["test"])
    crossing = {i for i, _, _ in pairs}
    return (len(crossing) / held if held else 0.0), pairs


# --- statistics and datasets --------------------------------------------------------------------


def corpus_stats(rows: Sequence[dict], taxonomy: Taxonomy) -> dict:
    """Counts per issue × stance × maximalism, per actor, per group, per year, per split, per form."""
    per_issue: dict[str, Counter] = {i: Counter() for i in taxonomy.ids}
    stats = {"rows": len(rows), "negatives": 0, "multi_issue": 0, "actors": Counter(), "groups": Counter(),
             "years": Counter(), "splits": Counter(), "forms": Counter(), "source_types": Counter()}
    for row in rows:
        issues = row["issues"]
        stats["negatives"] += not issues
        stats["multi_issue"] += len(issues) > 1
        for issue in issues:
            per_issue[issue][(row["stance"][issue], row["maximalism"][issue])] += 1
        stats["actors"][row["actor"]] += 1
        stats["groups"][row.get("actor_group") or "?"] += 1
        stats["years"][(row.get("date") or "?")[:4]] += 1
        stats["splits"][row.get("split") or "?"] += 1
        stats["forms"][row.get("form") or "?"] += 1
        stats["source_types"][row.get("source_type") or "?"] += 1
    stats["issues"] = per_issue
    return stats


def to_dataset_dict(rows: Sequence[dict], taxonomy: Taxonomy):
    """A `datasets.DatasetDict` (train/dev/test) with declared Features; stance and maximalism align with issues."""
    import datasets

    features = datasets.Features({
        "id": datasets.Value("string"), "text": datasets.Value("string"), "actor": datasets.Value("string"),
        "actor_group": datasets.Value("string"), "date": datasets.Value("string"),
        "source_type": datasets.Value("string"),
        "issues": datasets.Sequence(datasets.ClassLabel(names=list(taxonomy.ids))),
        "stance": datasets.Sequence(datasets.ClassLabel(names=list(STANCES))),
        "maximalism": datasets.Sequence(datasets.ClassLabel(names=[str(m) for m in MAXIMALISM_LEVELS])),
        "targets": datasets.Sequence(datasets.Value("string")),
    })
    columns: dict[str, dict[str, list]] = {s: {k: [] for k in features} for s in SPLITS}
    for row in rows:
        target = columns[row["split"]]
        issues = row["issues"]
        values = {"id": str(row["id"]), "text": row["text"], "actor": row["actor"],
                  "actor_group": row.get("actor_group") or "", "date": row.get("date") or "",
                  "source_type": row.get("source_type") or "", "issues": issues,
                  "stance": [row["stance"][i] for i in issues],
                  "maximalism": [str(row["maximalism"][i]) for i in issues], "targets": row.get("targets") or []}
        for key, value in values.items():
            target[key].append(value)
    return datasets.DatasetDict({s: datasets.Dataset.from_dict(columns[s], features=features) for s in SPLITS})


def load_corpus(paths: Iterable[str | Path], taxonomy: Taxonomy):
    """Any corpus in the ANNOTATION.md format as a validated `datasets.DatasetDict`."""
    return to_dataset_dict(load_rows(paths, taxonomy), taxonomy)


def write_splits(paths: Iterable[str | Path]) -> Counter:
    """Assign splits to every row of the corpus files in place (rewrites each file); returns the counts."""
    files = corpus_files(paths)
    rows_by_file = {f: [json.loads(line) for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
                    for f in files}
    everything = [row for rows in rows_by_file.values() for row in rows]
    for row, split in zip(everything, assign_splits(everything)):
        row["split"] = split
    for path, rows in rows_by_file.items():
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return Counter(r["split"] for r in everything)
