"""A content-hash cache of sentence embeddings, so the encoder runs once per unique sentence, across runs too.

News repeats quotes word for word from report to report; each costs an encoder pass only the first time.
An entry's key is (encoder key, sha1 of the whitespace-normalised text): the encoder key names everything
that changes a vector (weights, adapters, max length, backend, precision), so models that share an encoder
share entries and no two encoders ever do. A bounded in-memory layer serves the quotes of the current run;
the store's `embeddings` table keeps every entry for later runs, inside the one store file, so a cache
never outlives or strays from the statements it was computed for. New entries wait in memory until the
engine `flush`es them after writing the batch they belong to: the store is written at batch boundaries only.
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
        self._memory: OrderedDict[str, np.ndarray] = OrderedDict()
        self._new: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()  # the engine computes in one thread and flushes from another
        self.hits = 0
        self.misses = 0

    def get(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors of those `keys` that have one (the others are computed by the caller)."""
        found = {}
        for key in keys:
            vector = self._memory.get(key)
            if vector is not None:
                self._memory.move_to_end(key)
                found[key] = vector
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
        self._memory.update(vectors)
        while len(self._memory) > self.memory_items:
            self._memory.popitem(last=False)
