"""A content-hash cache of sentence embeddings, so the encoder runs once per unique sentence, across runs too.

News repeats quotes word for word from report to report; each costs an encoder pass only the first time.
An entry's key is (encoder key, sha1 of the whitespace-normalised text): the encoder key names everything
that changes a vector (weights, adapters, max length, backend, precision), so models that share an encoder
share entries and no two encoders ever do. A bounded in-memory layer serves the quotes of the current run;
the store's `embeddings` table keeps every entry for later runs, inside the one store file, so a cache
never outlives or strays from the statements it was computed for. New entries wait in memory until the
engine `flush`es them after writing the batch they belong to: the store is written at batch boundaries only.

The in-memory layer is one matrix (`memory_items` rows) with a slot per key, so its memory is
bounded by that matrix. Keeping the vectors as given kept rows of the caller's arrays, and a row keeps its
whole batch of vectors alive: every batch with one quote still cached stayed in memory.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

MEMORY_ITEMS = 20_000  # ~30 MB of 384-d float32 vectors: enough for a run's repeated quotes, bounded


def text_key(text: str) -> str:
    """The cache key of a sentence: sha1 of its text with runs of whitespace made one space."""
    return hashlib.sha1(" ".join(text.split()).encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Embeddings of one encoder by text key; `store` (a `Store`, optional) is where earlier runs left theirs."""

    def __init__(self, encoder_key: str, store=None, memory_items: int = MEMORY_ITEMS):
        self.encoder_key, self.store, self.memory_items = encoder_key, store, memory_items
        self._slots: OrderedDict[str, int] = OrderedDict()  # key -> row of `_matrix`, least recent first
        self._matrix: np.ndarray | None = None  # allocated at the first vector, when its width is known
        self._new: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()  # the engine computes in one thread and flushes from another
        self.hits = 0
        self.misses = 0

    def get(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors of those `keys` that have one (the others are computed by the caller)."""
        found = {}
        for key in keys:
            slot = self._slots.get(key)
            if slot is not None:
                self._slots.move_to_end(key)
                found[key] = self._matrix[slot].copy()  # a copy: the slot is reused once evicted
        missing = [k for k in keys if k not in found]
        if missing and self.store is not None:
            stored = self.store.embeddings(self.encoder_key, missing)
            self._remember(stored)
            found.update(stored)
        self.hits += len(found)
        self.misses += len(keys) - len(found)
        return found

    def put(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        """Keep freshly computed vectors (rows of `vectors`, in the order of `keys`) until the next flush."""
        fresh = dict(zip(keys, vectors))
        self._remember(fresh)
        if self.store is not None:  # without a store there is nowhere to flush to
            with self._lock:
                self._new.update(fresh)

    def flush(self, store) -> None:
        """Write the vectors computed since the last flush into `store` (a `Store`), for later runs."""
        with self._lock:
            new, self._new = self._new, {}
        if new:
            store.add_embeddings(self.encoder_key, list(new), np.stack(list(new.values())))

    def _remember(self, vectors: dict[str, np.ndarray]) -> None:
        """Copy `vectors` into the matrix, each into its key's slot, a free one or the least recent one's."""
        if not vectors or self.memory_items <= 0:
            return
        if self._matrix is None:
            width = len(next(iter(vectors.values())))
            self._matrix = np.empty((self.memory_items, width), dtype=np.float32)
        for key, vector in vectors.items():
            slot = self._slots.get(key)
            if slot is not None:
                self._slots.move_to_end(key)
            elif len(self._slots) < self.memory_items:
                slot = self._slots[key] = len(self._slots)
            else:
                _, slot = self._slots.popitem(last=False)
                self._slots[key] = slot
            self._matrix[slot] = vector
