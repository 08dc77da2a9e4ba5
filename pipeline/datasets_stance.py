"""Public stance data as Redline corpus rows: SemEval-2016 Task 6 in the TweetEval layout.

`tweeteval_rows(folder)` turns each target folder (`{train,val,test}_{text,labels}.txt`, `mapping.txt`
beside them) into rows of the ANNOTATION.md schema in memory: target → issue, label → stance, maximalism 1
(unused), val → dev. `materialise_tweeteval` writes them to a JSONL file outside the repository so that
`pipeline.train.train` can read them; `semeval_training_config` points a training config at that file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from .config import CONFIGS, ROOT, load_taxonomy
from .corpus import check_corpus
from .errors import InputError

SEMEVAL_TAXONOMY = CONFIGS / "issues" / "semeval2016.yaml"
SEMEVAL_TRAINING = CONFIGS / "train" / "semeval2016.yaml"
DEFAULT_MATERIALISED = Path("/tmp/redline-semeval2016/rows.jsonl")
# TweetEval file prefix → Redline split name.
TWEETEVAL_SPLITS = {"train": "train", "val": "dev", "test": "test"}
# TweetEval label name (mapping.txt) → Redline stance.
LABEL_STANCES = {"none": "neutral", "against": "against", "favor": "favor"}
ACTOR_GROUP = "other"
MAXIMALISM_UNUSED = 1


def read_mapping(folder: str | Path) -> dict[int, str]:
    """`mapping.txt` ("0<TAB>none" per line) as label number → Redline stance."""
    path = Path(folder) / "mapping.txt"
    if not path.exists():
        raise InputError(f"{path}: no mapping.txt; a TweetEval stance folder has one (0 none, 1 against, 2 favor)")
    mapping = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit() or parts[1].lower() not in LABEL_STANCES:
            raise InputError(f"{path}:{lineno}: expected '<number> <label>' with a label in "
                             f"{list(LABEL_STANCES)}, found {line!r}")
        mapping[int(parts[0])] = LABEL_STANCES[parts[1].lower()]
    return mapping


def target_folders(folder: str | Path, targets: Sequence[str] | None = None) -> list[Path]:
    """The target folders to read: those named in `targets`, or every subfolder holding a train_text.txt."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder; expected the TweetEval stance layout (one folder per target)")
    if targets is None:
        found = sorted(p for p in folder.iterdir() if (p / "train_text.txt").exists())
        if not found:
            raise InputError(f"{folder}: no target folder with train_text.txt; is this the TweetEval stance folder?")
        return found
    missing = [t for t in targets if not (folder / t).is_dir()]
    if missing:
        raise InputError(f"{folder}: no folder for target(s) {missing}; found "
                         f"{sorted(p.name for p in folder.iterdir() if p.is_dir())}")
    return [folder / t for t in targets]


def _lines(path: Path) -> list[str]:
    if not path.exists():
        raise InputError(f"{path}: missing; each target needs <split>_text.txt and <split>_labels.txt")
    return path.read_text(encoding="utf-8").splitlines()


def split_rows(target_folder: Path, prefix: str, mapping: dict[int, str]) -> list[dict]:
    """Rows of one target and one TweetEval split (`train`, `val` or `test`)."""
    texts = _lines(target_folder / f"{prefix}_text.txt")
    labels_path = target_folder / f"{prefix}_labels.txt"
    labels = _lines(labels_path)
    if len(texts) != len(labels):
        raise InputError(f"{target_folder}: {prefix}_text.txt has {len(texts)} lines but {prefix}_labels.txt "
                         f"has {len(labels)}; they must align line by line")
    issue, split = target_folder.name, TWEETEVAL_SPLITS[prefix]
    rows = []
    for lineno, (text, label) in enumerate(zip(texts, labels), 1):
        if not label.strip().isdigit() or int(label) not in mapping:
            raise InputError(f"{labels_path}:{lineno}: label {label!r}; allowed: {sorted(mapping)} (mapping.txt)")
        rows.append({"id": f"{issue}-{prefix}-{lineno:04d}", "text": text.strip(), "actor": "unknown",
                     "actor_group": ACTOR_GROUP, "issues": [issue], "stance": {issue: mapping[int(label)]},
                     "maximalism": {issue: MAXIMALISM_UNUSED}, "split": split, "provenance": "tweeteval-stance"})
    return rows


def tweeteval_rows(folder: str | Path, targets: Sequence[str] | None = None) -> list[dict]:
    """Every tweet of the TweetEval stance folder as a Redline corpus row (train, dev and test splits)."""
    mapping = read_mapping(folder)
    rows = []
    for target_folder in target_folders(folder, targets):
        for prefix in TWEETEVAL_SPLITS:
            rows.extend(split_rows(target_folder, prefix, mapping))
    return rows


def check_rows(rows: Sequence[dict], taxonomy_path: str | Path = SEMEVAL_TAXONOMY) -> None:
    """Refuse rows whose target is not an issue of the taxonomy (or that break the corpus schema)."""
    taxonomy = load_taxonomy(taxonomy_path)
    unknown = sorted({i for r in rows for i in r["issues"]} - set(taxonomy.ids))
    if unknown:
        raise InputError(f"target folder(s) {unknown} are not issues of {taxonomy_path} "
                         f"(it has {list(taxonomy.ids)}); add them to the taxonomy or pass `targets`")
    bad = [r["id"] for r in rows if not r["text"]]
    if bad:
        raise InputError(f"{len(bad)} empty tweet(s), e.g. {bad[0]}; remove the empty lines from the text file "
                         f"and its labels file")


def write_jsonl(rows: Iterable[dict], path: str | Path) -> Path:
    """Write rows as JSONL to `path` (outside the repository: third-party text is never committed)."""
    path = Path(path).resolve()
    if path.is_relative_to(ROOT):
        raise InputError(f"{path} is inside the repository; write converted third-party data elsewhere "
                         f"(e.g. {DEFAULT_MATERIALISED})")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def materialise_tweeteval(folder: str | Path, path: str | Path = DEFAULT_MATERIALISED,
                          taxonomy_path: str | Path = SEMEVAL_TAXONOMY) -> Path:
    """Convert the TweetEval folder, check it against the taxonomy and the corpus schema, and write it as JSONL."""
    rows = tweeteval_rows(folder)
    check_rows(rows, taxonomy_path)
    written = write_jsonl(rows, path)
    _, errors = check_corpus([written], load_taxonomy(taxonomy_path))
    if errors:
        raise InputError(f"{len(errors)} converted row(s) break the corpus schema, e.g. {errors[0]}")
    return written


def semeval_training_config(corpus_path: str | Path, config_path: str | Path = SEMEVAL_TRAINING, **overrides):
    """The SemEval training config (validated again) with its corpus pointed at a materialised JSONL file."""
    from .train import TrainingConfig, load_training_config

    given = load_training_config(config_path).model_dump(exclude_unset=True)
    return TrainingConfig(**{**given, "corpus": (str(corpus_path),), **overrides})
