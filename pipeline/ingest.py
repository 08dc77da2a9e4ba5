"""Ingest: files, folders and datasets → `Document` records, and `Problem` records for what cannot be read.

`read_inputs(paths)` streams both; nothing is dropped silently: an unreadable file, a malformed line
or bad front matter becomes a `Problem` with its path, line and reason, and reading goes on. Text that is
not UTF-8 but reads cleanly as Windows-1252 is read with a warning; an HTML page saved as text is read
without its markup; a document over the size limit is set aside before it is read.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from dateutil import parser as date_parser

from .html_text import looks_like_html, visible_text
from .records import Document, Problem, Turn

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text"}
HTML_SUFFIXES = {".html", ".htm"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
CSV_SUFFIXES = {".csv", ".tsv"}
ROW_SUFFIXES = JSONL_SUFFIXES | CSV_SUFFIXES  # a file of many documents: the size limit applies to each row
SUPPORTED = TEXT_SUFFIXES | HTML_SUFFIXES | ROW_SUFFIXES
# A transcript or article is well under 1 MB; past this a document is more likely a dump than a text, and
# segmenting it would hold gigabytes at once. Raise it with `redline run --max-document-mb`.
MAX_DOCUMENT_MB = 5.0
TEXT_FIELDS = ("text", "content", "body", "transcript")
META_FIELDS = ("title", "date", "speaker", "source_type", "source", "url")
SOURCE_TYPES = {"speech", "press_remarks", "interview", "news_report", "statement", "article"}

# A speaker label at the start of a line: "Jane Smith: ...", "Q: ...", "PRESIDENT SMITH: ...".
_TURN_LABEL = re.compile(r"^[ \t]*(?P<label>[A-Z][\w.'’\-]*(?:[ \t]+[\w.'’\-]+){0,4})[ \t]*:[ \t]+(?=\S)", re.M)
_LABEL_LOWER_OK = {"of", "the", "de", "von", "der", "van", "la", "al", "bin", "da"}
_NOT_SPEAKERS = {"key points", "note", "update", "photo", "source", "read more", "watch", "editor's note",
                 "related", "see also", "correction", "warning", "disclaimer", "image", "caption", "video"}
Item = Document | Problem
# Characters Windows-1252 text holds beyond ASCII letters: typographic quotes and dashes, currency, symbols.
_CP1252_PUNCTUATION = set("“”‘’‚„–—…•€£¥¢©®™°±×÷§¶·«»‹›¡¿\u00a0")
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]+")


@dataclass(frozen=True)
class ReadOptions:
    """How inputs are read: the text field of JSONL/CSV rows and datasets, and the largest document taken."""

    text_field: str | None = None
    max_document_mb: float = MAX_DOCUMENT_MB

    def size_problem(self, size: int) -> str | None:
        """Why a document of `size` bytes is set aside, or None when it is within the limit."""
        if size <= self.max_document_mb * 1_000_000:
            return None
        return (f"document is {size / 1_000_000:.1f} MB, over the {self.max_document_mb:g} MB limit per document; "
                "split it into smaller files or raise the limit with --max-document-mb")


def read_inputs(paths: Iterable[str | Path], text_field: str | None = None,
                max_document_mb: float = MAX_DOCUMENT_MB) -> Iterator[Item]:
    """Documents and problems from files, folders (recursive) and saved Hugging Face datasets, in order."""
    options = ReadOptions(text_field, max_document_mb)
    for path in paths:
        path = Path(path)
        if not path.exists():
            yield Problem(str(path), None, "no such file or folder")
        elif _is_saved_dataset(path):
            yield from read_dataset(path, options)
        elif path.is_dir():
            yield from _read_folder(path, options)
        else:
            yield from read_file(path, options)


def _read_folder(folder: Path, options: ReadOptions) -> Iterator[Item]:
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part.startswith((".", "_")) for part in rel.parts):
            continue
        if path.is_dir():
            if _is_saved_dataset(path):
                yield from read_dataset(path, options)
            continue
        if any(_is_saved_dataset(parent) for parent in path.parents if folder in parent.parents or parent == folder):
            continue
        if path.name.lower().startswith("readme"):
            continue  # a folder's description, not a document
        if path.suffix.lower() not in SUPPORTED:
            yield Problem(str(path), None, f"unsupported file type '{path.suffix or '(none)'}'; "
                          f"Redline reads {', '.join(sorted(SUPPORTED))}", level="warning")
            continue
        yield from read_file(path, options)


def read_file(path: Path, options: ReadOptions = ReadOptions()) -> Iterator[Item]:
    """One file: text with optional YAML front matter, HTML, JSONL or CSV, by suffix (text when unknown)."""
    suffix = path.suffix.lower()
    try:
        too_large = None if suffix in ROW_SUFFIXES else options.size_problem(path.stat().st_size)
        if too_large:  # set aside unread
            yield Problem(str(path), None, too_large)
            return
        data = path.read_bytes()
    except OSError as e:
        yield Problem(str(path), None, f"cannot read file: {e.strerror or e}")
        return
    try:
        text, encoding = decode_bytes(data)
    except ValueError as e:
        yield Problem(str(path), _line_of_byte(data, e), str(e))
        return
    if encoding == "cp1252":
        yield Problem(str(path), None, "not UTF-8; read as Windows-1252 (cp1252) text; re-save it as UTF-8 "
                      "if any character looks wrong", level="warning")
    if suffix in JSONL_SUFFIXES:
        yield from _read_jsonl(text, str(path), options)
    elif suffix in CSV_SUFFIXES:
        yield from _read_csv(text, str(path), options, delimiter="\t" if suffix == ".tsv" else ",")
    elif suffix in HTML_SUFFIXES or looks_like_html(text):
        yield from read_html(text, str(path), warn=suffix not in HTML_SUFFIXES)
    else:
        yield from read_text(text, str(path))


class _DecodeError(ValueError):
    def __init__(self, message: str, position: int | None = None):
        super().__init__(message)
        self.position = position


def decode_bytes(data: bytes) -> tuple[str, str]:
    """(text, encoding) from UTF-8 (with or without BOM), UTF-16 with a BOM, or Windows-1252 text that is not
    UTF-8; anything else raises ValueError with the reason."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return _normalise_newlines(data.decode("utf-16")), "utf-16"
        except UnicodeDecodeError as e:
            raise _DecodeError(f"invalid UTF-16 at byte {e.start}", e.start) from e
    head = data[:65536]
    if b"\x00" in head or _control_share(head) > 0.1:
        raise _DecodeError("binary file (not text); convert it to UTF-8 text first", None)
    try:
        return _normalise_newlines(data.decode("utf-8")), "utf-8"
    except UnicodeDecodeError as e:
        text = _as_cp1252(data)
        if text is None:
            raise _DecodeError(f"not valid UTF-8 (byte 0x{data[e.start]:02x} at offset {e.start}) and not "
                               "Windows-1252 text either; re-save the file as UTF-8", e.start) from e
        return _normalise_newlines(text), "cp1252"


