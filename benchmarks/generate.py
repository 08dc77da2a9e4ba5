"""Synthetic multi-year news reports in which chosen actors hold positions that shift or stay flat.

Run: .venv/bin/python benchmarks/generate.py OUT_DIR [--spec default|space] [--seed 0] [--documents N] [--check]
(`--spec space` writes sides that converge on some issues and not on others, for `redline space`; --check tags every generated statement with the default model and prints how often it got the issue,
stance and maximalism level the template was written for.) Templates are in `timeline_templates.py`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.timeline_templates import CLAUSES, FILLERS, FRAMES  # noqa: E402
from pipeline.config import load_actors  # noqa: E402

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")


@dataclass(frozen=True)
class Series:
    """Statements of `actors` (one picked per document) on `issue` with `stance`, at a maximalism that
    follows `levels`: (first date, level) steps, e.g. (("2022-01-01", 3), ("2025-01-01", 1))."""

    actors: tuple[str, ...]
    issue: str
    stance: str
    levels: tuple[tuple[str, int], ...]

    def level_on(self, date: dt.date) -> int:
        level = self.levels[0][1]
        for start, value in self.levels:
            if date >= dt.date.fromisoformat(start):
                level = value
        return level


@dataclass(frozen=True)
class Spec:
    """How many documents between which dates, and the series each document reports one statement of."""

    series: tuple[Series, ...]
    documents: int = 120
    start: str = "2022-01-01"
    end: str = "2025-12-31"
    fillers: int = 1  # sentences with no position per document


PUTIN_TERRITORY = Series(("Vladimir Putin",), "territory", "favor", (("2022-01-01", 3), ("2025-01-01", 1)))
ZELENSKY_NATO = Series(("Volodymyr Zelensky",), "nato_membership", "favor", (("2022-01-01", 2),))
DEFAULT_SPEC = Spec(series=(
    PUTIN_TERRITORY,
    ZELENSKY_NATO,
    Series(("Sergei Lavrov", "Dmitry Peskov"), "nato_membership", "against", (("2022-01-01", 3),)),
    Series(("Volodymyr Zelensky", "Andrii Sybiha"), "territory", "against", (("2022-01-01", 3), ("2025-04-01", 2))),
    Series(("Dmitry Peskov",), "sanctions", "against", (("2022-01-01", 2), ("2024-07-01", 3))),
))

# Russia and Ukraine both soften on territory and military limits, so the gap between them closes there; on NATO
# membership neither moves and on sanctions Russia hardens, so the gap there does not close.
CONVERGING_ISSUES = ("territory", "military_limits")
SPACE_SPEC = Spec(documents=48, series=(
    Series(("Vladimir Putin", "Dmitry Peskov"), "territory", "favor", (("2022-01-01", 3), ("2025-01-01", 1))),
    Series(("Volodymyr Zelensky", "Andrii Sybiha"), "territory", "against",
           (("2022-01-01", 3), ("2024-07-01", 2), ("2025-04-01", 1))),
    Series(("Sergei Lavrov", "Vladimir Putin"), "military_limits", "favor", (("2022-01-01", 3), ("2024-07-01", 1))),
    Series(("Volodymyr Zelensky", "Andrii Sybiha"), "military_limits", "against",
           (("2022-01-01", 3), ("2025-01-01", 1))),
    Series(("Sergei Lavrov", "Dmitry Peskov"), "nato_membership", "against", (("2022-01-01", 3),)),
    Series(("Volodymyr Zelensky",), "nato_membership", "favor", (("2022-01-01", 2),)),
    Series(("Dmitry Peskov",), "sanctions", "against", (("2022-01-01", 2), ("2025-01-01", 3))),
    Series(("Volodymyr Zelensky", "Andrii Sybiha"), "sanctions", "favor", (("2022-01-01", 2),)),
))
SPECS = {"default": DEFAULT_SPEC, "space": SPACE_SPEC}


def generate_documents(out_dir: str | Path, seed: int = 0, spec: Spec = DEFAULT_SPEC) -> list[Path]:
    """Write `spec.documents` news reports (.md with front matter) into `out_dir`; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    sides = _sides()
    paths = []
    for k, date in enumerate(_dates(spec, rng)):
        sentences = [_statement(series, date, rng, sides) for series in spec.series]
        for _ in range(spec.fillers):
            sentences.insert(rng.randrange(len(sentences) + 1), rng.choice(FILLERS))
        path = out / f"{k:04d}_{date.isoformat()}.md"
        path.write_text(_front_matter(date, k) + " ".join(sentences) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def _dates(spec: Spec, rng: random.Random) -> list[dt.date]:
    """Evenly spread over the span, each moved a little within its slot."""
    start, end = dt.date.fromisoformat(spec.start), dt.date.fromisoformat(spec.end)
    slot = (end - start).days / spec.documents
    return [start + dt.timedelta(days=int(slot * k + rng.random() * slot)) for k in range(spec.documents)]


def _sides() -> dict[str, tuple[str, ...]]:
    """Actor → the names of its side ("Russia", "Moscow"), from the actor dictionary."""
    actors = load_actors()
    states = {a.name: (a.name, *a.aliases[:1]) for a in actors.actors if a.kind == "state" and a.name == a.group}
    return {a.name: states.get(a.group, (a.group,)) for a in actors.actors}


def _statement(series: Series, date: dt.date, rng: random.Random, sides: dict[str, tuple[str, ...]]) -> str:
    actor = rng.choice(series.actors)
    clause = rng.choice(CLAUSES[series.issue][series.stance][series.level_on(date)])
    clause = clause.format(side=rng.choice(sides.get(actor, (actor,))))
    name = actor if rng.random() < 0.6 else actor.split()[-1]
    sentence = rng.choice(FRAMES).format(name=name, clause=clause, weekday=rng.choice(WEEKDAYS))
    return sentence[0].upper() + sentence[1:]


def _front_matter(date: dt.date, k: int) -> str:
    return (f"---\ntitle: \"Synthetic news report {k} ({date.isoformat()})\"\ndate: {date.isoformat()}\n"
            "source_type: news_report\nspeaker: author\nsource: \"Redline synthetic (benchmarks/generate.py)\"\n---\n")


def check_tagging(spec: Spec = DEFAULT_SPEC, seed: int = 0) -> dict[str, float]:
    """Tag one statement per template clause with the default model; shares it got right."""
    import pipeline

    model = pipeline.load()
    rng, sides = random.Random(seed), _sides()
    cases = []
    for series in spec.series:
        for level in {value for _, value in series.levels}:
            for clause in CLAUSES[series.issue][series.stance][level]:
                actor = rng.choice(series.actors)
                for frame in FRAMES:
                    text = frame.format(name=actor, clause=clause.format(side=rng.choice(sides[actor])),
                                        weekday="Monday")
                    cases.append((series, level, text, load_group(actor)))
    rows = model.tag([c[2] for c in cases], [c[3] for c in cases])
    issue = [c[0].issue in r["issues"] for c, r in zip(cases, rows)]
    # a concession (levels 0–1) can take the other side's proposition, so stance is checked on firm levels only
    firm = [(c, r) for c, r in zip(cases, rows) if c[1] >= 2]
    stance = [r["stance"].get(c[0].issue) == c[0].stance for c, r in firm]
    level = [abs(r["maximalism"].get(c[0].issue, -9) - c[1]) < 0.75 for c, r in zip(cases, rows)]
    return {"statements": len(cases), "issue": sum(issue) / len(cases), "stance_levels_2_3": sum(stance) / len(firm),
            "maximalism_within_0.75": sum(level) / len(cases)}


def load_group(actor: str) -> str:
    return {a.name: a.group for a in load_actors().actors}[actor]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--spec", choices=sorted(SPECS), default="default",
                        help="default: shifts of single actors; space: sides that converge on some issues only.")
    parser.add_argument("--documents", type=int, help="How many (default: the spec's).")
    parser.add_argument("--check", action="store_true", help="Tag the templates with the default model.")
    args = parser.parse_args()
    chosen = SPECS[args.spec]
    spec = Spec(chosen.series, args.documents or chosen.documents, chosen.start, chosen.end)
    paths = generate_documents(args.out_dir, args.seed, spec)
    print(f"{len(paths)} documents → {args.out_dir}")
    if args.check:
        print(check_tagging(spec, args.seed))


if __name__ == "__main__":
    main()
