"""Soak: `redline run` over many generated documents with 2 % hostile files mixed in loses nothing and never dies.

The documents are `benchmarks/speed_input.py`'s (news reports, press transcripts and speeches built from the
annotated corpus), written the ways a collection holds them: Markdown and text files with front matter, JSONL
shards and CSV files (transcripts with their line breaks inside quoted cells). One in fifty inputs is hostile,
each of a kind that must be quarantined exactly once: a binary file, Cyrillic text in cp1251 (neither UTF-8 nor
Windows-1252), UTF-8 with a damaged byte, a malformed line in a JSONL shard, front matter that is not YAML, front
matter with an impossible date, an empty file. The real command runs once in a subprocess (`redline run`, the
default model); the report counts documents in, stored and quarantined (stored + quarantined must equal in),
statements, crashes, wall time and the run's peak memory.

Run: .venv/bin/python benchmarks/soak.py [--docs 20000] [--seed 0] [--keep DIR] [--write]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._results import machine_line, write_section  # noqa: E402
from benchmarks.speed_input import write_input  # noqa: E402
from pipeline.evaluate import read_jsonl  # noqa: E402
from pipeline.store import Store  # noqa: E402

HOSTILE_SHARE = 0.02
FILES_PER_FOLDER = 1000
SHARD_ROWS = 250  # documents per JSONL shard or CSV file
FORMS = (("md", 0.4), ("txt", 0.2), ("jsonl", 0.25), ("csv", 0.15))
HOSTILE_KINDS = ("binary", "cp1251", "damaged_utf8", "malformed_jsonl", "bad_yaml", "impossible_date", "empty")


@dataclass
class SoakInput:
    """What was written: how many documents, and how many of them are hostile, by kind."""

    folder: Path
    good: int
    hostile: Counter

    @property
    def documents(self) -> int:
        return self.good + sum(self.hostile.values())


def build_input(out: Path, documents: int, seed: int) -> SoakInput:
    """Write `documents` inputs under `out`, 2 % of them hostile; every good one distinct."""
    rng = random.Random(seed)
    hostile = round(documents * HOSTILE_SHARE)
    good = _distinct_documents(out / "_source", documents - hostile, seed)
    kinds = Counter(HOSTILE_KINDS[k % len(HOSTILE_KINDS)] for k in range(hostile))
    malformed = kinds.pop("malformed_jsonl", 0)
    writer = _Writer(out / "docs")
    by_form: dict[str, list[dict]] = {form: [] for form, _ in FORMS}
    for row in good:
        by_form[rng.choices([f for f, _ in FORMS], [w for _, w in FORMS])[0]].append(row)
    for form in ("md", "txt"):
        for row in by_form[form]:
            writer.write(form, _front_matter(row) + row["text"] + "\n")
    _write_shards(writer, by_form["jsonl"], malformed, rng)
    _write_csv_files(writer, by_form["csv"])
    for kind, count in kinds.items():
        for k in range(count):
            suffix, data = _hostile_file(kind, k, rng)
            writer.path(suffix, kind).write_bytes(data)
    return SoakInput(out / "docs", len(good), kinds + Counter({"malformed_jsonl": malformed}))


def _distinct_documents(source: Path, count: int, seed: int) -> list[dict]:
    """`count` generated documents, no two with the same text, date and speaker (the store would keep one)."""
    rows, seen, extra = [], set(), 0
    while len(rows) < count:
        extra += max(10, count // 50)
        paths = write_input(source, count + extra, seed)
        rows, seen = [], set()
        for row in (r for path in paths for r in read_jsonl(path)):
            key = (row["text"], row["date"], row.get("speaker"))
            if key not in seen:
                seen.add(key)
                rows.append(row)
    return rows[:count]


class _Writer:
    """Files numbered in order, a thousand to a folder."""

    def __init__(self, root: Path):
        self.root, self.count = root, 0

    def path(self, suffix: str, label: str = "") -> Path:
        folder = self.root / f"{self.count // FILES_PER_FOLDER:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        self.count += 1
        return folder / f"{self.count:06d}{'-' + label if label else ''}.{suffix}"

    def write(self, suffix: str, text: str) -> None:
        self.path(suffix).write_text(text, encoding="utf-8")


def _front_matter(row: dict) -> str:
    fields = {key: row[key] for key in ("title", "date", "speaker", "source_type") if row.get(key)}
    return "---\n" + "".join(f"{key}: {json.dumps(value, ensure_ascii=False)}\n" for key, value in fields.items()) \
        + "---\n"


def _write_shards(writer: _Writer, rows: list[dict], malformed: int, rng: random.Random) -> None:
    """JSONL shards; `malformed` broken lines go into random shards among the good rows."""
    lines = [json.dumps(row, ensure_ascii=False) for row in rows]
    for k in range(malformed):
        broken = json.dumps({"text": f"Report {k}: the line ends before its closing quote"})[:-3]
        lines.insert(rng.randrange(len(lines) + 1), broken)
    for start in range(0, len(lines), SHARD_ROWS):
        writer.write("jsonl", "\n".join(lines[start:start + SHARD_ROWS]) + "\n")


def _write_csv_files(writer: _Writer, rows: list[dict]) -> None:
    columns = ["title", "date", "speaker", "source_type", "text"]
    for start in range(0, len(rows), SHARD_ROWS):
        path = writer.path("csv")
        with path.open("w", encoding="utf-8", newline="") as handle:
            table = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
            table.writeheader()
            table.writerows(rows[start:start + SHARD_ROWS])


def _hostile_file(kind: str, k: int, rng: random.Random) -> tuple[str, bytes]:
    """The suffix and bytes of one hostile input of `kind`."""
    if kind == "binary":
        return "txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + rng.randbytes(2048)
    if kind == "cp1251":
        return "txt", f"Песков заявил, что переговоры зашли в тупик ({k}).\n".encode("cp1251")
    if kind == "damaged_utf8":
        return "md", f"Zelensky said — twice — that Kyiv would not sign ({k}).\n".encode().replace(
            b"\xe2\x80\x94", b"\xe2\x80", 1)
    if kind == "bad_yaml":
        return "md", f"---\ntitle: [unclosed {k}\ndate: 2024-01-02\n---\nPeskov said no.\n".encode()
    if kind == "impossible_date":
        return "md", f"---\ndate: 2025-02-30\n---\nLavrov said the talks were over ({k}).\n".encode()
    return "txt", b""  # empty


def run_soak(soak: SoakInput, store: Path, log: Path) -> dict:
    """Run `redline run` on the input once; the counts the store holds afterwards, time and peak memory."""
    for stale in (store, store.with_name(store.name + ".wal")):  # a kept folder's last store
        stale.unlink(missing_ok=True)
    started = time.perf_counter()
    with log.open("w", encoding="utf-8") as stderr:
        returncode = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", str(soak.folder), "--store",
                                     str(store)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr).returncode
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the run is this script's only child
    with Store(store, read_only=True) as db:
        counts = db.counts()
        quarantined = sum(1 for q in db.quarantined() if q["level"] == "error")
    return {"documents_in": soak.documents, "stored": counts["documents"], "quarantined": quarantined,
            "statements": counts["statements"], "predictions": counts["predictions"], "crashes": int(returncode != 0),
            "seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime,
            "peak_rss_mb": usage.ru_maxrss / 1024,  # kilobytes on Linux
            "load": os.getloadavg()[2]}  # a shared machine stretches wall time, not CPU time


def report(soak: SoakInput, result: dict) -> list[str]:
    accounted = result["stored"] + result["quarantined"]
    kinds = ", ".join(f"{kind.replace('_', ' ')} {n}" for kind, n in sorted(soak.hostile.items()))
    return [
        f"`redline run` (default model) over {result['documents_in']:,} generated documents "
        f"({soak.good:,} good: Markdown and text files with front matter, JSONL shards, CSV files; "
        f"{sum(soak.hostile.values())} hostile: {kinds}).", "",
        "| documents in | stored | quarantined | stored + quarantined | statements | predictions | crashes | "
        "wall time | CPU time | peak RSS |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {result['documents_in']:,} | {result['stored']:,} | {result['quarantined']:,} | {accounted:,} "
        f"({'equal to' if accounted == result['documents_in'] else 'NOT equal to'} the input) | "
        f"{result['statements']:,} | {result['predictions']:,} | {result['crashes']} | "
        f"{result['seconds'] / 60:.1f} min ({result['documents_in'] / result['seconds']:.1f} documents/s) | "
        f"{result['cpu_seconds'] / 60:.1f} min | {result['peak_rss_mb']:,.0f} MB |", "",
        f"Load average over the last 15 minutes of the run: {result['load']:.1f} on {os.cpu_count()} cores.",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=20_000, help="documents in, hostile ones included")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="write input, store and log here and keep them")
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="redline-soak-") as scratch:
        out = args.keep or Path(scratch)
        soak = build_input(out, args.docs, args.seed)
        print(f"{soak.documents:,} documents ({sum(soak.hostile.values())} hostile) → {soak.folder}", flush=True)
        result = run_soak(soak, out / "soak.duckdb", out / "run.log")
    lines = report(soak, result)
    print("\n".join(lines))
    if result["stored"] + result["quarantined"] != result["documents_in"] or result["crashes"]:
        print(f"FAILED: see {out / 'run.log'}" if args.keep else "FAILED: rerun with --keep DIR to see the log")
        sys.exit(1)
    if args.write:
        write_section("Soak", "\n".join([machine_line(), "", *lines]))


if __name__ == "__main__":
    main()