def _as_cp1252(data: bytes) -> str | None:
    """The text when `data` reads as Windows-1252 prose (Latin letters and typographic marks, mostly
    ASCII), else None: broken UTF-8, Cyrillic in cp1251 and binary would all decode, but to gibberish."""
    if _UTF8_SEQUENCE.search(data):
        return None  # UTF-8 with a damaged byte, not a single-byte encoding
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        return None  # 0x81, 0x8d, 0x8f, 0x90 and 0x9d are not characters in cp1252
    beyond_ascii = [c for c in text if ord(c) > 127]
    if any(not (c.isalpha() or c in _CP1252_PUNCTUATION) for c in beyond_ascii):
        return None
    letters = sum(1 for c in text if c.isalpha())
    return text if letters and len(beyond_ascii) <= 0.2 * letters else None


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
    key_lines: dict[str, int] = {}
    if text.startswith("---\n"):
        close = re.search(r"^---[ \t]*$\n?", text[4:], re.M)
        if close is None:
            yield Problem(source_path, 1, "front matter opened with '---' is never closed by a '---' line")
            return
        front = text[4:4 + close.start()]
        try:
            loaded = yaml.load(front, Loader=_FrontMatterLoader)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            line = mark.line + 2 if mark is not None else 1
            yield Problem(source_path, line, f"front matter is not valid YAML: {getattr(e, 'problem', e)}")
            return
        except ValueError as e:  # a value its tag cannot hold: `x: !!float abc`
            yield Problem(source_path, 1, f"front matter holds a value YAML cannot read: {e}")
            return
        if loaded is not None and not isinstance(loaded, dict):
            yield Problem(source_path, 2, "front matter must be a mapping of keys to values")
            return
        meta = loaded or {}
        body_start = 4 + close.end()
        key_lines = {m.group(1): front.count("\n", 0, m.start()) + 2 for m in _FRONT_MATTER_KEY.finditer(front)}
    yield from build_document(text, source_path, meta, body_start, key_lines)


