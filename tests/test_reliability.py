"""Reliability: hostile input is read or quarantined with path, line and reason, and the run goes on; two
processes on one store never corrupt it; every prediction says which model and run made it."""

from __future__ import annotations

import codecs
import csv
import json
import os
import shutil
import subprocess
import sys
import time
import tracemalloc

import pytest
from typer.testing import CliRunner

from pipeline.engine import run, statements_for
from pipeline.ingest import read_inputs
from pipeline.records import Document, Problem
from pipeline.segment import MAX_CHUNK_CHARS, document_chunks
from pipeline.store import Store

from .test_classify import tiny_config, tiny_corpus, tiny_model  # noqa: F401  (fixtures: a model trained in seconds)


def _read(*paths, **options):
    items = list(read_inputs(paths, **options))
    return [i for i in items if isinstance(i, Document)], [i for i in items if isinstance(i, Problem)]


def _errors(problems):
    return [p for p in problems if p.level == "error"]


def _write(path, text: str, encoding: str = "utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def _redline(*args, **popen):
    return subprocess.Popen([sys.executable, "-m", "pipeline.cli", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


# --- very large documents and very long lines ------------------------------------------------------


def test_a_50_mb_document_is_set_aside_unread_and_the_run_goes_on(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "note.md").write_text("---\ndate: 2025-03-11\n---\nZelensky said Ukraine will not cede land.\n",
                                    encoding="utf-8")
    run([folder], tmp_path / "warm.duckdb")  # spaCy and every lazy import loaded before memory is traced
    sentence = b"Lavrov said Kyiv must withdraw from Donetsk before any talks. "
    with (folder / "dump.txt").open("wb") as handle:
        for _ in range(50_000_000 // (len(sentence) * 1000) + 1):
            handle.write(sentence * 1000)
    tracemalloc.start()
    started = time.perf_counter()
    summary = run([folder], tmp_path / "s.duckdb")
    seconds, (_, peak) = time.perf_counter() - started, tracemalloc.get_traced_memory()
    tracemalloc.stop()
    (problem,) = summary.quarantined
    assert problem.path.endswith("dump.txt") and "50.0 MB, over the 5 MB limit" in problem.reason
    assert "--max-document-mb" in problem.reason
    assert summary.documents_added == 1 and summary.statements_added == 1
    (folder / "dump.txt").unlink()
    assert peak < 10_000_000 and seconds < 60, (peak, seconds)  # never read into memory, never segmented


def test_the_size_limit_applies_to_each_row_of_a_jsonl_file(tmp_path):
    path = tmp_path / "feed.jsonl"
    rows = [{"text": "Peskov said the talks had stalled.", "date": "2025-01-02"},
            {"text": "Lavrov repeated the demand. " * 100, "date": "2025-01-03"},
            {"text": "Sybiha said Kyiv was ready to meet.", "date": "2025-01-04"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    docs, problems = _read(path, max_document_mb=0.001)
    assert [d.date for d in docs] == ["2025-01-02", "2025-01-04"]
    (error,) = _errors(problems)
    assert (error.line, "over the 0.001 MB limit" in error.reason) == (2, True)


def test_a_1_mb_single_line_goes_to_spacy_in_pieces_cut_at_sentence_ends():
    line = " ".join(f"Peskov said on day {k} that the talks in Geneva would resume next week." for k in range(15_000))
    assert len(line) > 1_000_000 and "\n" not in line
    document = Document(id="d", text=line, source_path="one-line.txt")
    chunks = list(document_chunks(document))
    assert len(chunks) > 100 and all(end - start <= MAX_CHUNK_CHARS for start, end, _ in chunks)
    assert "".join(line[start:end] for start, end, _ in chunks) == line  # nothing lost, nothing repeated
    assert all(line[start:end].rstrip().endswith(".") for start, end, _ in chunks)


def test_a_line_longer_than_spacys_limit_is_read(tmp_path, nlp, resolver, monkeypatch):
    # spaCy refuses a text over nlp.max_length (1,000,000 characters); the limit is scaled down here so the
    # test reads 40 thousand characters instead of a million in the same way
    monkeypatch.setattr(nlp, "max_length", 20_000)
    line = " ".join(f"Zelensky said on day {k} that Ukraine would not give up Donetsk." for k in range(600))
    documents, _ = _read(_write(tmp_path / "long.txt", line))
    statements = statements_for(documents, resolver, nlp)
    assert len(statements) == 600 and {s.actor for s in statements} == {"Volodymyr Zelensky"}
    assert all(line[s.start:s.end] == s.text for s in statements)


# --- encodings ----------------------------------------------------------------------------------


def test_windows_1252_text_is_read_with_a_warning(tmp_path):
    text = "Zelensky said the “peace plan” was naïve — no café talks in Genève.\n"
    (doc,), problems = _read(_write(tmp_path / "latin.txt", text, "cp1252"))
    assert doc.text == text
    assert any("read as Windows-1252" in p.reason and p.level == "warning" for p in problems)


@pytest.mark.parametrize("name, data", [
    ("cp1251.txt", "Песков заявил, что переговоры зашли в тупик.".encode("cp1251")),  # Cyrillic, not cp1252
    ("damaged.txt", "Zelensky said café — twice.".encode("utf-8").replace(b"\xe2\x80\x94", b"\xe2\x80")),
    ("undefined.txt", b"Peskov said \x81\x8d the talks stalled."),  # bytes cp1252 does not define
])
def test_bytes_that_are_neither_utf8_nor_cp1252_text_are_quarantined(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    docs, problems = _read(path)
    assert docs == []
    (error,) = _errors(problems)
    assert error.path == str(path) and error.line == 1 and "not valid UTF-8" in error.reason


def test_right_to_left_cyrillic_and_emoji_text_is_read_with_valid_offsets(tmp_path, nlp, resolver):
    texts = {"ar.txt": "قال لافروف إن على كييف أن تنسحب من دونيتسك.\n",
             "he.txt": "‏אמר זלנסקי כי אוקראינה לא תוותר על אדמתה.\n",
             "ru.txt": "Лавров заявил, что Киев должен уйти из Донбасса.\n",
             "emoji.md": "---\ndate: 2025-03-11\n---\nZelensky said 🇺🇦 will never give up Donetsk 🙂.\n"}
    for name, text in texts.items():
        _write(tmp_path / name, text)
    documents, problems = _read(tmp_path)
    assert sorted(d.text[d.body_start:] for d in documents) == sorted(t.split("---\n")[-1] for t in texts.values())
    assert _errors(problems) == []
    statements = statements_for(documents, resolver, nlp)
    by_doc = {d.id: d for d in documents}
    assert all(by_doc[s.doc_id].text[s.start:s.end] == s.text for s in statements)
    (emoji,) = [s for s in statements if "🙂" in s.text]
    assert emoji.actor == "Volodymyr Zelensky"


# --- markup and tables --------------------------------------------------------------------------

PAGE = """<!DOCTYPE html>
<html><head><title>Talks  in Geneva</title><style>p { color: red }</style>
<script>var said = "Putin said nothing";</script></head>
<body><nav><a href="/">Home</a></nav>
<p>Lavrov said Kyiv must
   withdraw from <b>Donetsk</b>.</p><p>Zelensky said there would be no deal &amp; no retreat.</p>
</body></html>
"""


def test_html_saved_as_text_is_read_without_its_markup(tmp_path, nlp, resolver):
    (doc,), problems = _read(_write(tmp_path / "page.txt", PAGE))
    assert doc.text == "Home\nLavrov said Kyiv must withdraw from Donetsk.\nZelensky said there would be no deal & no retreat.\n"
    assert doc.title == "Talks in Geneva"
    assert any("HTML page saved as text" in p.reason for p in problems)
    holders = {s.text: s.actor for s in statements_for([doc], resolver, nlp)}
    assert holders["Lavrov said Kyiv must withdraw from Donetsk."] == "Sergei Lavrov"
    (html_doc,), html_problems = _read(_write(tmp_path / "page.html", PAGE))
    assert html_doc.text == doc.text and not any("HTML" in p.reason for p in html_problems)


def test_csv_rows_with_embedded_newlines_missing_or_extra_columns_keep_their_lines(tmp_path):
    path = _write(tmp_path / "remarks.csv",
                  'date,speaker,text\n'
                  '2024-06-14,Vladimir Putin,"Line one.\nLine two."\n'  # lines 2-3
                  '2024-06-15,Dmitry Peskov\n'  # line 4: no text column
                  '2024-06-16\n'  # line 5: no speaker, no text
                  '2024-06-17,Sergei Lavrov,Too,many\n'  # line 6
                  f'2024-06-18,Sergei Lavrov,"{"Long remarks. " * 12_000}"\n'  # line 7: past csv's 128 KB field limit
                  ',,"No date, no speaker."\n')  # line 8
    docs, problems = _read(path)
    assert [d.source_path.rsplit(":", 1)[1] for d in docs] == ["2", "7", "8"]
    assert docs[0].text == "Line one.\nLine two." and docs[0].speaker == "Vladimir Putin"
    errors = {p.line: p.reason for p in _errors(problems)}
    assert errors.keys() == {4, 5, 6}
    assert "text column 'text' is missing" in errors[4] and "4 fields, header has 3" in errors[6]


def test_short_csv_rows_with_their_text_are_read_with_a_warning(tmp_path):
    docs, problems = _read(_write(tmp_path / "short.csv", 'text,date,speaker\n"Peskov said no.",2024-06-15\n'))
    assert [d.date for d in docs] == ["2024-06-15"]
    assert [(p.line, p.level) for p in problems if "speaker read as empty" in p.reason] == [(2, "warning")]


# --- metadata -----------------------------------------------------------------------------------


@pytest.mark.parametrize("front, line, reason", [
    ("title: Talks\ndate: 2025-02-30\n", 3, "date '2025-02-30' does not exist"),
    ("date: 2025-13-01\n", 2, "does not exist"),
    ("title: x\nsource: y\ndate: next Tuesday\n", 4, "not a date Redline can read"),
    ("date: 2025-01-02\nweight: !!float heavy\n", 1, "YAML cannot read"),
])
def test_front_matter_with_an_impossible_date_or_value_is_quarantined_with_its_line(tmp_path, front, line, reason):
    path = _write(tmp_path / "bad.md", f"---\n{front}---\nPeskov said the talks had stalled.\n")
    docs, problems = _read(path)
    assert docs == []
    (error,) = _errors(problems)
    assert (error.path, error.line) == (str(path), line) and reason in error.reason


def test_a_jsonl_row_with_an_impossible_date_is_quarantined_and_the_rest_read(tmp_path):
    path = _write(tmp_path / "feed.jsonl", json.dumps({"text": "Peskov said no.", "date": "2024-02-30"}) + "\n"
                  + json.dumps({"text": "Lavrov said no.", "date": "2024-02-29"}) + "\n")
    docs, problems = _read(path)
    assert [d.date for d in docs] == ["2024-02-29"]
    assert [(p.line, "does not exist" in p.reason) for p in _errors(problems)] == [(1, True)]


def test_a_folder_of_hostile_files_is_read_or_quarantined_and_the_run_completes(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    good = "---\ndate: 2025-03-{day}\n---\nZelensky said Ukraine would not cede Donetsk, report {day}.\n"
    for day in range(10, 14):
        _write(folder / f"good{day}.md", good.format(day=day))
    hostile = {"binary.txt": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "empty.txt": b"",
               "utf16.txt": codecs.BOM_UTF16_LE + "Лавров заявил, что Киев должен уйти.".encode("utf-16-le"),
               "cp1251.txt": "Песков заявил, что переговоры зашли в тупик.".encode("cp1251"),
               "bad.jsonl": b'{"text": "Peskov said no.", "date": "2025-01-02"}\n{broken\n',
               "date.md": b"---\ndate: 2025-02-30\n---\nPeskov said no.\n", "yaml.md": b"---\ntitle: [x\n---\nNo.\n",
               "big.txt": b"Lavrov said Kyiv must withdraw. " * 400}
    for name, data in hostile.items():
        (folder / name).write_bytes(data)
    store = tmp_path / "s.duckdb"
    result = _redline("run", folder, "--store", store, "--no-classify", "--max-document-mb", "0.01")
    _, stderr = result.communicate(timeout=300)
    assert result.returncode == 0, stderr
    assert "Traceback" not in stderr
    quarantined = {line.split(": ", 1)[0].rsplit("/", 1)[1]: line.split(": ", 1)[1]
                   for line in stderr.splitlines() if line.startswith("quarantined")}
    assert quarantined.keys() == {"binary.txt", "empty.txt", "cp1251.txt:1", "bad.jsonl:2", "date.md:2", "yaml.md:3",
                                  "big.txt"}
    assert "over the 0.01 MB limit" in quarantined["big.txt"] and "does not exist" in quarantined["date.md:2"]
    with Store(store, read_only=True) as db:
        assert db.counts()["documents"] == 6  # the four good files, the UTF-16 file and bad.jsonl's first row
        assert len([q for q in db.quarantined() if q["level"] == "error"]) == 7


# --- two processes on one store -----------------------------------------------------------------


def test_a_second_run_and_a_reader_stop_clearly_while_a_run_holds_the_store(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    _write(folder / "a.md", "---\ndate: 2025-03-11\n---\nZelensky said Ukraine would not cede Donetsk.\n")
    _write(folder / "b.md", "---\ndate: 2025-03-12\n---\nPeskov said Moscow saw no basis for talks.\n")
    held = tmp_path / "held.txt"
    os.mkfifo(held)  # the first run opens the store, then waits here until the test writes the file
    store = tmp_path / "s.duckdb"
    first = _redline("run", held, folder, "--store", store, "--no-classify", "--batch-size", "1")
    try:
        _wait_for(store.with_name(store.name + ".wal"), first)
        second = _redline("run", folder, "--store", store, "--no-classify")
        reader = _redline("statements", "--store", store)
        for process in (second, reader):
            _, stderr = process.communicate(timeout=300)
            assert process.returncode == 2 and "Traceback" not in stderr
            assert stderr.strip() == f"error: {store} is in use by another Redline process (PID {first.pid}); " \
                                     "wait for it to finish or use another --store"
        assert first.poll() is None  # still holding the store when both were turned away
        held.write_text("Lavrov said the West must stop arming Kyiv.\n", encoding="utf-8")
        _, stderr = first.communicate(timeout=300)
    finally:
        first.kill()
    assert first.returncode == 0, stderr
    with Store(store, read_only=True) as db:
        query = db.db.execute
        assert db.counts()["documents"] == 3
        assert query("SELECT count(*) - count(DISTINCT id) FROM statements").fetchone()[0] == 0
        assert query("SELECT count(*) FROM statements").fetchone()[0] == 3
        assert [r["status"] for r in db.runs()] == ["done"]  # the turned-away run never started


def _wait_for(path, process, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


# --- provenance: which model and run made each prediction ----------------------------------------

PROVENANCE_DOCUMENTS = {
    "2024-02-10": "Putin said Ukraine will never join NATO, that is a red line for Russia.\n"
                  "Zelensky said Ukraine wants an invitation to join NATO at the next summit.\n",
    "2024-03-05": "Lavrov said NATO membership for Ukraine is absolutely unacceptable to Moscow.\n",
    "2024-05-12": "Peskov said Moscow does not object to Ukraine joining the European Union.\n"
                  "Zelensky said the European Union should welcome Ukraine as a member state.\n",
    "2024-06-20": "Putin said Ukraine will never join NATO under any circumstances.\n",
}


@pytest.fixture(scope="module")
def two_models(tmp_path_factory, request):
    """A store classified by the default model, then by a tiny one; the default's predictions as they were."""
    import pipeline

    tiny_folder = request.getfixturevalue("tiny_model")
    folder = tmp_path_factory.mktemp("provenance")
    for date, text in PROVENANCE_DOCUMENTS.items():
        _write(folder / f"{date}.md", f"---\ndate: {date}\n---\n{text}")
    store = tmp_path_factory.mktemp("store") / "s.duckdb"
    default, tiny = pipeline.load(), pipeline.load(tiny_folder)
    run([folder], store, classifier=default)
    before = _predictions(store, default.model_id)
    run([folder], store, classifier=tiny)
    return {"store": store, "folder": folder, "default": default.model_id, "tiny": tiny.model_id,
            "default_before": before}


def _predictions(store, model_id: str) -> list[tuple]:
    with Store(store, read_only=True) as db:
        return db.db.execute("SELECT * FROM predictions WHERE model_id = ? ORDER BY statement_id, issue",
                             [model_id]).fetchall()


def test_every_prediction_names_the_model_and_the_run_that_made_it(two_models):
    with Store(two_models["store"], read_only=True) as db:
        runs = {r["id"]: r for r in db.runs()}
        rows = db.db.execute("SELECT model_id, run_id FROM predictions").fetchall()
    assert {model for model, _ in rows} == {two_models["default"], two_models["tiny"]}
    assert all(run_id in runs and runs[run_id]["model_id"] == model for model, run_id in rows)


def test_a_new_model_adds_its_predictions_and_leaves_the_old_ones_alone(two_models):
    assert _predictions(two_models["store"], two_models["default"]) == two_models["default_before"]
    tiny = _predictions(two_models["store"], two_models["tiny"])
    with Store(two_models["store"], read_only=True) as db:
        first, second = db.runs()
        classified = db.db.execute("SELECT model_id, count(*) FROM classified GROUP BY model_id").fetchall()
    assert dict(classified) == {two_models["default"]: 6, two_models["tiny"]: 6}  # every statement, by each
    assert (first["model_id"], second["model_id"]) == (two_models["default"], two_models["tiny"])
    assert first["documents"] == 4 and second["documents"] == 0 and second["predictions"] == len(tiny)


def test_runs_lists_each_run_with_counts_model_and_timing(two_models, monkeypatch):
    from pipeline.cli import app, out

    monkeypatch.setattr(out, "width", 160)  # a terminal wide enough for every column
    listed = CliRunner().invoke(app, ["runs", "--store", str(two_models["store"])])
    assert listed.exit_code == 0, listed.output
    rows = {cells[3]: cells for cells in ([c.strip() for c in line.split("│")[1:-1]]
                                          for line in listed.stdout.splitlines()) if len(cells) == 9}
    default, tiny = rows[two_models["default"]], rows[two_models["tiny"]]
    assert default[4:8] == ["4", "6", str(len(two_models["default_before"])), "0"]  # documents … quarantined
    assert tiny[4:6] == ["0", "0"] and default[2] == tiny[2] == "done"
    assert float(default[8]) > 0 and float(tiny[8]) > 0  # seconds


def test_the_timeline_says_which_model_and_can_pick_another(two_models):
    from pipeline.cli import app

    store, runner = str(two_models["store"]), CliRunner()
    latest = runner.invoke(app, ["timeline", "--store", store])
    assert latest.exit_code == 0, latest.output
    assert f"from model {two_models['tiny']}" in " ".join(latest.stdout.split())
    older = runner.invoke(app, ["timeline", "--store", store, "--model", "default", "--format", "json"])
    rows = json.loads(older.stdout)
    assert rows and {r["model_id"] for r in rows} == {two_models["default"]}
    unknown = runner.invoke(app, ["timeline", "--store", store, "--model", "nonesuch"])
    message = str(unknown.exception)
    assert "no model 'nonesuch'" in message and two_models["default"] in message and two_models["tiny"] in message


def test_exports_say_which_model_and_can_pick_another(two_models, tmp_path):
    from pipeline.cli import app

    store, runner = str(two_models["store"]), CliRunner()
    page = runner.invoke(app, ["export", "--store", store, "--format", "html", "--out", str(tmp_path / "r.html")])
    assert f"from model {two_models['tiny']}" in page.stderr
    assert f"model <code>{two_models['tiny']}</code>" in (tmp_path / "r.html").read_text(encoding="utf-8")
    runner.invoke(app, ["export", "--store", store, "--format", "json", "--model", two_models["default"],
                        "--out", str(tmp_path / "t.json")])
    assert json.loads((tmp_path / "t.json").read_text(encoding="utf-8"))["model_id"] == two_models["default"]
    runner.invoke(app, ["export", "--store", store, "--format", "csv", "--model", "default", "--out",
                        str(tmp_path / "csv")])
    with (tmp_path / "csv" / "statements.csv").open(encoding="utf-8") as handle:
        assert {row["model_id"] for row in csv.DictReader(handle) if row["issue"]} == {two_models["default"]}


def test_the_most_recent_run_decides_the_default_model(two_models, tmp_path):
    import pipeline

    store = tmp_path / "again.duckdb"
    shutil.copy(two_models["store"], store)
    summary = run([two_models["folder"]], store, classifier=pipeline.load())  # the default model again
    assert summary.predictions_added == 0  # it has read everything before
    with Store(store, read_only=True) as db:
        assert db.latest_model() == two_models["default"]
