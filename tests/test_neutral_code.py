"""Nothing under pipeline/ is tied to one negotiation: no file there names an issue, an actor, a country or a
place of any shipped taxonomy, actor dictionary or targets dictionary. Conflict knowledge lives in configs/."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
CODE_SUFFIXES = {".py", ".html", ".js", ".css", ".yaml", ".json", ".md", ".txt"}


def _proper(name: str) -> bool:
    return len(name) > 2 and name[:1].isupper()


def conflict_names() -> set[str]:
    """Every issue id, actor, alias, group, demonym and target that configs/ ships."""
    names: set[str] = set()
    for path in (CONFIGS / "issues").glob("*.yaml"):
        names |= {issue["id"] for issue in yaml.safe_load(path.read_text(encoding="utf-8"))["issues"]}
    for path in (CONFIGS / "actors").glob("*.yaml"):
        actors = yaml.safe_load(path.read_text(encoding="utf-8"))
        names |= {g for g in actors["groups"] if g != "other"} | set(actors.get("demonyms", {}))
        for actor in actors["actors"]:
            names |= {actor["name"], *filter(_proper, actor.get("aliases", ()))}
    for path in (CONFIGS / "targets").glob("*.yaml"):
        targets = yaml.safe_load(path.read_text(encoding="utf-8"))
        aliases = targets.get("targets", targets)
        for target, written in aliases.items():
            names |= {target, *filter(_proper, written)}
    return {n for n in names if len(n) > 1}


def test_the_check_knows_the_shipped_names():
    names = conflict_names()
    assert {"territory", "enrichment", "Vladimir Putin", "Kyiv", "Russia", "Zaporizhzhia", "Fordow"} <= names


def test_no_file_under_pipeline_names_an_issue_an_actor_or_a_place():
    names = sorted(conflict_names(), key=len, reverse=True)
    # Proper names match in any case ("PRESIDENT ZELENSKY"); ids and short names (US, EU) as written.
    pattern = re.compile("|".join(
        (rf"(?i:(?<![\w]){re.escape(n)}(?![\w]))" if _proper(n) and len(n) > 3 else rf"(?<![\w]){re.escape(n)}(?![\w])")
        for n in names))
    found = []
    for path in sorted((ROOT / "pipeline").rglob("*")):
        if path.is_file() and path.suffix in CODE_SUFFIXES:
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                found += [f"{path.relative_to(ROOT)}:{number}: {m.group(0)!r} in {line.strip()[:100]}"
                          for m in pattern.finditer(line)]
    assert not found, "conflict-specific names in pipeline/ (move them to configs/):\n" + "\n".join(found)