class _FrontMatterLoader(yaml.SafeLoader):
    """Safe YAML that leaves dates as written, so an impossible one (2025-02-30) reaches `normalise_date`
    and is reported with its line instead of failing inside the YAML reader."""


_FrontMatterLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_FRONT_MATTER_KEY = re.compile(r"^([A-Za-z_][\w-]*)[ \t]*:", re.M)


def build_document(text: str, source_path: str, meta: Mapping[str, Any], body_start: int = 0,
                   key_lines: Mapping[str, int] | None = None) -> Iterator[Item]:
    """A `Document` (and warnings) from text and metadata; shared by every reader.

    `key_lines` gives the line of each metadata key, for problems; a date that is given but cannot be read
    sets the document aside: stored undated, it would be stored again under another id once the date is fixed.
    """
    key_lines = key_lines or {}
    if not text[body_start:].strip():
        yield Problem(source_path, None, "no text (the document body is empty)")
        return
    if _clean(meta.get("date")) is None:
        date = None
        yield Problem(source_path, None, "no date; the document's statements will be undated", level="warning")
    else:
        try:
            date = normalise_date(meta["date"])
        except ValueError as e:
            yield Problem(source_path, key_lines.get("date"), f"{e}; fix the date (or remove it) and run again")
            return
    source_type = _clean(meta.get("source_type"))
    if source_type is not None and source_type not in SOURCE_TYPES:
        yield Problem(source_path, key_lines.get("source_type"), f"source_type '{source_type}' is not one of "
                      f"{sorted(SOURCE_TYPES)}; kept as given", level="warning")
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


