"""Ingest: files, folders and datasets → `Document` records, and `Problem` records for what cannot be read.

`read_inputs(paths)` streams both; nothing is dropped silently: an unreadable file, a malformed line
or bad front matter becomes a `Problem` with its path, line and reason, and reading goes on.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from dateutil import parser as date_parser

from .records import Document, Problem, Turn

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
CSV_SUFFIXES = {".csv", ".tsv"}
SUPPORTED = TEXT_SUFFIXES | JSONL_SUFFIXES | CSV_SUFFIXES
TEXT_FIELDS = ("text", "content", "body", "transcript")
META_FIELDS = ("title", "date", "speaker", "source_type", "source", "url")
SOURCE_TYPES = {"speech", "press_remarks", "interview", "news_report", "statement", "article"}

# A speaker label at the start of a line: "Vladimir Putin: ...", "Q: ...", "PRESIDENT ZELENSKY: ...".
_TURN_LABEL = re.compile(r"^[ \t]*(?P<label>[A-Z][\w.'’\-]*(?:[ \t]+[\w.'’\-]+){0,4})[ \t]*:[ \t]+(?=\S)", re.M)
_LABEL_LOWER_OK = {"of", "the", "de", "von", "der", "van", "la", "al", "bin", "da"}
_NOT_SPEAKERS = {"key points", "note", "update", "photo", "source", "read more", "watch", "editor's note",
                 "related", "see also", "correction", "warning", "disclaimer", "image", "caption", "video"}
Item = Document | Problem


def read_inputs(paths: Iterable[str | Path], text_field: str | None = None) -> Iterator[Item]:
    """Documents and problems from files, folders (recursive) and saved Hugging Face datasets, in order."""
    for path in paths:
        path = Path(path)
        if not path.exists():
            yield Problem(str(path), None, "no such file or folder")
        elif _is_saved_dataset(path):
            yield from read_dataset(path, text_field)
        elif path.is_dir():
            yield from _read_folder(path, text_field)
        else:
            yield from read_file(path, text_field)


def _read_folder(folder: Path, text_field: str | None) -> Iterator[Item]:
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part.startswith((".", "_")) for part in rel.parts):
            continue
        if path.is_dir():
            if _is_saved_dataset(path):
                yield from read_dataset(path, text_field)
            continue
        if any(_is_saved_dataset(parent) for parent in path.parents if folder in parent.parents or parent == folder):
            continue
        if path.name.lower().startswith("readme"):
            continue  # a folder's description, not a document
        if path.suffix.lower() not in SUPPORTED:
            yield Problem(str(path), None, f"unsupported file type '{path.suffix or '(none)'}'; "
                          f"Redline reads {', '.join(sorted(SUPPORTED))}", level="warning")
            continue
        yield from read_file(path, text_field)


def read_file(path: Path, text_field: str | None = None) -> Iterator[Item]:
    """One file: text with optional YAML front matter, JSONL or CSV, by suffix (text when unknown)."""
    try:
        data = path.read_bytes()
    except OSError as e:
        yield Problem(str(path), None, f"cannot read file: {e.strerror or e}")
        return
    try:
        text = decode_bytes(data)
    except ValueError as e:
        yield Problem(str(path), _line_of_byte(data, e), str(e))
        return
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        yield from _read_jsonl(text, str(path), text_field)
    elif suffix in CSV_SUFFIXES:
        yield from _read_csv(text, str(path), text_field, delimiter="\t" if suffix == ".tsv" else ",")
    else:
        yield from read_text(text, str(path))


class _DecodeError(ValueError):
    def __init__(self, message: str, position: int | None = None):
        super().__init__(message)
        self.position = position


def decode_bytes(data: bytes) -> str:
    """UTF-8 (with or without BOM) or UTF-16 with a BOM; anything else raises ValueError with the reason."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return _normalise_newlines(data.decode("utf-16"))
        except UnicodeDecodeError as e:
            raise _DecodeError(f"invalid UTF-16 at byte {e.start}", e.start) from e
    head = data[:65536]
    if b"\x00" in head or _control_share(head) > 0.1:
        raise _DecodeError("binary file (not text); convert it to UTF-8 text first", None)
    try:
        return _normalise_newlines(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise _DecodeError(f"not valid UTF-8 (byte 0x{data[e.start]:02x} at offset {e.start}); "
                           "re-save the file as UTF-8", e.start) from e


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _control_share(data: bytes) -> float:
    if not data:
        return 0.0
    controls = sum(1 for b in data if b < 32 and b not in (9, 10, 12, 13))
    return controls / len(data)


def _line_of_byte(data: bytes, error: ValueError) -> int | None:
    position = getattr(error, "position", None)
    return None if position is None else data.count(b"\n", 0, position) + 1


# --- text with front matter ---------------------------------------------------------------------


def read_text(text: str, source_path: str) -> Iterator[Item]:
    """A text document; YAML front matter between '---' lines gives its metadata."""
    if not text.strip():
        yield Problem(source_path, None, "empty file")
        return
    meta: dict[str, Any] = {}
    body_start = 0
    if text.startswith("---\n"):
        close = re.search(r"^---[ \t]*$\n?", text[4:], re.M)
        if close is None:
            yield Problem(source_path, 1, "front matter opened with '---' is never closed by a '---' line")
            return
        try:
            loaded = yaml.safe_load(text[4:4 + close.start()])
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            line = mark.line + 2 if mark is not None else 1
            yield Problem(source_path, line, f"front matter is not valid YAML: {getattr(e, 'problem', e)}")
            return
        if loaded is not None and not isinstance(loaded, dict):
            yield Problem(source_path, 2, "front matter must be a mapping of keys to values")
            return
        meta = loaded or {}
        body_start = 4 + close.end()
    yield from build_document(text, source_path, meta, body_start)


def build_document(text: str, source_path: str, meta: Mapping[str, Any], body_start: int = 0) -> Iterator[Item]:
    """A `Document` (and warnings) from text and metadata; shared by every reader."""
    if not text[body_start:].strip():
        yield Problem(source_path, None, "no text (the document body is empty)")
        return
    date, date_problem = _date_field(meta.get("date"))
    if date_problem:
        yield Problem(source_path, None, date_problem, level="warning")
    source_type = _clean(meta.get("source_type"))
    if source_type is not None and source_type not in SOURCE_TYPES:
        yield Problem(source_path, None, f"source_type '{source_type}' is not one of {sorted(SOURCE_TYPES)}; "
                      "kept as given", level="warning")
    speaker = _clean(meta.get("speaker"))
    extra = tuple(sorted((str(k), _clean(v) or "") for k, v in meta.items() if k not in META_FIELDS and k != "id"))
    yield Document(
        id=Document.make_id(text, date, speaker),
        text=text,
        source_path=source_path,
        body_start=body_start,
        title=_clean(meta.get("title")),
        date=date,
        speaker=speaker,
        source_type=source_type,
        source=_clean(meta.get("source")),
        url=_clean(meta.get("url")),
        turns=find_turns(text, body_start),
        meta=extra,
    )


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def _date_field(value: Any) -> tuple[str | None, str | None]:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, "no date; the document's statements will be undated"
    try:
        return normalise_date(value), None
    except ValueError as e:
        return None, f"{e}; the document is kept without a date"


def normalise_date(value: Any) -> str:
    """An ISO date (YYYY-MM-DD) from ISO strings, 'September 3, 2025', '3 Sept. 2025', dates, datetimes."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    partial = re.fullmatch(r"(\d{4})-(\d{1,2})", text)
    if partial:
        text = f"{partial.group(1)}-{partial.group(2)}-01"
    iso = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)
    try:
        if iso:
            return dt.date(*map(int, iso.groups())).isoformat()
        cleaned = re.sub(r"\bSept\b\.?", "Sep", text, flags=re.I)
        parsed = date_parser.parse(cleaned, default=dt.datetime(1, 1, 1), fuzzy=False)
    except (ValueError, OverflowError, TypeError) as e:
        raise ValueError(f"date '{text}' is not a date Redline can read (use YYYY-MM-DD)") from e
    if parsed.year == 1:
        raise ValueError(f"date '{text}' has no year")
    return parsed.date().isoformat()


# --- transcripts --------------------------------------------------------------------------------


def find_turns(text: str, body_start: int = 0) -> tuple[Turn, ...]:
    """Speaker turns of a transcript, or () when the text is not one (fewer than two distinct speakers)."""
    matches = [m for m in _TURN_LABEL.finditer(text, body_start) if _is_speaker_label(m.group("label"))]
    if len({_label_key(m.group("label")) for m in matches}) < 2:
        return ()
    turns = []
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        while end > match.end() and text[end - 1].isspace():
            end -= 1
        turns.append(Turn(label=match.group("label").strip(), start=match.end(), end=end))
    return tuple(turns)


def _label_key(label: str) -> str:
    return " ".join(label.lower().split())


def _is_speaker_label(label: str) -> bool:
    words = label.split()
    if _label_key(label) in _NOT_SPEAKERS or len(words) > 5:
        return False
    return all(w[0].isupper() or w.lower() in _LABEL_LOWER_OK for w in words)


# --- JSONL, CSV and datasets --------------------------------------------------------------------


def _read_jsonl(text: str, path: str, text_field: str | None) -> Iterator[Item]:
    rows = 0
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        rows += 1
        try:
            row = json.loads(line)
        except ValueError as e:
            yield Problem(path, lineno, f"malformed JSON line: {e}")
            continue
        if not isinstance(row, dict):
            yield Problem(path, lineno, f"expected a JSON object, found {type(row).__name__}")
            continue
        yield from _document_from_row(row, f"{path}:{lineno}", path, lineno, text_field)
    if rows == 0:
        yield Problem(path, None, "empty file")


def _read_csv(text: str, path: str, text_field: str | None, delimiter: str) -> Iterator[Item]:
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    columns = reader.fieldnames or []
    if not columns:
        yield Problem(path, None, "empty file")
        return
    if _text_key(columns, text_field) is None:
        wanted = text_field or " or ".join(TEXT_FIELDS)
        yield Problem(path, 1, f"no text column ({wanted}); columns are {columns}")
        return
    try:
        for row in reader:
            start_line = reader.line_num
            if None in row:
                yield Problem(path, start_line, f"row has {len(columns) + len(row[None])} fields, header has {len(columns)}")
                continue
            yield from _document_from_row(row, f"{path}:{start_line}", path, start_line, text_field)
    except csv.Error as e:
        yield Problem(path, reader.line_num, f"malformed CSV: {e}")


def _text_key(keys: Iterable[str], text_field: str | None) -> str | None:
    keys = list(keys)
    for key in ([text_field] if text_field else TEXT_FIELDS):
        if key in keys:
            return key
    return None


def _document_from_row(row: Mapping[str, Any], source_path: str, path: str, line: int | None,
                       text_field: str | None) -> Iterator[Item]:
    key = _text_key(row.keys(), text_field)
    if key is None:
        wanted = text_field or " or ".join(TEXT_FIELDS)
        yield Problem(path, line, f"record has no text field ({wanted}); fields are {sorted(row)}")
        return
    value = row[key]
    if not isinstance(value, str):
        yield Problem(path, line, f"field '{key}' is {type(value).__name__}, not text")
        return
    text = _normalise_newlines(value)
    for item in build_document(text, source_path, row, 0):
        if isinstance(item, Problem) and item.path == source_path:
            item = Problem(path, line, item.reason, item.level)
        yield item


def _is_saved_dataset(path: Path) -> bool:
    return path.is_dir() and ((path / "dataset_dict.json").exists() or
                              ((path / "dataset_info.json").exists() and (path / "state.json").exists()))


def read_dataset(path: Path, text_field: str | None = None) -> Iterator[Item]:
    """Rows of a Hugging Face dataset saved with `save_to_disk` (a Dataset or every split of a DatasetDict)."""
    import datasets  # heavy; only for dataset inputs

    try:
        loaded = datasets.load_from_disk(str(path))
    except Exception as e:  # datasets raises many kinds; the user needs the reason, not the type
        yield Problem(str(path), None, f"cannot load the saved dataset: {e}")
        return
    splits = loaded.items() if isinstance(loaded, datasets.DatasetDict) else [("", loaded)]
    for split, dataset in splits:
        where = f"{path}[{split}]" if split else str(path)
        for index, row in enumerate(dataset):
            yield from _document_from_row(row, f"{where}:{index}", where, index, text_field)
