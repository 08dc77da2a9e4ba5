"""The demo report: the sample documents plus generated multi-year reports → an HTML report and docs/report.png.

Run: .venv/bin/python benchmarks/report_demo.py [--png docs/report.png] [--html PATH]   (the screenshot needs
/usr/bin/chromium)
`screenshot` and `console_errors` are shared with tests/test_report.py.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--enable-logging=stderr", "--v=0")
# Chromium logs page console output as `...:INFO:CONSOLE:1] "message", source: ...` (or `CONSOLE(12)]`) at INFO
# level whatever the console method, so console.error cannot be told from console.log; the report logs nothing.
_CONSOLE_LINE = re.compile(r"Uncaught|:CONSOLE[:(]")


def chromium(page: Path, *args: str, window: str = "1400,2000", fragment: str = "",
             timeout: int = 120) -> subprocess.CompletedProcess:
    """Run headless Chromium on a local page with `args` (--screenshot=..., --dump-dom); no network is used."""
    with tempfile.TemporaryDirectory() as profile:
        command = [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={window}", *args,
                   page.resolve().as_uri() + fragment]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def screenshot(page: Path, png: Path, fragment: str = "") -> subprocess.CompletedProcess:
    return chromium(page, f"--screenshot={png}", fragment=fragment)


def console_errors(stderr: str) -> list[str]:
    """Lines of Chromium's log with page console output or uncaught errors (any is a problem for the report)."""
    return [line for line in stderr.splitlines() if _CONSOLE_LINE.search(line)]


def build_demo(html: Path, work: Path, documents: int = 120, seed: int = 0) -> tuple[Path, str]:
    """Run the default model over the samples and generated documents into a store in `work`; write the report.

    Returns the report and the fragment that opens its largest shift's statements."""
    import pipeline
    from benchmarks.generate import DEFAULT_SPEC, Spec, generate_documents
    from pipeline.aggregate import detect_shifts
    from pipeline.engine import run
    from pipeline.export import export
    from pipeline.store import Store

    spec = Spec(DEFAULT_SPEC.series, documents, DEFAULT_SPEC.start, DEFAULT_SPEC.end)
    generate_documents(work / "generated", seed, spec)
    run([ROOT / "corpora/samples/documents", work / "generated"], work / "demo.duckdb", classifier=pipeline.load())
    with Store(work / "demo.duckdb", read_only=True) as store:
        (page,) = export(store, "html", html)
        shifts = detect_shifts(store.positions())
    largest = max(range(len(shifts)), key=lambda k: abs(shifts[k].to_maximalism - shifts[k].from_maximalism), default=0)
    return page, f"#show=s{largest}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--png", type=Path, default=ROOT / "docs" / "report.png")
    parser.add_argument("--html", type=Path, default=Path(tempfile.gettempdir()) / "redline-demo-report.html")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="redline-demo-") as work:
        page, fragment = build_demo(args.html, Path(work))
    print(f"report → {page} ({page.stat().st_size / 1e6:.2f} MB)")
    if CHROMIUM.exists():
        args.png.parent.mkdir(parents=True, exist_ok=True)
        result = screenshot(page, args.png, fragment=fragment)
        print(f"screenshot → {args.png}; console errors: {console_errors(result.stderr) or 'none'}")


if __name__ == "__main__":
    main()
