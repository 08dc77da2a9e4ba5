"""Offices held by different people over time: each role of the actor dictionary resolves by the document's date."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.config import load_actors

# (how a text names the office, date, who held it then): for every role, a date before and after each change.
OFFICES = [
    ("The US president", "2022-05-01", "Joe Biden"),
    ("The US president", "2025-01-19", "Joe Biden"),
    ("The US president", "2025-01-20", "Donald Trump"),
    ("The American president", "2025-03-01", "Donald Trump"),
    ("The US secretary of state", "2024-06-01", "Antony Blinken"),
    ("America's top diplomat", "2025-03-01", "Marco Rubio"),
    ("Ukraine's foreign minister", "2024-03-01", "Dmytro Kuleba"),
    ("Ukraine's foreign minister", "2024-11-01", "Andrii Sybiha"),
    ("The NATO Secretary General", "2024-06-01", "Jens Stoltenberg"),
    ("NATO's secretary general", "2024-12-01", "Mark Rutte"),
    ("The German chancellor", "2025-02-01", "Olaf Scholz"),
    ("Germany's chancellor", "2025-06-01", "Friedrich Merz"),
    ("The British prime minister", "2022-06-01", "Boris Johnson"),
    ("The British prime minister", "2022-10-01", "Liz Truss"),
    ("The British prime minister", "2023-06-01", "Rishi Sunak"),
    ("The UK prime minister", "2024-09-01", "Keir Starmer"),
    ("Ukraine's defence minister", "2023-03-01", "Oleksii Reznikov"),
    ("Ukraine's defence minister", "2024-03-01", "Rustem Umerov"),
    ("Ukraine's defence minister", "2025-09-01", "Denys Shmyhal"),
    ("Ukraine's prime minister", "2024-03-01", "Denys Shmyhal"),
    ("The Ukrainian prime minister", "2025-09-01", "Yulia Svyrydenko"),
    ("The EU foreign policy chief", "2024-06-01", "Josep Borrell"),
    ("The EU foreign policy chief", "2025-02-01", "Kaja Kallas"),
    ("The European Council president", "2024-06-01", "Charles Michel"),
    ("The European Council president", "2025-02-01", "Antonio Costa"),
]


@pytest.mark.parametrize("office, date, holder", OFFICES)
def test_each_office_resolves_to_its_holder_on_the_documents_date(attribute_text, office, date, holder):
    (statement,) = attribute_text(f"{office} said the talks must go on.", date=date, source_type="news_report")
    assert (statement.actor, statement.attribution) == (holder, "reported")


def test_every_role_in_the_dictionary_is_covered_before_and_after_each_change():
    """A role added to the dictionary needs its rows in OFFICES: every holder of it, and the change dates."""
    tested = {(office.lower(), holder) for office, _, holder in OFFICES}
    for role in load_actors().roles:
        aliases = {a.lower() for a in role.aliases}
        holders = {holder for office, holder in tested if office in aliases}
        assert holders == {term.name for term in role.holders}, role.aliases[0]


def test_redline_run_gives_the_us_president_to_biden_in_2022_and_trump_in_2025(tmp_path):
    for year in (2022, 2025):
        (tmp_path / f"{year}.md").write_text(f"---\ndate: {year}-06-10\nsource_type: news_report\n---\n"
                                             "The US president said sanctions on Russia will stay.\n",
                                             encoding="utf-8")
    store = tmp_path / "s.duckdb"
    runner = CliRunner()
    result = runner.invoke(app, ["run", str(tmp_path), "--store", str(store), "--no-classify"])
    assert result.exit_code == 0, result.output
    listed = runner.invoke(app, ["statements", "--store", str(store), "--format", "jsonl"])
    rows = sorted((json.loads(line)["date"][:4], json.loads(line)["actor"]) for line in listed.stdout.splitlines())
    assert rows == [("2022", "Joe Biden"), ("2025", "Donald Trump")]
