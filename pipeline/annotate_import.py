"""Annotate, second half: read answers from Prodigy, Label Studio or corrected JSONL back into a corpus file.

`read_answers(path)` turns an annotation tool's export into `Answer`s (one per annotator and task, with the
file's line); `import_annotations(path, into, taxonomy)` checks every answer against the taxonomy (a file
that does not parse, or names an unknown label, is refused whole, with its line), settles each statement,
measures agreement where several annotators answered it, and appends new ANNOTATION.md rows with their
provenance to `into`. A statement already in `into` is not added again, so importing twice adds nothing.

How an answer becomes labels:
- Prodigy (`db-out` JSONL): `answer` accept → issues are the `accept`ed options, stance and maximalism per
  issue come from the `positions` text (`ISSUE STANCE LEVEL; ...`); reject → the task is unusable
  (segmentation or attribution is wrong), nothing is added; ignore → skipped.
- Label Studio (JSON export): each annotation's `issues` choices, and per chosen issue the
  `stance_ISSUE` and `maximalism_ISSUE` choices (those of unchosen issues are ignored); a cancelled
  (skipped) annotation counts as ignore.
- JSONL: ANNOTATION.md rows as `redline annotate export --format jsonl` wrote them, corrected by hand.
Several annotators: an annotation marked ground truth (Label Studio) wins; otherwise the statement is added
only when all its answers agree, and listed as a conflict when they do not.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

from .annotate import FORMATS, ISSUES_CONTROL, POSITIONS_FIELD, parse_positions, text_key
from .config import Taxonomy
from .corpus import assign_splits, read_rows, row_errors
from .errors import InputError

VERDICTS = ("accept", "reject", "ignore")
STATEMENT_FIELDS = ("actor", "actor_group", "date", "source_type")


@dataclass(frozen=True)
class Answer:
    """One annotator's answer to one task, with where it was read from."""

    line: int
    task: str
    annotator: str
    verdict: str  # accept, reject or ignore
    text: str
    statement: dict  # statement_id, actor, actor_group, date, source_type, model (from the task's data)
    labels: dict | None = None  # issues, stance, maximalism (accepted answers only)
    time: str | None = None
    ground_truth: bool = False

    @property
    def key(self) -> str:
        return self.statement.get("statement_id") or text_key(self.text)


@dataclass
class ImportResult:
    """What an import did: rows added, answers set aside, conflicts, and agreement per field."""

    into: Path
    added: list[dict] = field(default_factory=list)
    already: int = 0
    rejected: int = 0
    ignored: int = 0
    conflicts: list[dict] = field(default_factory=list)
    agreement: dict[str, dict] = field(default_factory=dict)


# --- reading the tools' exports -----------------------------------------------------------------


def detect_format(path: Path) -> str:
    """`labelstudio` for a JSON array, `prodigy` for JSONL with `answer`, `jsonl` for ANNOTATION.md rows."""
    text = _read(path)
    stripped = text.lstrip()
    if stripped.startswith("["):
        return "labelstudio"
    first = stripped.splitlines()[0] if stripped else ""
    try:
        row = json.loads(first)
    except ValueError as e:
        raise InputError(f"{path}:{text[:len(text) - len(stripped)].count(chr(10)) + 1}: not JSON: {e}") from e
    if isinstance(row, dict) and "answer" in row:
        return "prodigy"
    if isinstance(row, dict) and "issues" in row:
        return "jsonl"
    raise InputError(f"{path}: neither a Label Studio export (a JSON array), Prodigy db-out JSONL (rows with "
                     "'answer') nor ANNOTATION.md rows (with 'issues'); pass --format")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read: {e}") from e


def read_answers(path: str | Path, fmt: str | None = None, annotator: str | None = None) -> list[Answer]:
    """Every answer in an export; `annotator` names whoever answered where the file does not say."""
    path = Path(path)
    fmt = fmt or detect_format(path)
    readers = {"prodigy": _prodigy_answers, "labelstudio": _labelstudio_answers, "jsonl": _jsonl_answers}
    if fmt not in readers:
        raise InputError(f"unknown format '{fmt}'; choose one of {list(FORMATS)}")
    return readers[fmt](path, annotator or "unknown")


