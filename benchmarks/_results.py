"""Shared by the benchmarks: the machine line and writing one section of benchmarks/RESULTS.md."""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
from importlib import metadata
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def cpu_name() -> str:
    """The processor's model name (Linux), else the architecture: hosts of the same size differ in speed."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def machine_line() -> str:
    versions = []
    for package in ("spacy", "torch", "transformers", "duckdb", "scikit-learn"):
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            pass
    return (f"_Measured {dt.date.today().isoformat()} on {platform.machine()} ({cpu_name()}), {os.cpu_count()} cores, "
            f"Python {platform.python_version()}; {', '.join(versions)}._")


def write_section(title: str, body: str) -> None:
    """Replace (or append) the section `## title` of RESULTS.md with `body`."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n\n" \
        "Every figure here is written by a script in `benchmarks/`; rerun it to check.\n"
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: section + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    RESULTS.write_text(text, encoding="utf-8")
