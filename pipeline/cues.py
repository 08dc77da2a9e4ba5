"""Wording cues for maximalism (ANNOTATION.md): absolute, firm, hedged and conceding words, plus negation,
questions, the first person and quotation marks. The heads and the word models both read their counts."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

CUES: dict[str, tuple[str, ...]] = {
    "absolute": ("never", "under no circumstances", "red line", "redline", "red-line", "unacceptable",
                 "non-negotiable", "not negotiable", "not subject to", "cannot accept", "can't accept",
                 "can not accept", "unconditional", "full control", "only if", "unless", "non-starter",
                 "inadmissible", "out of the question", "categorically", "in no case", "no way", "ultimatum",
                 "absolutely", "not an option", "at any cost", "whatever it takes", "not one inch", "entire",
                 "all of", "completely", "fully", "impossible", "under any"),
    "firm": ("must", "will not", "won't", "demand", "insist", "reject", "refuse", "require", "oppose",
             "cannot", "can't", "should", "need to", "has to", "have to", "determined", "firmly", "clear that"),
    "hedged": ("could", "might", "may", "possible", "possibly", "open to", "willing to", "ready to discuss",
               "consider", "perhaps", "i think", "some kind", "ruled out", "conditions", "if ", "maybe",
               "in principle", "not excluded", "we'll see", "hope", "flexib", "probably", "potentially",
               "under certain", "discuss", "room for", "starting point"),
    "conceding": ("not object", "no objection", "nothing against", "we accept", "agreed to", "satisfied",
                  "compromise", "concession", "accept", "dropped", "give up", "prepared to accept", "no longer",
                  "would not object", "not oppose", "do not mind", "fine with", "willing to accept",
                  "recognise that", "recognize that", "can live with", "set aside"),
    "negation": ("not", "no ", "n't", "never", "neither", "nor"),
    "question": ("?",),
    "first_person": ("we ", "i ", "our ", "us ", "my "),
    "quote": ("\"", "“", "”"),
}


def cue_counts(texts: Sequence[str]) -> np.ndarray:
    """Counts of each cue family per text (log-scaled), shape (n, len(CUES))."""
    rows = []
    for text in texts:
        lowered = f" {text.lower()} "
        rows.append([np.log1p(sum(lowered.count(c) for c in cues)) for cues in CUES.values()])
    return np.array(rows, dtype=np.float32).reshape(len(texts), len(CUES))
