"""Bargaining space: the gap between two sides per issue × period, room to bargain, and whether it closes."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest

from benchmarks.generate import CONVERGING_ISSUES, SPACE_SPEC
from pipeline.space import bargaining_space, gap

from .conftest import statement_row as row


@pytest.mark.parametrize("lean_a, lean_b, max_a, max_b, expected", [
    (1, -1, 3, 3, 3.0),  # wholly opposed, both maximal
    (1, -1, 2, 2, 2.0),
    (1, -1, 3, 0, 0.0),  # one side concedes
    (1, 1, 3, 3, 0.0),  # they agree
    (0, -1, 3, 3, 0.0),  # one side takes no side
    (0.5, -1, 3, 3, 1.5),  # split stances halve the gap
])
def test_gap_is_zero_when_the_sides_agree_and_largest_when_opposed_and_maximal(lean_a, lean_b, max_a, max_b,
                                                                               expected):
    assert gap(lean_a, lean_b, max_a, max_b) == pytest.approx(expected)


def two_years() -> list[dict]:
    """Putin (Russia) demands territory maximally, then softens; Zelensky (Ukraine) holds firm throughout."""
    rows = []
    for quarter, (russia, ukraine) in {"2024-02": (3.0, 2.0), "2024-05": (3.0, 2.0), "2024-08": (1.0, 2.0)}.items():
        for day in ("03", "12", "21"):
            rows.append(row(f"r{quarter}{day}", f"{quarter}-{day}", "territory", russia))
            rows.append(row(f"u{quarter}{day}", f"{quarter}-{day}", "territory", ukraine, "Volodymyr Zelensky",
                            "Ukraine", "against"))
    rows.append(row("n", "2024-02-05", "nato_membership", 3.0, stance="against"))  # Ukraine says nothing on NATO
    return rows


def test_cells_hold_both_sides_the_gap_and_room_to_bargain():
    space = bargaining_space(two_years(), [], "Russia", "Ukraine")
    assert [(c.issue, c.period) for c in space.cells] == [("territory", "2024-Q1"), ("territory", "2024-Q2"),
                                                          ("territory", "2024-Q3")]
    first, _, last = space.cells
    assert (first.a.stance, first.b.stance, first.a.category, first.b.category) == ("favor", "against",
                                                                                   "non-negotiable", "firm")
    assert first.gap == pytest.approx(6 ** 0.5, abs=0.01) and not first.room
    assert last.gap == pytest.approx(2 ** 0.5, abs=0.01) and last.room  # opposed, but Russia is flexible


def test_the_trend_closes_when_a_side_softens_and_names_that_sides_statements():
    first, second, last = bargaining_space(two_years(), [], "Russia", "Ukraine").cells
    assert (first.trend, second.trend, last.trend) == ("", "stable", "closing")
    assert {e.actor for e in last.moved_by} == {"Vladimir Putin"}
    assert [e.date for e in last.moved_by] == ["2024-08-21", "2024-08-12", "2024-08-03"]
    (trend,) = bargaining_space(two_years(), [], "Russia", "Ukraine").trends
    assert (trend.first_period, trend.last_period, trend.trend) == ("2024-Q1", "2024-Q3", "closing")


def _redline(*args):
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True, timeout=300)


def test_generated_convergence_closes_the_gap_only_where_it_was_built_in(space_store):
    result = _redline("space", "--store", str(space_store), "--a", "Russia", "--b", "Ukraine", "--format", "json")
    assert result.returncode == 0, result.stderr
    space = json.loads(result.stdout)
    trends = {t["issue"]: t for t in space["trends"] if t["target"] is None}
    built = {series.issue for series in SPACE_SPEC.series}
    for issue in sorted(built):
        closing = issue in CONVERGING_ISSUES
        assert (trends[issue]["trend"] == "closing") is closing, trends[issue]
        assert trends[issue]["first_period"] == "2022-Q1" and trends[issue]["last_period"] == "2025-Q4"
    assert all(0 <= c["gap_low"] <= c["gap"] <= c["gap_high"] <= 3 for c in space["cells"])
    closing = [c for c in space["cells"] if c["trend"] == "closing" and c["target"] is None]
    assert closing and all(c["moved_by"] for c in closing)


def test_space_as_csv_and_a_plot(space_store, tmp_path):
    png = tmp_path / "gap.png"
    result = _redline("space", "--store", str(space_store), "--a", "Russia", "--b", "Ukraine", "--by", "year",
                      "--format", "csv", "--plot", str(png))
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    territory = [r for r in rows if (r["issue"], r["target"]) == ("territory", "")]
    assert [r["period"] for r in territory] == ["2022", "2023", "2024", "2025"]
    assert float(territory[0]["gap"]) > float(territory[-1]["gap"])
    assert png.stat().st_size > 10_000


def test_an_unknown_side_is_one_line_naming_who_is_there(space_store):
    result = _redline("space", "--store", str(space_store), "--a", "Russia", "--b", "Atlantis")
    assert result.returncode == 2 and "no statements of 'Atlantis'" in result.stderr
    assert "Ukraine" in result.stderr and "Traceback" not in result.stderr