def _jsonl_lines(path: Path) -> list[tuple[int, dict]]:
    lines = []
    for number, line in enumerate(_read(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as e:
            raise InputError(f"{path}:{number}: not valid JSON: {e}") from e
        if not isinstance(row, dict):
            raise InputError(f"{path}:{number}: expected a JSON object, found {type(row).__name__}")
        lines.append((number, row))
    return lines


def _prodigy_answers(path: Path, annotator: str) -> list[Answer]:
    answers = []
    for number, task in _jsonl_lines(path):
        verdict = task.get("answer")
        if verdict not in VERDICTS or not isinstance(task.get("text"), str):
            raise InputError(f"{path}:{number}: a Prodigy answer needs 'text' and 'answer' (one of {list(VERDICTS)}), "
                             f"found answer {verdict!r}")
        labels = _prodigy_labels(task, f"{path}:{number}") if verdict == "accept" else None
        stamp = task.get("_timestamp")
        answers.append(Answer(
            number, str(task.get("_task_hash", number)), task.get("_annotator_id") or task.get("_session_id")
            or annotator, verdict, task["text"], dict(task.get("meta") or {}), labels,
            dt.datetime.fromtimestamp(stamp, dt.timezone.utc).isoformat(timespec="seconds") if stamp else None))
    return answers


def _prodigy_labels(task: dict, where: str) -> dict:
    issues = task.get("accept") or []
    try:
        positions = parse_positions(task.get(POSITIONS_FIELD, ""))
    except ValueError as e:
        raise InputError(f"{where}: {e}") from e
    missing = [i for i in issues if i not in positions]
    extra = [i for i in positions if i not in issues]
    if missing or extra:
        raise InputError(f"{where}: the accepted issues {issues} and the '{POSITIONS_FIELD}' field disagree "
                         f"(no position for {missing}, a position for unselected {extra}); give one "
                         "'ISSUE STANCE LEVEL' entry per accepted issue")
    return {"issues": list(issues), "stance": {i: positions[i][0] for i in issues},
            "maximalism": {i: positions[i][1] for i in issues}}


def _json_array_items(path: Path) -> list[tuple[int, dict]]:
    """The objects of a JSON array with the line each starts on (Label Studio exports are one array)."""
    text = _read(path)
    decoder = json.JSONDecoder()
    position = text.index("[") + 1
    items = []
    try:
        while True:
            while position < len(text) and text[position] in " \t\r\n,":
                position += 1
            if position >= len(text) or text[position] == "]":
                return items
            item, end = decoder.raw_decode(text, position)
            items.append((text.count("\n", 0, position) + 1, item))
            position = end
    except ValueError as e:
        raise InputError(f"{path}:{text.count(chr(10), 0, position) + 1}: not valid JSON: {e}") from e


def _labelstudio_answers(path: Path, annotator: str) -> list[Answer]:
    answers = []
    for number, task in _json_array_items(path):
        data = task.get("data") if isinstance(task, dict) else None
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            raise InputError(f"{path}:{number}: a Label Studio task needs 'data' with 'text'")
        statement = {k: data.get(k) or None for k in ("statement_id", "model", *STATEMENT_FIELDS)}
        for annotation in task.get("annotations") or []:
            who = annotation.get("completed_by")
            who = (who.get("email") or f"user-{who.get('id')}") if isinstance(who, dict) else f"user-{who}"
            cancelled = annotation.get("was_cancelled", False)
            labels = None if cancelled else _labelstudio_labels(annotation.get("result") or [],
                                                               f"{path}:{number} (task {task.get('id')})")
            answers.append(Answer(number, str(task.get("id", number)), who, "ignore" if cancelled else "accept",
                                  data["text"], statement, labels,
                                  annotation.get("updated_at") or annotation.get("created_at"),
                                  bool(annotation.get("ground_truth"))))
    return answers


def _labelstudio_labels(result: list[dict], where: str) -> dict:
    chosen = {item.get("from_name"): item.get("value", {}).get("choices", []) for item in result
              if item.get("type") == "choices"}
    issues = list(chosen.get(ISSUES_CONTROL, []))
    stance, maximalism = {}, {}
    for issue in issues:
        stances, levels = chosen.get(f"stance_{issue}", []), chosen.get(f"maximalism_{issue}", [])
        if len(stances) != 1 or len(levels) != 1:
            raise InputError(f"{where}: issue '{issue}' is chosen but needs exactly one stance and one maximalism "
                             f"(found stance {stances}, maximalism {levels})")
        stance[issue] = stances[0]
        maximalism[issue] = int(levels[0]) if str(levels[0]).isdigit() else levels[0]
    return {"issues": issues, "stance": stance, "maximalism": maximalism}


def _jsonl_answers(path: Path, annotator: str) -> list[Answer]:
    answers = []
    for number, row in _jsonl_lines(path):
        provenance = row.get("provenance") if isinstance(row.get("provenance"), dict) else {}
        statement = {"statement_id": provenance.get("statement_id"), "model": provenance.get("model"),
                     **{k: row.get(k) for k in STATEMENT_FIELDS}}
        labels = {k: row.get(k) for k in ("issues", "stance", "maximalism")}
        answers.append(Answer(number, str(row.get("id", number)), provenance.get("annotator") or annotator,
                              "accept", str(row.get("text", "")), statement, labels))
    return answers


# --- settling and writing -----------------------------------------------------------------------


def _corpus_row(answer: Answer, annotators: list[str], settled: str, path: Path, tool: str) -> dict:
    statement = answer.statement
    return {"id": f"ann-{answer.key}", "text": answer.text, "actor": statement.get("actor") or "unknown",
           **{k: statement[k] for k in ("actor_group", "date", "source_type") if statement.get(k)},
           **answer.labels,
           "provenance": {"tool": tool, "file": path.name, "task": answer.task, "statement_id": statement.get("statement_id"),
                          "annotators": annotators, "annotated": answer.time, "settled": settled,
                          "model": statement.get("model"),
                          "imported": dt.datetime.now().isoformat(timespec="seconds")}}


def _check(answers: Sequence[Answer], taxonomy: Taxonomy, path: Path) -> None:
    """Refuse the file if any accepted answer breaks the taxonomy, naming the line of the first ten."""
    errors = []
    for answer in answers:
        if answer.labels is None:
            continue
        row = {"id": answer.task, "text": answer.text, "actor": "x", **answer.labels}
        errors += [f"{path}:{answer.line} (task {answer.task}): {m}" for m in row_errors(row, taxonomy)]
    if errors:
        shown = "\n  ".join(errors[:10])
        raise InputError(f"{len(errors)} error(s) in {path}, nothing imported:\n  {shown}")


def _settle(group: list[Answer]) -> tuple[Answer | None, str]:
    """The answer a statement's row is made from, and how: ground_truth, single, unanimous, or why not."""
    kept = [a for a in group if a.verdict != "ignore"]
    if not kept:
        return None, "ignored"
    accepted = [a for a in kept if a.verdict == "accept"]
    truth = [a for a in accepted if a.ground_truth]
    if truth:
        return truth[-1], "ground_truth"
    if not accepted:
        return None, "rejected"
    if len(kept) == 1:
        return accepted[0], "single"
    if len(accepted) == len(kept) and all(_same(a.labels, accepted[0].labels) for a in accepted):
        return accepted[0], "unanimous"
    return None, "conflict"


def _same(first: dict, second: dict) -> bool:
    return sorted(first["issues"]) == sorted(second["issues"]) and first["stance"] == second["stance"] \
        and first["maximalism"] == second["maximalism"]


def import_annotations(path: str | Path, into: str | Path, taxonomy: Taxonomy, fmt: str | None = None,
                       annotator: str | None = None) -> ImportResult:
    """Append the settled answers in `path` to the corpus file `into`; see the module docstring."""
    path, into = Path(path), Path(into)
    fmt = fmt or detect_format(path)
    answers = read_answers(path, fmt, annotator)
    _check(answers, taxonomy, path)
    existing_ids, existing_keys = _existing(into)
    result = ImportResult(into, agreement=agreement(answers, taxonomy))
    groups: dict[str, list[Answer]] = defaultdict(list)
    for answer in answers:
        groups[answer.key].append(answer)
    for key, group in groups.items():
        chosen, how = _settle(group)
        if chosen is None:
            if how == "conflict":
                result.conflicts.append({"statement": key, "text": group[0].text, "line": group[0].line,
                                         "annotators": sorted({a.annotator for a in group})})
            else:
                setattr(result, how, getattr(result, how) + 1)
            continue
        row = _corpus_row(chosen, sorted({a.annotator for a in group if a.verdict == "accept"}), how, path, fmt)
        if row["id"] in existing_ids or text_key(row["text"]) in existing_keys:
            result.already += 1
            continue
        existing_ids.add(row["id"])
        existing_keys.add(text_key(row["text"]))
        result.added.append(row)
    if result.added:
        for row, split in zip(result.added, assign_splits(result.added)):
            row["split"] = split
        into.parent.mkdir(parents=True, exist_ok=True)
        with open(into, "a", encoding="utf-8") as handle:
            handle.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in result.added)
    return result


def _existing(into: Path) -> tuple[set[str], set[str]]:
    if not into.exists():
        return set(), set()
    rows, errors = read_rows([into])
    if errors:
        raise InputError(f"{into} is not a clean JSONL corpus file ({errors[0]}); fix it before importing into it")
    return {str(r.data.get("id")) for r in rows}, {text_key(str(r.data.get("text", ""))) for r in rows}


# --- agreement ----------------------------------------------------------------------------------


def agreement(answers: Sequence[Answer], taxonomy: Taxonomy) -> dict[str, dict]:
    """Cohen's kappa per field between annotators who labelled the same statements (averaged over annotator
    pairs, weighted by shared items): issues (each statement × issue, yes/no), stance and maximalism (linearly
    weighted) on the issues both chose. Empty when no statement has two annotators."""
    by_annotator: dict[str, dict[str, dict]] = defaultdict(dict)
    for answer in answers:
        if answer.verdict == "accept":
            by_annotator[answer.annotator][answer.key] = answer.labels
    items: dict[str, list[tuple[list, list]]] = {"issues": [], "stance": [], "maximalism": []}
    for first, second in combinations(sorted(by_annotator), 2):
        shared = sorted(set(by_annotator[first]) & set(by_annotator[second]))
        if not shared:
            continue
        pair = {name: ([], []) for name in items}
        for key in shared:
            a, b = by_annotator[first][key], by_annotator[second][key]
            for issue in taxonomy.ids:
                pair["issues"][0].append(issue in a["issues"])
                pair["issues"][1].append(issue in b["issues"])
            for issue in set(a["issues"]) & set(b["issues"]):
                for name in ("stance", "maximalism"):
                    pair[name][0].append(a[name][issue])
                    pair[name][1].append(b[name][issue])
        for name in items:
            items[name].append(pair[name])
    return {name: _kappa(pairs, weights="linear" if name == "maximalism" else None)
            for name, pairs in items.items() if any(first for first, _ in pairs)}


def _kappa(pairs: list[tuple[list, list]], weights: str | None) -> dict:
    """Mean Cohen's kappa over annotator pairs (None where both used one label only) and raw agreement."""
    from sklearn.metrics import cohen_kappa_score

    kappas, sizes, same, total = [], [], 0, 0
    for first, second in pairs:
        if not first:
            continue
        same += sum(a == b for a, b in zip(first, second))
        total += len(first)
        if len(set(first) | set(second)) > 1:
            kappa = cohen_kappa_score(first, second, weights=weights)
            if not math.isnan(kappa):
                kappas.append(kappa)
                sizes.append(len(first))
    kappa = sum(k * n for k, n in zip(kappas, sizes)) / sum(sizes) if sizes else None
    return {"kappa": round(kappa, 4) if kappa is not None else None, "agreement": round(same / total, 4),
            "items": total, "pairs": len(pairs)}
