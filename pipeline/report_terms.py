"""The HTML report's terms panels and bargaining-space heatmap (pipeline/report.py places them in the page).

`terms_panels` renders each side's terms sheet (pipeline/terms.py) as a table; the page shows the side picked
in the actor filter. `space_data` holds every side's position per issue (and target) × period, so the page
computes the gap of pipeline/space.py for any two sides picked in it (report.js) without asking a server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from .charts import SCALE_HIGH, SCALE_LOW
from .errors import TimelineError
from .terms import TARGET_JOIN, TermsConfig, holder_positions, series_of, side_rows, terms_sheet


def terms_panels(rows: Sequence[Mapping], target_rows: Sequence[Mapping], sides: Sequence[str],
                 config: TermsConfig) -> tuple[str, dict[str, dict]]:
    """A section with one terms table per side (as of its latest statement), and the evidence behind each line."""
    panels, evidence = [], {}
    for k, side in enumerate(sides):
        try:
            sheet = terms_sheet(rows, target_rows, side, config=config)
        except TimelineError:  # a side with no dated, classified statement has no terms
            continue
        lines = []
        for j, term in enumerate(sheet.terms):
            key = f"t{k}_{j}"
            name = term.issue + (f"{TARGET_JOIN}{term.target}" if term.target else "")
            evidence[key] = {"title": f"{side} · {name} as of {sheet.as_of}: {term.maximalism:.2f} ({term.category})",
                             "sections": [[f"{term.n} statements since {sheet.window_start}",
                                           [e.statement_id for e in term.evidence], term.n]]}
            lines.append(f'<tr data-ev="{key}"><td>{escape(name)}</td><td>{escape(term.stance)}</td>'
                         f"<td>{term.maximalism:.1f} <small>[{term.maximalism_low:.1f}–{term.maximalism_high:.1f}]"
                         f'</small></td><td class="cat {escape(term.category)}">{escape(term.category)}</td>'
                         f"<td>{escape(term.change)}</td><td>{term.n}</td></tr>")
        panels.append(f'<div class="terms" data-side="{escape(side)}"><h3>{escape(side)} as of {sheet.as_of} '
                      f"<small>(statements since {sheet.window_start}; change against {sheet.earlier_end})</small>"
                      "</h3><table><thead><tr><th>issue</th><th>stance</th><th>maximalism</th><th>category</th>"
                      f"<th>change</th><th>n</th></tr></thead><tbody>{''.join(lines)}</tbody></table></div>")
    thresholds = ", ".join(f"{name} ≥ {low:g}" for name, low in config.categories.items() if low > 0)
    return ('<section id="terms"><h2>Terms <small>(the side picked in the actor filter; '
            f"{escape(thresholds)}; click a line for its statements)</small></h2>{''.join(panels)}</section>",
            evidence)


def space_data(rows: Sequence[Mapping], target_rows: Sequence[Mapping], sides: Sequence[str], period: str,
               config: TermsConfig, max_evidence: int) -> tuple[dict, dict[str, dict]]:
    """Per side, key ("issue" or "issue · target") and period: [maximalism, low, high, lean, n, evidence key]."""
    table: dict[str, dict[str, dict[str, list]]] = {}
    evidence: dict[str, dict] = {}
    periods: dict[str, str] = {}
    for side in sides:
        series = series_of([r for r in side_rows(rows, side) if r.get("issues")], target_rows, side)
        for p in holder_positions(series, period, config):
            key = f"v{len(evidence)}"
            evidence[key] = {"title": f"{side} · {p.issue} in {p.period}: {p.maximalism:.2f}",
                             "sections": [[f"{side}: {p.n} statements", list(p.statement_ids[-max_evidence:]), p.n]]}
            table.setdefault(side, {}).setdefault(p.issue, {})[p.period] = [
                round(p.maximalism, 3), round(p.maximalism_low, 3), round(p.maximalism_high, 3),
                round(p.favor - p.against, 3), p.n, key]
            periods[p.period] = p.period_start
    keys = sorted({key for by_key in table.values() for key in by_key}, key=lambda k: (k.split(TARGET_JOIN)[0], k))
    data = {"sides": table, "keys": keys, "periods": sorted(periods, key=periods.get), "firm": config.categories["firm"],
            "scale": [list(SCALE_LOW), list(SCALE_HIGH)], "pair": list(sides[:2]),
            "trend": {"min_statements": config.min_statements, "min_change": config.min_change}}
    return data, evidence


def space_section(sides: Sequence[str]) -> str:
    """The heatmap's frame: two side pickers and the table report.js fills in."""
    options = "".join(f'<option value="{escape(s)}">{escape(s)}</option>' for s in sides)
    return ('<section id="space"><h2>Bargaining space <small>(gap per issue × period: 0 the sides agree or one '
            "concedes, 3 wholly opposed and both maximal; ◦ room to bargain: opposed, one side flexible or "
            "conceding; ↘ closing, ↗ opening since the period before, by the test of `redline space`; click a cell for "
            "both sides' statements)</small></h2>"
            f'<nav class="filters"><label>side A <select id="space-a">{options}</select></label>'
            f'<label>side B <select id="space-b">{options}</select></label></nav>'
            '<div id="space-body" class="scroll-x"></div></section>')
