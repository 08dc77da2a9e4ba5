"""A large, realistic input for the speed benchmark, built from the annotated corpus.

Documents come in three forms, as a news archive has them: news reports (reported speech and quotes with
frames, plus the author's own sentences), transcripts of press conferences and interviews (`NAME: text`
turns with a reporter's questions) and speeches (one speaker, first person). Each has 4–10 sentences.
A share of the quotes are "wire quotes": a few hundred statements that many reports repeat word for word,
as agencies and papers do; the rest of the sentences get a time or place opening that makes most of them
unique; a speaker's sentences get a spoken opening the same way. Written as JSONL shards of `SHARD_SIZE` documents each, so no reader holds the whole input.

Run: .venv/bin/python benchmarks/speed_input.py OUT_DIR --documents 1000 [--seed 0]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.evaluate import read_jsonl  # noqa: E402

CORPUS = ROOT / "corpora" / "statements"
SHARD_SIZE = 1000
WIRE_QUOTES = 300  # statements that many reports repeat verbatim
WIRE_SHARE = 0.2  # share of a report's sentences that are wire quotes
FORMS = (("news_report", 0.6), ("transcript", 0.25), ("speech", 0.15))
NEWS_FORMS = {"reported", "paraphrase", "negative", "quote_with_frame", "speculation", "multi_holder_context"}
SPOKEN_FORMS = {"first_person", "press_answer"}
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
PLACES = ("in Kyiv", "in Moscow", "in Brussels", "in Washington", "in Geneva", "in Istanbul", "in Berlin",
          "in Paris", "in London", "in Warsaw", "in Ankara", "in Beijing", "at the United Nations",
          "in Riyadh", "in Jeddah", "in Helsinki", "in Vienna", "in Rome", "in Budapest", "in Davos")
SPOKEN_OPENINGS = ("As I said {place} on {day} {month},", "Let me repeat what I said on {day} {month}:",
                   "Since {day} {month}, one thing is clear:", "Here {place}, I want to say it plainly:",
                   "As we told our partners {place},")
OPENINGS = ("On {day} {month},", "Late on {day} {month},", "Early on {day} {month},", "Speaking {place} on {day} {month},",
            "{Place} on {day} {month},", "In remarks {place} on {day} {month},", "By {day} {month},")
_LOWER_AFTER_OPENING = {"The", "A", "An", "It", "Its", "This", "That", "These", "There", "We", "Our", "They"}
QUESTIONS = ("What is your answer to those in {place_name} who say talks should begin now?",
             "Is there any room for compromise before {day} {month}?",
             "How do you respond to the latest proposal discussed {place}?",
             "Will you meet your counterpart {place} this month?",
             "What would a settlement have to include for you to sign it?",
             "Do you expect progress at the next round {place}?",
             "Some of your allies say the war has reached a stalemate. Do you agree?")


@dataclass(frozen=True)
class Pools:
    """Corpus sentences sorted by how they can appear: in news text, as spoken turns, and wire quotes."""

    news: tuple[str, ...]
    spoken: dict[str, tuple[str, ...]]  # speaker → first-person sentences
    wire: tuple[str, ...]


def load_pools(seed: int) -> Pools:
    rows = [row for path in sorted(CORPUS.glob("*.jsonl")) for row in read_jsonl(path)]
    spoken: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        if row["form"] in SPOKEN_FORMS and row["actor"] != "author" and " " in row["actor"]:
            spoken[row["actor"]].append(row["text"])
    rng = random.Random(seed)
    quotes = [row["text"] for row in rows if row["form"] == "quote_with_frame"]
    return Pools(news=tuple(row["text"] for row in rows if row["form"] in NEWS_FORMS),
                 spoken={actor: tuple(texts) for actor, texts in spoken.items() if len(texts) >= 4},
                 wire=tuple(rng.sample(quotes, min(WIRE_QUOTES, len(quotes)))))


def write_input(out_dir: str | Path, documents: int, seed: int = 0) -> list[Path]:
    """Write `documents` documents as JSONL shards into `out_dir`; returns the shard paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng, pools = random.Random(seed), load_pools(seed)
    speakers = sorted(pools.spoken)
    paths = []
    for shard_start in range(0, documents, SHARD_SIZE):
        path = out / f"shard-{shard_start // SHARD_SIZE:05d}.jsonl"
        with path.open("w", encoding="utf-8") as shard:
            for k in range(shard_start, min(documents, shard_start + SHARD_SIZE)):
                shard.write(json.dumps(_document(k, rng, pools, speakers), ensure_ascii=False) + "\n")
        paths.append(path)
    return paths


def _document(k: int, rng: random.Random, pools: Pools, speakers: list[str]) -> dict:
    date = dt.date(2022, 1, 1) + dt.timedelta(days=rng.randrange(4 * 365))
    form = rng.choices([f for f, _ in FORMS], [w for _, w in FORMS])[0]
    length = rng.randint(4, 10)
    if form == "news_report":
        sentences = [_wire(rng, pools) if rng.random() < WIRE_SHARE
                     else _opened(rng.choice(pools.news), OPENINGS, rng) for _ in range(length)]
        return {"text": " ".join(sentences), "date": date.isoformat(), "source_type": "news_report",
                "title": f"Report {k}"}
    speaker = rng.choice(speakers)
    if form == "speech":
        return {"text": " ".join(_spoken(speaker, rng, pools) for _ in range(length)),
                "date": date.isoformat(), "speaker": speaker, "source_type": "speech", "title": f"Speech {k}"}
    turns = []
    for turn in range(length):
        if turn % 2 == 0:
            turns.append(f"Q: {_fill(rng.choice(QUESTIONS), rng)}")
        else:
            turns.append(f"{speaker.upper()}: {_spoken(speaker, rng, pools)}")
    return {"text": "\n".join(turns), "date": date.isoformat(), "source_type": rng.choice(("press_remarks", "interview")),
            "title": f"Transcript {k}"}


def _wire(rng: random.Random, pools: Pools) -> str:
    """A wire quote, the popular ones far more often (Zipf-like), word for word."""
    rank = min(int(rng.paretovariate(1.0)) - 1, len(pools.wire) - 1)
    return pools.wire[rank]


def _spoken(speaker: str, rng: random.Random, pools: Pools) -> str:
    """One of the speaker's sentences, most with a spoken opening (speakers rarely repeat themselves exactly)."""
    sentence = rng.choice(pools.spoken[speaker])
    return _opened(sentence, SPOKEN_OPENINGS, rng) if rng.random() < 1 - WIRE_SHARE else sentence


def _opened(sentence: str, openings: tuple[str, ...], rng: random.Random) -> str:
    """The sentence with a time or place opening, as a report words what the corpus states plainly."""
    opening = _fill(rng.choice(openings), rng)
    first = sentence[:1].lower() + sentence[1:] if sentence.split(" ", 1)[0] in _LOWER_AFTER_OPENING else sentence
    return f"{opening} {first}"


def _fill(template: str, rng: random.Random) -> str:
    place = rng.choice(PLACES)
    return template.format(day=rng.randint(1, 28), month=rng.choice(MONTHS), place=place,
                           Place=place[0].upper() + place[1:], place_name=place.split(" ", 1)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    paths = write_input(args.out_dir, args.documents, args.seed)
    print(f"{args.documents} documents in {len(paths)} shards → {args.out_dir}")


if __name__ == "__main__":
    main()
