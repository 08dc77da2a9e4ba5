"""The HTML report: one self-contained file (inline CSS, SVG and a little vanilla JS) that opens offline.

It shows the shifts, a heatmap actor × issue per period (the latest by default), the terms of the actor picked
(pipeline/terms.py), a bargaining-space heatmap issue × period for any two sides picked in the page
(pipeline/space.py), a line chart per actor with interval bands, and the statements behind any point on click;
filters pick an actor, an issue and a period.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path

from .aggregate import OVERALL, format_shift
from .charts import issue_colors, line_chart, maximalism_color
from .errors import TimelineError
from .records import Position, Shift
from .report_terms import space_data, space_section, terms_panels
from .terms import load_terms_config

MAX_BYTES = 10 * 1024 * 1024
TEXT_LIMIT = 500  # characters of a statement's text shown as evidence
ASSETS = Path(__file__).resolve().parent / "report_assets"


def render_report(positions: Sequence[Position], shifts: Sequence[Shift], rows: Sequence[Mapping], undated: int = 0,
                  title: str = "Redline: positions over time", max_evidence: int = 12, max_charts: int = 48,
                  target_rows: Sequence[Mapping] = ()) -> str:
    """The report as one HTML string; `rows` are `Store.statements()` rows (the evidence behind points),
    `target_rows` `Store.target_predictions()` (the per-target lines of the terms and the space heatmap).

    At most `max_evidence` statements per point are embedded, fewer if the file would pass 10 MB.
    """
    while True:
        page = _page(positions, shifts, rows, target_rows, undated, title, max_evidence, max_charts)
        if len(page.encode("utf-8")) < MAX_BYTES:
            return page
        if max_evidence == 0:
            raise TimelineError(f"the report would be {len(page.encode()) / 1e6:.1f} MB, over the 10 MB limit; "
                                "filter the store by actor or use a coarser period (--by year)")
        max_evidence //= 2


def _page(positions: Sequence[Position], shifts: Sequence[Shift], rows: Sequence[Mapping],
          target_rows: Sequence[Mapping], undated: int, title: str, max_evidence: int, max_charts: int) -> str:
    periods = _periods(positions)
    holders = _holders(positions)[:max_charts]
    point_ids = {p: f"p{k}" for k, p in enumerate(positions)}
    sides, config = _sides(positions)[:max_charts], load_terms_config()
    terms, terms_evidence = terms_panels(rows, target_rows, sides, config)
    space, space_evidence = space_data(rows, target_rows, sides, positions[0].period_kind if positions else "quarter",
                                       config, max_evidence)
    evidence = (_point_evidence(point_ids, max_evidence) | _shift_evidence(shifts, max_evidence) | terms_evidence
                | space_evidence)
    data = {"evidence": evidence, "statements": _statements(rows, evidence), "latest": periods[-1] if periods else "",
            "space": space}
    colors = issue_colors([p.issue for p in positions])
    body = [_header(title, positions, periods, undated), _filters(positions, periods),
            '<main>', _shifts_table(shifts), _heatmaps(positions, periods, point_ids), terms, space_section(sides),
            _charts(positions, holders, periods, colors, point_ids), "</main>",
            '<aside id="evidence-panel"><h2>Statements</h2><div id="evidence-body"><p class="hint">Click a point, '
            "a heatmap cell or a shift to see the statements behind it.</p></div></aside>"]
    payload = _script_safe(json.dumps(data, ensure_ascii=False, sort_keys=True))
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width\"><title>{escape(title)}</title>"
            f"<style>{(ASSETS / 'report.css').read_text(encoding='utf-8')}</style></head>\n<body>"
            + "\n".join(body)
            + f'\n<script type="application/json" id="evidence-data">{payload}</script>\n'
            f"<script>{(ASSETS / 'report.js').read_text(encoding='utf-8')}</script>\n</body></html>\n")


def _script_safe(payload: str) -> str:
    """JSON that cannot close its <script> element: <, > and & as JSON escapes (JSON.parse restores them)."""
    return payload.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _periods(positions: Sequence[Position]) -> list[str]:
    return [period for _, period in sorted({(p.period_start, p.period) for p in positions})]


def _holder_key(position: Position | Shift) -> str:
    return f"{position.level}:{position.actor}"


def _holder_label(key: str) -> str:
    level, actor = key.split(":", 1)
    return actor if level == "actor" else f"{actor} (group)"


def _sides(positions: Sequence[Position]) -> list[str]:
    """Names that can be a side in terms and bargaining space: groups first, then people; most statements first."""
    keys = sorted(_holders(positions), key=lambda k: not k.startswith("group:"))  # stable: keeps the count order
    return [name for name in dict.fromkeys(k.split(":", 1)[1] for k in keys) if name != "author"]


def _holders(positions: Sequence[Position]) -> list[str]:
    """Holder keys, actors before groups, most statements first."""
    totals: dict[str, int] = defaultdict(int)
    for p in positions:
        if p.issue != OVERALL:
            totals[_holder_key(p)] += p.n
    return sorted(totals, key=lambda k: (not k.startswith("actor:"), -totals[k], k))


# --- evidence ---------------------------------------------------------------------------------


def _sample(ids: Sequence[str], k: int) -> list[str]:
    """Up to k ids spread evenly over the (date-ordered) list."""
    if len(ids) <= k:
        return list(ids)
    if k <= 1:
        return list(ids[:k])
    return [ids[round(i * (len(ids) - 1) / (k - 1))] for i in range(k)]


def _point_evidence(point_ids: Mapping[Position, str], k: int) -> dict[str, dict]:
    evidence = {}
    for p, pid in point_ids.items():
        issue = "overall" if p.issue == OVERALL else p.issue
        head = (f"{_holder_label(_holder_key(p))} · {issue} · {p.period}: {p.maximalism:.2f} "
                f"[{p.maximalism_low:.2f}–{p.maximalism_high:.2f}]")
        evidence[pid] = {"title": head, "sections": [[f"{p.n} statements", _sample(p.statement_ids, k), p.n]]}
    return evidence


def _shift_evidence(shifts: Sequence[Shift], k: int) -> dict[str, dict]:
    return {f"s{j}": {"title": format_shift(s), "sections": [
        [f"{s.from_period}: {s.from_n} statements", _sample(s.from_statement_ids, k), s.from_n],
        [f"{s.to_period}: {s.to_n} statements", _sample(s.to_statement_ids, k), s.to_n]]}
        for j, s in enumerate(shifts)}


def _statements(rows: Sequence[Mapping], evidence: Mapping[str, dict]) -> dict[str, list]:
    """Date, actor, text, source and url of every statement the evidence names."""
    wanted = {i for entry in evidence.values() for section in entry["sections"] for i in section[1]}
    found = {}
    for row in rows:
        if row["id"] in wanted:
            text = row["text"] if len(row["text"]) <= TEXT_LIMIT else row["text"][:TEXT_LIMIT - 1] + "…"
            source = row.get("title") or Path(row.get("source_path") or "").name
            kind = f" ({row['source_type']})" if row.get("source_type") else ""
            found[row["id"]] = [row.get("date") or "", row["actor"], text, f"{source}{kind}", row.get("url") or ""]
    return found


# --- sections ---------------------------------------------------------------------------------


def _header(title: str, positions: Sequence[Position], periods: Sequence[str], undated: int) -> str:
    model = positions[0].model_id if positions else "none"
    kind = positions[0].period_kind if positions else "-"
    span = f"{periods[0]} – {periods[-1]}" if periods else "no dated positions"
    note = f"; {undated} statements without a date left out" if undated else ""
    return (f"<header><h1>{escape(title)}</h1><p class=\"meta\">model <code>{escape(model)}</code> · by {escape(kind)}"
            f" · {escape(span)} · {len(positions)} positions{escape(note)}</p></header>")


def _options(values: Sequence[tuple[str, str]], everything: str) -> str:
    return f'<option value="">{everything}</option>' + "".join(
        f'<option value="{escape(v)}">{escape(label)}</option>' for v, label in values)


def _filters(positions: Sequence[Position], periods: Sequence[str]) -> str:
    holders = _holders(positions)
    issues = sorted({p.issue for p in positions} - {OVERALL}) + [OVERALL]
    return ('<nav class="filters">'
            f'<label>actor <select id="f-actor">{_options([(h, _holder_label(h)) for h in holders], "all")}</select>'
            f'</label><label>issue <select id="f-issue">'
            f'{_options([(i, "overall" if i == OVERALL else i) for i in issues], "all")}</select></label>'
            f'<label>period <select id="f-period">{_options([(p, p) for p in periods], "all (latest in heatmap)")}'
            "</select></label></nav>")


def _shifts_table(shifts: Sequence[Shift]) -> str:
    if not shifts:
        return ('<section id="shifts"><h2>Shifts</h2><p class="hint">No move between consecutive periods is larger '
                "than the noise (every pair of 90 % intervals overlaps).</p></section>")
    rows = []
    for j, s in enumerate(shifts):
        arrow = "▲" if s.direction == "hardened" else "▼"
        rows.append(f'<tr data-actor="{escape(_holder_key(s))}" data-issue="{escape(s.issue)}" '
                    f'data-periods="{escape(s.from_period)} {escape(s.to_period)}">'
                    f"<td>{escape(format_shift(s))}</td><td>{escape(s.level)}</td>"
                    f'<td class="{s.direction}">{arrow} {s.direction}</td>'
                    f'<td><button data-ev="s{j}">statements</button></td></tr>')
    return (f'<section id="shifts"><h2>Shifts <small>({len(shifts)}; 90 % intervals do not overlap)</small></h2>'
            '<div class="scroll"><table><thead><tr><th>shift</th><th>level</th><th>direction</th><th>evidence</th>'
            "</tr></thead><tbody>" + "".join(rows) + "</tbody></table></div></section>")


def _heatmaps(positions: Sequence[Position], periods: Sequence[str], point_ids: Mapping[Position, str]) -> str:
    issues = sorted({p.issue for p in positions} - {OVERALL}) + [OVERALL]
    tables = [_heatmap(period, [p for p in positions if p.period == period], issues, point_ids,
                       current=period == periods[-1]) for period in periods]
    return ('<section id="heatmap"><h2>Maximalism by actor × issue in <span id="heat-period">'
            f'{escape(periods[-1] if periods else "-")}</span></h2>{"".join(tables)}</section>')


def _heatmap(period: str, positions: Sequence[Position], issues: Sequence[str],
             point_ids: Mapping[Position, str], current: bool) -> str:
    cells = {(_holder_key(p), p.issue): p for p in positions}
    head = "".join(f'<th data-issue="{escape(i)}">{escape("overall" if i == OVERALL else i)}</th>' for i in issues)
    rows = []
    for holder in _holders(positions):
        tds = []
        for issue in issues:
            p = cells.get((holder, issue))
            if p is None:
                tds.append(f'<td data-issue="{escape(issue)}"></td>')
                continue
            ink = "#fff" if p.maximalism > 1.8 else "#222"
            tip = f"{p.maximalism:.2f} [{p.maximalism_low:.2f}–{p.maximalism_high:.2f}], {p.n} statements"
            tds.append(f'<td data-issue="{escape(issue)}" data-ev="{point_ids[p]}" title="{escape(tip)}" '
                       f'style="background:{maximalism_color(p.maximalism)};color:{ink}">{p.maximalism:.1f}</td>')
        rows.append(f'<tr data-actor="{escape(holder)}"><th>{escape(_holder_label(holder))}</th>{"".join(tds)}</tr>')
    return (f'<div class="heat{" cur" if current else ""}" data-period="{escape(period)}"><table><thead><tr>'
            f"<th></th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")


def _charts(positions: Sequence[Position], holders: Sequence[str], periods: Sequence[str],
            colors: Mapping[str, str], point_ids: Mapping[Position, str]) -> str:
    by_holder: dict[str, dict[str, list[Position]]] = defaultdict(lambda: defaultdict(list))
    for p in positions:
        by_holder[_holder_key(p)][p.issue].append(p)
    figures = []
    for holder in holders:
        series = by_holder[holder]
        total = sum(p.n for issue, members in series.items() if issue != OVERALL for p in members)
        figures.append(f'<figure class="chart" data-actor="{escape(holder)}"><figcaption>'
                       f"{escape(_holder_label(holder))} <small>{total} statement-issue readings</small>"
                       f"</figcaption>{line_chart(series, periods, colors, point_ids)}</figure>")
    return ('<section id="charts"><h2>Maximalism over time <small>(line: confidence-weighted mean; band: 90 % '
            'bootstrap interval; dashed: overall index)</small></h2><div class="grid">'
            + "".join(figures) + "</div></section>")
