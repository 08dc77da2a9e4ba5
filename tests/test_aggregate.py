"""Aggregate: positions per actor × issue × period, group roll-ups, the overall index, and shifts."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.aggregate import (
    OVERALL,
    detect_shifts,
    format_shift,
    period_of,
    positions_by_period,
    undated_statements,
)
from pipeline.errors import TimelineError


def row(sid: str, date: str | None, actor: str = "Vladimir Putin", group: str = "Russia", low: tuple = (),
        model_id: str = "m@1", **issues: tuple[str, float, float]) -> dict:
    """A `Store.statements()` row; each issue is (stance, maximalism, confidence)."""
    return {"id": sid, "date": date, "actor": actor, "actor_group": group, "issues": list(issues),
            "stance": {i: v[0] for i, v in issues.items()}, "maximalism": {i: v[1] for i, v in issues.items()},
            "confidence": {i: v[2] for i, v in issues.items()}, "low_confidence": list(low), "model_id": model_id}


def find(positions, actor, issue, period, level="actor"):
    (match,) = [p for p in positions if (p.actor, p.issue, p.period, p.level) == (actor, issue, period, level)]
    return match


@pytest.mark.parametrize("period, label, start", [
    ("day", "2025-09-03", "2025-09-03"), ("week", "2025-W36", "2025-09-01"), ("month", "2025-09", "2025-09-01"),
    ("quarter", "2025-Q3", "2025-07-01"), ("year", "2025", "2025-01-01")])
def test_period_labels_and_starts(period, label, start):
    assert period_of(dt.date(2025, 9, 3), period) == (label, dt.date.fromisoformat(start))


def test_unknown_period_names_the_choices():
    with pytest.raises(TimelineError, match="'fortnight'.*day, week, month, quarter, year"):
        positions_by_period([row("a", "2025-01-01", territory=("favor", 3.0, 1.0))], "fortnight")


def test_confidence_weighted_mean_interval_counts_and_shares():
    rows = [row("a", "2025-07-02", territory=("favor", 3.0, 1.0)),
            row("b", "2025-08-10", territory=("against", 1.0, 0.5))]
    position = find(positions_by_period(rows), "Vladimir Putin", "territory", "2025-Q3")
    assert position.maximalism == pytest.approx((3.0 * 1.0 + 1.0 * 0.5) / 1.5)
    assert 1.0 <= position.maximalism_low <= position.maximalism <= position.maximalism_high <= 3.0
    assert position.n == 2 and position.statement_ids == ("a", "b") and position.period_start == "2025-07-01"
    assert (position.favor, position.against, position.neutral) == pytest.approx((2 / 3, 1 / 3, 0.0))
    assert position.model_id == "m@1" and position.period_kind == "quarter"


def test_bootstrap_is_seeded():
    rows = [row(str(k), f"2025-0{1 + k % 3}-01", territory=("favor", float(k % 4), 0.5 + k / 40)) for k in range(12)]
    assert positions_by_period(rows, seed=3) == positions_by_period(rows, seed=3)
    first, other = (find(positions_by_period(rows, seed=s), "Vladimir Putin", "territory", "2025-Q1") for s in (3, 4))
    assert (first.maximalism_low, first.maximalism_high) != (other.maximalism_low, other.maximalism_high)
    assert first.maximalism == other.maximalism


def test_positions_do_not_depend_on_the_order_statements_are_read():
    rows = [row(f"s{k:02d}", f"2025-0{1 + k % 3}-{1 + k:02d}", actor=("Vladimir Putin", "Sergei Lavrov")[k % 2],
                territory=("against", float(k % 4), 0.4 + k / 50)) for k in range(24)]
    assert positions_by_period(rows) == positions_by_period(rows[::-1]) == positions_by_period(rows[5:] + rows[:5])


def test_a_large_series_is_resampled_in_blocks_with_the_same_draws(monkeypatch):
    """The engine aggregates series of many thousand statements; the bootstrap draws them a block of
    resamples at a time, which must not change the interval."""
    import pipeline.aggregate as aggregate

    rows = [row(f"s{k}", "2025-02-01", territory=("favor", float(k % 4), 0.3 + (k % 7) / 10)) for k in range(400)]
    at_once = find(positions_by_period(rows), "Vladimir Putin", "territory", "2025-Q1")
    monkeypatch.setattr(aggregate, "_BOOTSTRAP_CELLS", 1000)  # blocks of 2 resamples of 400 draws
    in_blocks = find(positions_by_period(rows), "Vladimir Putin", "territory", "2025-Q1")
    assert (in_blocks.maximalism_low, in_blocks.maximalism_high) == (at_once.maximalism_low, at_once.maximalism_high)
    assert at_once.maximalism_low < at_once.maximalism < at_once.maximalism_high


def test_people_roll_up_to_their_group():
    rows = [row("a", "2025-07-02", "Vladimir Putin", territory=("favor", 3.0, 1.0)),
            row("b", "2025-07-03", "Sergei Lavrov", territory=("favor", 2.0, 1.0)),
            row("c", "2025-07-04", "Dmitry Peskov", territory=("favor", 1.0, 1.0)),
            row("d", "2025-07-05", "Volodymyr Zelensky", "Ukraine", territory=("against", 3.0, 1.0))]
    group = find(positions_by_period(rows), "Russia", "territory", "2025-Q3", level="group")
    assert group.n == 3 and group.actor_group == "Russia" and group.maximalism == pytest.approx(2.0)
    assert set(group.statement_ids) == {"a", "b", "c"}


def test_overall_index_is_the_weighted_mean_over_issues():
    rows = [row("a", "2025-07-02", territory=("favor", 3.0, 1.0), nato_membership=("against", 1.0, 1.0)),
            row("b", "2025-07-09", nato_membership=("against", 1.0, 0.5))]
    equal = find(positions_by_period(rows), "Vladimir Putin", OVERALL, "2025-Q3")
    assert equal.maximalism == pytest.approx(2.0) and equal.n == 2
    assert equal.maximalism_low <= 2.0 <= equal.maximalism_high
    weighted = find(positions_by_period(rows, weights={"territory": 3, "nato_membership": 1}), "Vladimir Putin",
                    OVERALL, "2025-Q3")
    assert weighted.maximalism == pytest.approx(2.5)
    dropped = find(positions_by_period(rows, weights={"nato_membership": 0}), "Vladimir Putin", OVERALL, "2025-Q3")
    assert dropped.maximalism == pytest.approx(3.0)
    with pytest.raises(TimelineError, match="weights"):
        positions_by_period(rows, weights={"territory": -1})


def test_undated_statements_are_skipped_and_reported():
    rows = [row("a", "2025-07-02", territory=("favor", 3.0, 1.0)), row("b", None, territory=("favor", 0.0, 1.0)),
            row("c", None)]
    positions = positions_by_period(rows)
    assert find(positions, "Vladimir Putin", "territory", "2025-Q3").maximalism == 3.0
    assert undated_statements(rows) == ["b"]


def test_low_confidence_predictions_can_be_left_out_or_down_weighted():
    rows = [row("a", "2025-07-02", territory=("favor", 3.0, 1.0)),
            row("b", "2025-07-03", low=("territory",), territory=("favor", 1.0, 1.0))]
    by_default = find(positions_by_period(rows), "Vladimir Putin", "territory", "2025-Q3")
    assert by_default.maximalism == pytest.approx(7 / 3)  # the flagged reading counts half unless told otherwise
    counted = find(positions_by_period(rows, low_confidence_weight=1), "Vladimir Putin", "territory", "2025-Q3")
    assert counted.maximalism == 2.0
    left_out = find(positions_by_period(rows, low_confidence_weight=0), "Vladimir Putin", "territory", "2025-Q3")
    assert left_out.maximalism == 3.0 and left_out.n == 1
    halved = find(positions_by_period(rows, low_confidence_weight=0.5), "Vladimir Putin", "territory", "2025-Q3")
    assert halved.maximalism == pytest.approx(7 / 3)


def test_rows_of_two_models_are_refused():
    rows = [row("a", "2025-07-02", territory=("favor", 3.0, 1.0)),
            row("b", "2025-07-03", model_id="m@2", territory=("favor", 1.0, 1.0))]
    with pytest.raises(TimelineError, match="m@1, m@2"):
        positions_by_period(rows)


# --- shifts -------------------------------------------------------------------------------------


def series(actor: str, values_by_quarter: dict[str, list[float]], issue: str = "territory") -> list[dict]:
    starts = {"Q1": "01", "Q2": "04", "Q3": "07", "Q4": "10"}
    return [row(f"{actor[:3]}{quarter}{k}", f"{quarter[:4]}-{starts[quarter[5:]]}-{10 + k:02d}", actor,
                **{issue: ("favor", value, 0.9)}) for quarter, values in values_by_quarter.items()
            for k, value in enumerate(values)]


def test_a_move_beyond_the_noise_is_a_shift_with_its_evidence():
    rows = series("Vladimir Putin", {"2024-Q3": [3.0, 2.9, 3.0], "2024-Q4": [2.9, 3.0, 2.8],
                                     "2025-Q1": [1.0, 1.2, 0.9, 1.1]})
    (shift,) = [s for s in detect_shifts(positions_by_period(rows)) if s.level == "actor"]
    assert (shift.actor, shift.issue, shift.from_period, shift.to_period) == \
        ("Vladimir Putin", "territory", "2024-Q4", "2025-Q1")
    assert shift.direction == "softened" and (shift.from_n, shift.to_n) == (3, 4)
    assert shift.from_statement_ids == ("Vla2024-Q40", "Vla2024-Q41", "Vla2024-Q42")
    assert len(shift.to_statement_ids) == 4
    assert format_shift(shift) == "Vladimir Putin · territory: 2.9 (2024-Q4) → 1.1 (2025-Q1), 3 → 4 statements"
    group_shifts = [s for s in detect_shifts(positions_by_period(rows)) if s.level == "group"]
    assert [(s.actor, s.direction) for s in group_shifts] == [("Russia", "softened")]


def test_flat_noisy_series_has_no_shift():
    rows = series("Volodymyr Zelensky", {"2024-Q3": [2.0, 1.6, 2.3], "2024-Q4": [1.8, 2.2, 2.0],
                                         "2025-Q1": [2.1, 1.7, 1.9], "2025-Q2": [2.2, 1.8, 2.0]})
    assert detect_shifts(positions_by_period(rows)) == []


def test_periods_with_too_few_statements_are_not_compared():
    rows = series("Vladimir Putin", {"2024-Q4": [3.0, 2.9], "2025-Q1": [1.0]})
    positions = positions_by_period(rows)
    assert detect_shifts(positions) == []
    assert [s.to_period for s in detect_shifts(positions, min_statements=1) if s.level == "actor"] == ["2025-Q1"]


def test_the_overall_index_shifts_only_when_asked():
    rows = series("Vladimir Putin", {"2024-Q4": [3.0, 2.9, 3.0], "2025-Q1": [1.0, 1.1, 0.9]})
    issues = {s.issue for s in detect_shifts(positions_by_period(rows))}
    assert issues == {"territory"}
    assert {s.issue for s in detect_shifts(positions_by_period(rows), include_overall=True)} == {"territory", OVERALL}


# --- end to end: generated documents → engine with the default model → store → shifts ---------------


def test_generated_shift_is_found_and_flat_series_is_not(tmp_path):
    import pipeline
    from benchmarks.generate import PUTIN_TERRITORY, ZELENSKY_NATO, Spec, generate_documents
    from pipeline.engine import run
    from pipeline.store import Store

    spec = Spec((PUTIN_TERRITORY, ZELENSKY_NATO), documents=60, start="2022-01-01", end="2025-12-31")
    generate_documents(tmp_path / "docs", seed=0, spec=spec)
    classifier = pipeline.load()
    summary = run([tmp_path / "docs"], tmp_path / "s.duckdb", classifier=classifier)
    assert summary.documents_added == 60 and summary.positions_written > 0
    with Store(tmp_path / "s.duckdb", read_only=True) as store:
        # by year: each quarter holds 3-5 generated sentences drawn from a few templates, and the model reads
        # some hedged templates a level too high, so quarter-to-quarter noise would swamp a flat series
        positions = positions_by_period(store.statements(model_id=classifier.model_id), "year")
    shifts = [s for s in detect_shifts(positions) if s.level == "actor"]
    territory = [s for s in shifts if (s.actor, s.issue) == ("Vladimir Putin", "territory")]
    assert [(s.from_period, s.to_period, s.direction) for s in territory] == [("2024", "2025", "softened")]
    assert territory[0].from_maximalism > 2.5 and territory[0].to_maximalism < 2.0
    assert not [s for s in shifts if s.actor == "Volodymyr Zelensky"]
