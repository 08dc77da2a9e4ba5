"""Attribution accuracy: who holds each statement, on the shipped samples and on real-dev documents.

Run: .venv/bin/python benchmarks/attribution.py [--write]   (--write updates benchmarks/RESULTS.md)
Gold: corpora/samples/gold.jsonl (written here) and ../shared/datasets/real-dev/documents-gold.jsonl
(real news and transcripts, read from ../shared at run time, never copied; skipped when absent).
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._results import machine_line, write_section  # noqa: E402
from pipeline.attribute import ActorResolver  # noqa: E402
from pipeline.config import load_actors  # noqa: E402
from pipeline.engine import statements_for  # noqa: E402
from pipeline.evaluate import _group_of, attribution_scores, match_units, read_jsonl  # noqa: E402
from pipeline.ingest import read_inputs  # noqa: E402
from pipeline.records import Document, Statement  # noqa: E402

SETS = {
    "samples": (ROOT / "corpora/samples/documents", ROOT / "corpora/samples/gold.jsonl"),
    "real-dev": (ROOT.parent / "shared/datasets/real-dev/documents",
                 ROOT.parent / "shared/datasets/real-dev/documents-gold.jsonl"),
}


def matched_pairs(documents_dir: Path, gold_path: Path, resolver: ActorResolver) -> list[tuple[dict, Statement | None]]:
    """Each gold unit (names made canonical) with the statement segmentation and attribution made over it."""
    documents = [d for d in read_inputs([documents_dir]) if isinstance(d, Document)]
    statements = statements_for(documents, resolver)
    by_doc = defaultdict(list)
    names = {d.id: Path(d.source_path).name for d in documents}
    for statement in statements:
        by_doc[names[statement.doc_id]].append(statement)
    gold = [_canonical(u, resolver) for u in read_jsonl(gold_path)]
    pairs = []
    for doc, units in _group(gold).items():
        pairs.extend(match_units(units, by_doc.get(doc, [])))
    return pairs


def score_set(documents_dir: Path, gold_path: Path, resolver: ActorResolver,
              pairs: list[tuple[dict, Statement | None]] | None = None) -> tuple[dict, list]:
    """Attribution scores for one folder of documents against its gold units, and the misses
    (`pairs` from `matched_pairs`, when the caller has them already)."""
    pairs = matched_pairs(documents_dir, gold_path, resolver) if pairs is None else pairs
    groups = {a.name: a.group for a in resolver.actors.actors}
    misses = [(u, p) for u, p in pairs if p is None or p.actor not in {u["actor"], *_alts(u)}
              or p.actor_group not in {u["actor_group"], *(_group_of(a, groups) for a in _alts(u))}]
    return attribution_scores(pairs, groups), misses


def _canonical(unit: dict, resolver: ActorResolver) -> dict:
    """Gold names spelled another way ("Yuri Ushakov") compare as the dictionary's canonical name."""
    unit = dict(unit)
    for key in ("actor", "alt_actor"):
        names = unit.get(key)
        if not names:
            continue
        canon = [_canonical_name(n, resolver) for n in (names if isinstance(names, list) else [names])]
        unit[key] = canon[0] if key == "actor" else canon
    return unit


def _canonical_name(name: str, resolver: ActorResolver) -> str:
    mentions = resolver.mentions(name, None)
    return mentions[0][2] if len(mentions) == 1 and mentions[0][1] - mentions[0][0] == len(name) else name


def _alts(unit: dict) -> list[str]:
    alt = unit.get("alt_actor")
    return [] if not alt else (alt if isinstance(alt, list) else [alt])


def _group(gold: list[dict]) -> dict[str, list[dict]]:
    grouped = defaultdict(list)
    for unit in gold:
        grouped[unit["doc"]].append(unit)
    return grouped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    parser.add_argument("--misses", action="store_true", help="print the units attributed wrongly")
    args = parser.parse_args()
    resolver = ActorResolver(load_actors())
    lines = ["| set | units | actor right | group right | by attribution kind (actor right) |", "|---|---|---|---|---|"]
    for name, (documents_dir, gold_path) in SETS.items():
        if not gold_path.exists():
            print(f"{name}: not present, skipped")
            continue
        scores, misses = score_set(documents_dir, gold_path, resolver)
        kinds = ", ".join(f"{k} {v['actor']:.0%} (n={v['n']})" for k, v in scores.items() if k != "all")
        overall = scores["all"]
        lines.append(f"| {name} | {overall['n']} | {overall['actor']:.1%} | {overall['group']:.1%} | {kinds} |")
        print(lines[-1])
        if args.misses:
            for unit, predicted in misses:
                got = f"{predicted.actor} ({predicted.attribution}, {predicted.cue})" if predicted else "nothing"
                print(f"  {unit['id']}: gold {unit['actor']}/{unit['actor_group']} ({unit.get('attribution')}) "
                      f"got {got} /{predicted.actor_group if predicted else ''}: {unit['text'][:90]}")
    if args.write:
        write_section("Attribution", "\n".join([machine_line(), "", *lines,
                      "", "Units are matched to statements by span overlap; an `alt_actor` counts as right. "
                      "Command: `.venv/bin/python benchmarks/attribution.py --write`."]))


if __name__ == "__main__":
    main()
