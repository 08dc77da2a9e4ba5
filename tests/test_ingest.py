"""Ingest: every input form is read with its metadata, and bad input becomes a Problem with path and line."""

from __future__ import annotations

import codecs
import json

import pytest

from pipeline.ingest import find_turns, normalise_date, read_inputs
from pipeline.records import Document, Problem


def _read(*paths):
    items = list(read_inputs(paths))
    return [i for i in items if isinstance(i, Document)], [i for i in items if isinstance(i, Problem)]


@pytest.mark.parametrize("given, expected", [
    ("2025-09-03", "2025-09-03"), ("September 3, 2025", "2025-09-03"), ("3 September 2025", "2025-09-03"),
    ("Sept. 3, 2025", "2025-09-03"), ("2022-03", "2022-03-01"), ("3 Sep 2025", "2025-09-03"),
])
def test_dates_in_usual_forms_are_normalised(given, expected):
    assert normalise_date(given) == expected


@pytest.mark.parametrize("bad", ["2025-02-30", "next Tuesday", "September"])
def test_impossible_or_yearless_dates_are_refused(bad):
    with pytest.raises(ValueError):
        normalise_date(bad)


def test_front_matter_metadata_is_read_and_offsets_index_the_whole_file(tmp_path):
    path = tmp_path / "speech.md"
    path.write_text("---\ntitle: Terms\ndate: June 14, 2024\nspeaker: Vladimir Putin\nsource_type: speech\n"
                    "url: http://example.org/x\n---\nOur conditions are simple.\n", encoding="utf-8")
    (doc,), problems = _read(path)
    assert (doc.title, doc.date, doc.speaker, doc.source_type, doc.url) == \
        ("Terms", "2024-06-14", "Vladimir Putin", "speech", "http://example.org/x")
    assert doc.text[doc.body_start:].startswith("Our conditions")
    assert problems == []


def test_missing_date_is_allowed_and_reported(tmp_path):
    path = tmp_path / "undated.txt"
    path.write_text("Kyiv will not cede land.", encoding="utf-8")
    (doc,), problems = _read(path)
    assert doc.date is None
    assert [p.level for p in problems] == ["warning"] and "no date" in problems[0].reason


def test_transcript_turns_keep_each_speaker():
    text = ("Question: Will you meet him?\nVladimir Putin: I am ready, but not to sign anything.\n"
            "PRESIDENT ZELENSKY: We will not trade our land.\nQ: And the truce?\n")
    turns = find_turns(text)
    assert [t.label for t in turns] == ["Question", "Vladimir Putin", "PRESIDENT ZELENSKY", "Q"]
    assert text[turns[1].start:turns[1].end] == "I am ready, but not to sign anything."


def test_a_single_heading_with_a_colon_is_not_a_transcript():
    assert find_turns("Key Points: the talks stalled.\nThe Kremlin said nothing.\n") == ()


def test_jsonl_rows_become_documents_and_a_malformed_line_is_quarantined(tmp_path):
    path = tmp_path / "feed.jsonl"
    path.write_text(json.dumps({"text": "Moscow rejects the plan.", "date": "2025-03-01", "speaker": "author"}) + "\n"
                    + "{not json\n" + json.dumps({"note": "no text field here"}) + "\n"
                    + json.dumps({"content": "Kyiv accepts the truce.", "title": "T"}) + "\n", encoding="utf-8")
    docs, problems = _read(path)
    assert [d.text for d in docs] == ["Moscow rejects the plan.", "Kyiv accepts the truce."]
    assert docs[0].date == "2025-03-01" and docs[0].source_path.endswith("feed.jsonl:1")
    errors = [p for p in problems if p.level == "error"]
    assert [(p.line, "malformed JSON" in p.reason) for p in errors][:1] == [(2, True)]
    assert errors[1].line == 3 and "no text field" in errors[1].reason


def test_csv_with_embedded_newlines_and_metadata_columns(tmp_path):
    path = tmp_path / "remarks.csv"
    path.write_text('text,date,speaker\n"Line one.\nLine two.",2024-06-14,Vladimir Putin\n', encoding="utf-8")
    (doc,), _ = _read(path)
    assert doc.text == "Line one.\nLine two." and doc.speaker == "Vladimir Putin"


def test_csv_without_a_text_column_is_quarantined_with_its_columns(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("speaker,date\nPutin,2024-01-01\n", encoding="utf-8")
    docs, (problem,) = _read(path)
    assert docs == [] and "no text column" in problem.reason and "speaker" in problem.reason


@pytest.mark.parametrize("name, data, reason", [
    ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    ("cyrillic.txt", "Киев отказался от переговоров".encode("cp1251"), "not valid UTF-8"),
    ("empty.md", b"", "empty"),
    ("front.md", b"---\ntitle: [unclosed\n---\nBody.\n", "front matter is not valid YAML"),
    ("open.md", b"---\ntitle: x\nBody without a closing line.\n", "never closed"),
])
def test_unreadable_input_is_reported_with_path_and_reason(tmp_path, name, data, reason):
    path = tmp_path / name
    path.write_bytes(data)
    docs, problems = _read(path)
    assert docs == []
    assert problems[0].path == str(path) and reason in problems[0].reason and problems[0].level == "error"


def test_utf16_with_bom_is_read(tmp_path):
    path = tmp_path / "utf16.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + "Москва не возражает.".encode("utf-16-le"))
    (doc,), _ = _read(path)
    assert doc.text == "Москва не возражает."


def test_folders_are_read_recursively_and_bad_files_do_not_stop_the_rest(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "one.txt").write_text("First.", encoding="utf-8")
    (tmp_path / "a" / "b" / "two.md").write_text("Second.", encoding="utf-8")
    (tmp_path / "a" / "b" / "broken.txt").write_bytes(b"\x00\x01\x02")
    (tmp_path / "a" / "README.md").write_text("About this folder.", encoding="utf-8")
    docs, problems = _read(tmp_path)
    assert sorted(d.text for d in docs) == ["First.", "Second."]
    assert any(p.path.endswith("broken.txt") and p.level == "error" for p in problems)


def test_the_same_text_gets_the_same_id_wherever_it_comes_from(tmp_path):
    (tmp_path / "x.txt").write_text("Same words.", encoding="utf-8")
    (tmp_path / "y.txt").write_text("Same words.", encoding="utf-8")
    docs, _ = _read(tmp_path / "x.txt", tmp_path / "y.txt")
    assert docs[0].id == docs[1].id


def test_saved_hugging_face_dataset_is_read(tmp_path):
    datasets = pytest.importorskip("datasets")
    rows = {"text": ["Lavrov said Kyiv must accept the new realities.", "Zelensky said no."],
            "date": ["2023-01-05", "2023-01-06"]}
    datasets.DatasetDict({"train": datasets.Dataset.from_dict(rows)}).save_to_disk(str(tmp_path / "ds"))
    docs, _ = _read(tmp_path / "ds")
    assert [d.date for d in docs] == ["2023-01-05", "2023-01-06"]
    assert "[train]" in docs[0].source_path


def test_a_missing_path_is_a_problem_not_a_crash(tmp_path):
    docs, (problem,) = _read(tmp_path / "nope.txt")
    assert docs == [] and "no such file" in problem.reason
