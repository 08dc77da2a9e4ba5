"""The HTML report: self-contained, under 10 MB, escapes what it embeds, and renders in a real browser."""

from __future__ import annotations

import json
import re

import pytest

from benchmarks.report_demo import CHROMIUM, chromium, console_errors, screenshot
from pipeline.aggregate import detect_shifts, positions_by_period
from pipeline.charts import line_chart, maximalism_color
from pipeline.export import export
from pipeline.records import Position
from pipeline.report import MAX_BYTES, render_report
from pipeline.store import Store


@pytest.fixture
def report(timeline_store, tmp_path):
    with Store(timeline_store, read_only=True) as store:
        (path,) = export(store, "html", tmp_path / "report.html")
    return path


def _evidence(page: str) -> dict:
    payload = re.search(r'<script type="application/json" id="evidence-data">(.*?)</script>', page, re.S).group(1)
    return json.loads(payload)


def test_report_is_one_self_contained_file(report):
    page = report.read_text(encoding="utf-8")
    assert len(page.encode()) < MAX_BYTES
    external = re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|<link\b|@import|url\(""", page)
    assert external == []
    assert page.count("<svg") >= 3 and 'id="heatmap"' in page and 'id="shifts"' in page
    assert "Vladimir Putin · territory: 3.0 (2024-Q4) → 1.0 (2025-Q1), 2 → 2 statements" in page
    for select in ("f-actor", "f-issue", "f-period"):
        assert f'id="{select}"' in page


def test_statement_text_cannot_break_out_of_the_page(report):
    page = report.read_text(encoding="utf-8")
    assert "<b>" not in page and page.count("</script>") == 2
    data = _evidence(page)
    texts = [row[2] for row in data["statements"].values()]
    assert texts and all("</script><b>" in text for text in texts)


def test_points_carry_their_statements(report):
    data = _evidence(report.read_text(encoding="utf-8"))
    putin = [e for e in data["evidence"].values() if e["title"].startswith("Vladimir Putin · territory · 2025-Q1")]
    (entry,) = putin
    ((heading, ids, total),) = entry["sections"]
    assert total == 2 and len(ids) == 2 and all(i in data["statements"] for i in ids)
    date, actor, _, source, url = data["statements"][ids[0]]
    assert (date, actor, url) == ("2025-01-15", "Vladimir Putin", "https://example.org/3")
    assert source == "Report 3 (news_report)"


def test_evidence_per_point_is_capped(timeline_store):
    rows = [{"id": f"s{k}", "date": f"2025-01-{1 + k % 28:02d}", "actor": "A", "actor_group": "G", "text": "x" * 900,
             "issues": ["i"], "stance": {"i": "favor"}, "maximalism": {"i": k % 4}, "confidence": {"i": 1.0},
             "model_id": "m"} for k in range(300)]
    positions = positions_by_period(rows)
    page = render_report(positions, detect_shifts(positions), rows, max_evidence=5)
    data = _evidence(page)
    assert all(len(ids) <= 5 for e in data["evidence"].values() for _, ids, _ in e["sections"])
    assert max(len(row[2]) for row in data["statements"].values()) <= 500


def test_line_chart_draws_band_line_and_points():
    point = Position("A", "G", "actor", "i", "quarter", "2025-Q1", "2025-01-01", 3, 2.0, 1.5, 2.5, 1, 0, 0,
                     ("a",), "m")
    svg = line_chart({"i": [point]}, ["2025-Q1"], {"i": "#123456"}, {point: "p0"})
    assert svg.startswith("<svg") and "<polygon" in svg and "<polyline" in svg and 'data-ev="p0"' in svg
    assert maximalism_color(0) == "#fff5eb" and maximalism_color(3) == "#7f2704"


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)")
def test_report_renders_in_headless_chromium_without_console_errors(report, tmp_path):
    png = tmp_path / "report.png"
    result = screenshot(report, png)
    assert png.exists() and png.stat().st_size > 10_000, result.stderr[-2000:]
    assert console_errors(result.stderr) == []
    shown = chromium(report, "--dump-dom", fragment="#show=s0")
    assert console_errors(shown.stderr) == []
    assert 'data-ready="1"' in shown.stdout
    panel = shown.stdout.split('id="evidence-body"', 1)[1].split("</aside>", 1)[0]
    assert "Vladimir Putin · territory: 3.0 (2024-Q4)" in panel and "second line" in panel


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)")
def test_filters_hide_other_actors_issues_and_periods(report):
    shown = chromium(report, "--dump-dom", fragment="#actor=actor%3AVladimir%20Putin&issue=territory&period=2025-Q1")
    assert console_errors(shown.stderr) == []
    figures = {actor: classes for classes, actor in re.findall(r'<figure class="chart([^"]*)" data-actor="([^"]+)"',
                                                               shown.stdout)}
    assert figures["actor:Vladimir Putin"].strip() == ""
    assert "off-a" in figures["actor:Volodymyr Zelensky"]
    assert re.search(r'<g class="series off-i" data-issue="nato_membership"', shown.stdout)
    assert re.search(r'<div class="heat cur" data-period="2025-Q1"', shown.stdout)


# --- terms panels and the bargaining-space heatmap ------------------------------------------------


def test_report_has_a_terms_panel_per_side_and_the_space_pickers(report):
    page = report.read_text(encoding="utf-8")
    panels = dict(re.findall(r'<div class="terms" data-side="([^"]+)"><h3>[^<]* as of (\S+)', page))
    assert panels == {"Russia": "2025-03-28", "Ukraine": "2025-03-02", "Vladimir Putin": "2025-02-03",
                      "Volodymyr Zelensky": "2025-03-02", "Sergei Lavrov": "2024-12-20", "Dmitry Peskov": "2025-03-28"}
    putin = page.split('data-side="Vladimir Putin"', 1)[1].split("</div>", 1)[0]
    assert re.search(r"<td>territory</td><td>favor</td><td>1\.9 <small>\[[0-9.]+–[0-9.]+\]</small></td>"
                     r'<td class="cat firm">firm</td><td>new</td><td>4</td>', putin)
    space = _evidence(page)["space"]
    assert space["pair"] == ["Russia", "Ukraine"] and 'id="space-a"' in page and 'id="space-b"' in page


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)")
def test_terms_and_space_heatmap_render_for_the_sides_picked(report, timeline_store):
    from pipeline.space import bargaining_space

    shown = chromium(report, "--dump-dom", fragment="#actor=actor%3AVladimir%20Putin&a=Ukraine&b=Russia&show=t2_0")
    assert console_errors(shown.stderr) == []
    panels = dict((side, classes) for classes, side in re.findall(r'<div class="terms([^"]*)" data-side="([^"]+)"',
                                                                  shown.stdout))
    assert panels.pop("Vladimir Putin").strip() == "cur" and not any("cur" in c for c in panels.values())
    body = shown.stdout.split('id="space-body"', 1)[1].split("</section>", 1)[0]
    assert "<th>Ukraine vs Russia</th><th>2024-Q4</th></tr>" in body
    with Store(timeline_store, read_only=True) as store:
        (cell,) = bargaining_space(store.statements(), [], "Ukraine", "Russia").cells
    assert re.search(rf'<tr data-key="nato_membership"><th>nato_membership</th><td data-pair="v\d+ v\d+" '
                     rf'title="Ukraine [^"]*: gap {cell.gap:.2f} [^"]*" style="[^"]+">{cell.gap:.1f}</td></tr>', body)
    panel = shown.stdout.split('id="evidence-body"', 1)[1].split("</aside>", 1)[0]
    assert "Vladimir Putin · territory as of 2025-02-03" in panel and "second line" in panel


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)")
def test_space_heatmap_marks_the_trend_that_redline_space_finds(space_store, tmp_path):
    from pipeline.space import bargaining_space

    with Store(space_store, read_only=True) as store:
        (page,) = export(store, "html", tmp_path / "space.html")
        space = bargaining_space(store.statements(), store.target_predictions(), "Russia", "Ukraine", "quarter")
    shown = chromium(page, "--dump-dom", fragment="#a=Russia&b=Ukraine")
    assert console_errors(shown.stderr) == []
    body = shown.stdout.split('id="space-body"', 1)[1].split("</section>", 1)[0]
    marked = {}
    for row in re.findall(r'<tr data-key="([^"]+)">(.*?)</tr>', body):
        cells = re.findall(r"<td( [^>]*)?>([^<]*)</td>", row[1])
        marked[row[0]] = [re.search(r'data-trend="(\w+)"', attrs or "") for attrs, _ in cells]
    expected = {}
    for cell in space.cells:
        key = cell.issue + (f" · {cell.target}" if cell.target else "")
        if cell.trend in ("closing", "opening"):
            expected.setdefault(key, []).append(cell.trend)
    assert any("closing" in trends for trends in expected.values())  # the generated data converges somewhere
    for key, trends in expected.items():
        assert [m.group(1) for m in marked[key] if m and m.group(1) != "stable"] == trends, key
