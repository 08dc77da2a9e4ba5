"""Charts of positions over time: inline SVG for the HTML report (no JavaScript library), PNG via matplotlib.

`line_chart` draws one actor's maximalism per issue with its interval band; `maximalism_color` is the
heatmap's colour scale. Issue colours come from the data (sorted issue ids), never from a fixed list of issues.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path

from .aggregate import OVERALL
from .records import Position

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#bcbd22", "#7f7f7f", "#393b79", "#ad494a", "#637939", "#e7ba52")
OVERALL_COLOR = "#222222"
LEVEL_NAMES = ("conciliatory", "flexible", "firm", "maximal")
SCALE_LOW, SCALE_HIGH = (255, 245, 235), (127, 39, 4)  # maximalism 0 → 3, light to dark orange
WIDTH, HEIGHT = 900, 240
MARGIN = {"left": 86, "right": 150, "top": 14, "bottom": 34}
LABEL_WIDTH = 62  # pixels one period label needs


def issue_colors(issues: Sequence[str]) -> dict[str, str]:
    """A stable colour per issue id (sorted ids cycle through the palette); the overall index is near-black."""
    ordered = sorted(i for i in set(issues) if i != OVERALL)
    colors = {issue: PALETTE[k % len(PALETTE)] for k, issue in enumerate(ordered)}
    colors[OVERALL] = OVERALL_COLOR
    return colors


def maximalism_color(value: float) -> str:
    """The heatmap colour of a maximalism value on the 0–3 scale."""
    t = min(max(value / 3.0, 0.0), 1.0)
    r, g, b = (round(lo + (hi - lo) * t) for lo, hi in zip(SCALE_LOW, SCALE_HIGH))
    return f"#{r:02x}{g:02x}{b:02x}"


def line_chart(series: Mapping[str, Sequence[Position]], periods: Sequence[str], colors: Mapping[str, str],
               point_ids: Mapping[Position, str]) -> str:
    """An SVG of maximalism (0–3) per period: one line and interval band per issue, clickable points."""
    x_of = _x_scale(periods)
    parts = [f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
             'xmlns="http://www.w3.org/2000/svg">', _axes(periods, x_of)]
    parts += [f'<rect class="hl" data-period="{escape(p)}" x="{x_of[p] - 6:.1f}" y="{MARGIN["top"]}" width="12" '
              f'height="{_plot_height()}" />' for p in periods]
    for issue in sorted(series, key=lambda i: (i == OVERALL, i)):
        parts.append(_series(issue, series[issue], x_of, colors[issue], point_ids))
    parts.append(_legend(sorted(series, key=lambda i: (i == OVERALL, i)), colors))
    parts.append("</svg>")
    return "".join(parts)


def _plot_height() -> int:
    return HEIGHT - MARGIN["top"] - MARGIN["bottom"]


def _y(value: float) -> float:
    return MARGIN["top"] + _plot_height() * (1 - value / 3.0)


def _x_scale(periods: Sequence[str]) -> dict[str, float]:
    width = WIDTH - MARGIN["left"] - MARGIN["right"]
    step = width / max(len(periods) - 1, 1)
    return {p: MARGIN["left"] + (k * step if len(periods) > 1 else width / 2) for k, p in enumerate(periods)}


def _axes(periods: Sequence[str], x_of: Mapping[str, float]) -> str:
    right = WIDTH - MARGIN["right"]
    parts = []
    for level, name in enumerate(LEVEL_NAMES):
        y = _y(level)
        parts.append(f'<line class="gridline" x1="{MARGIN["left"]}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" />'
                     f'<text class="tick" x="{MARGIN["left"] - 6}" y="{y + 4:.1f}" text-anchor="end">'
                     f'{level} {name}</text>')
    bottom = HEIGHT - MARGIN["bottom"]
    for period in _labelled(periods):
        parts.append(f'<text class="tick" x="{x_of[period]:.1f}" y="{bottom + 16}" text-anchor="middle">'
                     f'{escape(period)}</text>')
    return "".join(parts)


def _labelled(periods: Sequence[str]) -> list[str]:
    """Every period whose label fits, at a regular step from the first (a label needs LABEL_WIDTH pixels)."""
    fit = max(1, (WIDTH - MARGIN["left"] - MARGIN["right"]) // LABEL_WIDTH)
    step = max(1, -(-len(periods) // fit))
    return list(periods[::step])


def _series(issue: str, positions: Sequence[Position], x_of: Mapping[str, float], color: str,
            point_ids: Mapping[Position, str]) -> str:
    points = sorted((p for p in positions if p.period in x_of), key=lambda p: p.period_start)
    overall = issue == OVERALL
    parts = [f'<g class="series" data-issue="{escape(issue)}">']
    if not overall:
        band = [f"{x_of[p.period]:.1f},{_y(p.maximalism_high):.1f}" for p in points]
        band += [f"{x_of[p.period]:.1f},{_y(p.maximalism_low):.1f}" for p in reversed(points)]
        parts.append(f'<polygon class="band" points="{" ".join(band)}" fill="{color}" stroke="{color}" />')
    line = " ".join(f"{x_of[p.period]:.1f},{_y(p.maximalism):.1f}" for p in points)
    parts.append(f'<polyline class="line{" overall" if overall else ""}" points="{line}" stroke="{color}" />')
    for p in points:
        radius = 3.0 + min(3.5, p.n ** 0.5 / 2)
        tip = (f"{issue} · {p.period}: {p.maximalism:.2f} [{p.maximalism_low:.2f}–{p.maximalism_high:.2f}], "
               f"{p.n} statements (click for them)")
        parts.append(f'<circle class="pt" data-ev="{point_ids.get(p, "")}" cx="{x_of[p.period]:.1f}" '
                     f'cy="{_y(p.maximalism):.1f}" r="{radius:.1f}" fill="{color}"><title>{escape(tip)}</title>'
                     "</circle>")
    parts.append("</g>")
    return "".join(parts)


def _legend(issues: Sequence[str], colors: Mapping[str, str]) -> str:
    x = WIDTH - MARGIN["right"] + 14
    parts = []
    for k, issue in enumerate(issues):
        y = MARGIN["top"] + 6 + 15 * k
        label = "overall" if issue == OVERALL else issue
        parts.append(f'<g class="series" data-issue="{escape(issue)}"><rect x="{x}" y="{y - 8}" width="10" '
                     f'height="10" fill="{colors[issue]}" /><text class="tick" x="{x + 15}" y="{y + 1}">'
                     f"{escape(label)}</text></g>")
    return "".join(parts)


def plot_png(positions: Sequence[Position], path: str | Path, max_panels: int = 12) -> Path:
    """A PNG with one panel per actor (most statements first): maximalism per issue with interval bands."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = _panels(positions)[:max_panels]
    colors = issue_colors([p.issue for p in positions])
    rows = max(1, -(-len(panels) // 2))
    figure, axes = plt.subplots(rows, 2 if len(panels) > 1 else 1, figsize=(12, 3.2 * rows), squeeze=False)
    for axis, (title, members) in zip(axes.flat, panels):
        _plot_panel(axis, title, members, colors)
    for axis in list(axes.flat)[len(panels):]:
        axis.set_visible(False)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _panels(positions: Sequence[Position]) -> list[tuple[str, list[Position]]]:
    by_holder: dict[tuple[str, str], list[Position]] = {}
    for p in positions:
        by_holder.setdefault((p.level, p.actor), []).append(p)
    ranked = sorted(by_holder.items(), key=lambda kv: (-sum(p.n for p in kv[1] if p.issue != OVERALL), kv[0]))
    return [(actor if level == "actor" else f"{actor} (group)", members) for (level, actor), members in ranked]


def _plot_panel(axis, title: str, members: Sequence[Position], colors: Mapping[str, str]) -> None:
    periods = sorted({(p.period_start, p.period) for p in members})
    index = {period: k for k, (_, period) in enumerate(periods)}
    for issue in sorted({p.issue for p in members}):
        points = sorted((p for p in members if p.issue == issue), key=lambda p: p.period_start)
        x = [index[p.period] for p in points]
        overall = issue == OVERALL
        axis.plot(x, [p.maximalism for p in points], marker="o", color=colors[issue], linestyle="--" if overall
                  else "-", label="overall" if overall else issue)
        if not overall:
            axis.fill_between(x, [p.maximalism_low for p in points], [p.maximalism_high for p in points],
                              color=colors[issue], alpha=0.15)
    axis.set_xticks(range(len(periods)), [period for _, period in periods])
    axis.set_title(title)
    axis.set_ylim(0, 3)
    axis.set_ylabel("maximalism")
    axis.tick_params(axis="x", labelrotation=45, labelsize=7)
    axis.legend(fontsize=7, loc="best")


def plot_space_png(space, path: str | Path) -> Path:
    """A PNG heatmap of the gap between two sides (`space.BargainingSpace`): issue (and target) × period,
    with room to bargain marked "◦"."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.colors import LinearSegmentedColormap

    keys = list(dict.fromkeys((c.issue, c.target) for c in space.cells))
    periods = [p for _, p in sorted({(c.period_start, c.period) for c in space.cells})]
    gaps = np.full((len(keys), len(periods)), np.nan)
    figure, axis = plt.subplots(figsize=(max(6.0, 0.55 * len(periods) + 3), max(2.5, 0.32 * len(keys) + 1.5)))
    for cell in space.cells:
        row, column = keys.index((cell.issue, cell.target)), periods.index(cell.period)
        gaps[row, column] = cell.gap
        axis.text(column, row, f"{cell.gap:.1f}{' ◦' if cell.room else ''}", ha="center", va="center", fontsize=7,
                  color="white" if cell.gap > 1.8 else "#222")
    scale = LinearSegmentedColormap.from_list("maximalism", [maximalism_color(0), maximalism_color(3)])
    image = axis.imshow(gaps, cmap=scale, vmin=0, vmax=3, aspect="auto")
    axis.set_xticks(range(len(periods)), periods, rotation=45, fontsize=7)
    axis.set_yticks(range(len(keys)), [issue + (f" · {target}" if target else "") for issue, target in keys],
                    fontsize=7)
    axis.set_title(f"Gap between {space.a} and {space.b} (0 agree – 3 opposed, both maximal; ◦ room to bargain)",
                   fontsize=9)
    figure.colorbar(image, ax=axis, fraction=0.03, pad=0.02)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