def normalise_date(value: Any) -> str:
    """An ISO date (YYYY-MM-DD) from ISO strings, 'September 3, 2025', '3 Sept. 2025', dates, datetimes."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    iso = re.fullmatch(r"(\d{4})-(\d{1,2})(?:-(\d{1,2}))?", text)  # a month alone is its first day
    if iso:
        try:
            return dt.date(int(iso[1]), int(iso[2]), int(iso[3] or 1)).isoformat()
        except ValueError as e:
            raise ValueError(f"date '{text}' does not exist ({e})") from e
    try:
        cleaned = re.sub(r"\bSept\b\.?", "Sep", text, flags=re.I)
        parsed = date_parser.parse(cleaned, default=dt.datetime(1, 1, 1), fuzzy=False)
    except (ValueError, OverflowError, TypeError) as e:
        raise ValueError(f"date '{text}' is not a date Redline can read (use YYYY-MM-DD)") from e
    if parsed.year == 1:
        raise ValueError(f"date '{text}' has no year")
    return parsed.date().isoformat()


# --- web pages ----------------------------------------------------------------------------------


def read_html(markup: str, source_path: str, warn: bool = False) -> Iterator[Item]:
    """A web page as a document: its visible text, the page title as its title. `warn` notes that a file named
    as text held HTML."""
    if warn:
        yield Problem(source_path, None, "an HTML page saved as text: its markup was removed and its visible "
                      "text read", level="warning")
    text, title = visible_text(markup)
    yield from build_document(text + "\n" if text else "", source_path, {"title": title})


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


def _read_jsonl(text: str, path: str, options: ReadOptions) -> Iterator[Item]:
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
        yield from _document_from_row(row, f"{path}:{lineno}", path, lineno, options)
    if rows == 0:
        yield Problem(path, None, "empty file")


def _read_csv(text: str, path: str, options: ReadOptions, delimiter: str) -> Iterator[Item]:
    csv.field_size_limit(2**31 - 1)  # the default (128 KB) would stop the file at its first long transcript
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    columns = reader.fieldnames or []
    if not columns:
        yield Problem(path, None, "empty file")
        return
    if _text_key(columns, options.text_field) is None:
        wanted = options.text_field or " or ".join(TEXT_FIELDS)
        yield Problem(path, 1, f"no text column ({wanted}); columns are {columns}")
        return
    end_line = reader.line_num
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            yield Problem(path, reader.line_num, f"malformed CSV: {e}")
            end_line = reader.line_num
            continue
        start_line, end_line = end_line + 1, reader.line_num  # a quoted field may span several lines
        yield from _csv_row(row, columns, path, start_line, options)


def _csv_row(row: dict, columns: list[str], path: str, line: int, options: ReadOptions) -> Iterator[Item]:
    """A CSV row as a document; extra fields set it aside, missing ones are read as empty (with a warning)."""
    if None in row:
        yield Problem(path, line, f"row has {len(columns) + len(row[None])} fields, header has {len(columns)}")
        return
    missing = [c for c in columns if row[c] is None]
    fields = f"row has {len(columns) - len(missing)} fields, header has {len(columns)}"
    text_key = _text_key(columns, options.text_field)
    if text_key in missing:
        yield Problem(path, line, f"{fields}; its text column '{text_key}' is missing")
        return
    if missing:
        yield Problem(path, line, f"{fields}; {', '.join(missing)} read as empty", level="warning")
    yield from _document_from_row(row, f"{path}:{line}", path, line, options)


def _text_key(keys: Iterable[str], text_field: str | None) -> str | None:
    keys = list(keys)
    for key in ([text_field] if text_field else TEXT_FIELDS):
        if key in keys:
            return key
    return None


def _document_from_row(row: Mapping[str, Any], source_path: str, path: str, line: int | None,
                       options: ReadOptions) -> Iterator[Item]:
    key = _text_key(row.keys(), options.text_field)
    if key is None:
        wanted = options.text_field or " or ".join(TEXT_FIELDS)
        yield Problem(path, line, f"record has no text field ({wanted}); fields are {sorted(row)}")
        return
    value = row[key]
    if not isinstance(value, str):
        yield Problem(path, line, f"field '{key}' is {type(value).__name__}, not text")
        return
    too_large = options.size_problem(len(value.encode("utf-8", "surrogatepass")))
    if too_large:
        yield Problem(path, line, too_large)
        return
    text = _normalise_newlines(value)
    for item in build_document(text, source_path, row, 0):
        if isinstance(item, Problem) and item.path == source_path:
            item = Problem(path, line, item.reason, item.level)
        yield item


def _is_saved_dataset(path: Path) -> bool:
    return path.is_dir() and ((path / "dataset_dict.json").exists() or
                              ((path / "dataset_info.json").exists() and (path / "state.json").exists()))


def read_dataset(path: Path, options: ReadOptions = ReadOptions()) -> Iterator[Item]:
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
            yield from _document_from_row(row, f"{where}:{index}", where, index, options)
