"""Batches of a stream: at most so many items, and optionally at most so much weight (characters, ids)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator


def batched(items: Iterable, size: int, max_weight: int | None = None,
            weight: Callable[[object], int] = len) -> Iterator[list]:
    """`items` in order, in lists of at most `size`; with `max_weight`, a list is also closed before an item
    would take its total `weight` past `max_weight` (an item heavier than that goes alone)."""
    batch: list = []
    total = 0
    for item in items:
        heft = weight(item) if max_weight is not None else 0
        if batch and (len(batch) >= size or (max_weight is not None and total + heft > max_weight)):
            yield batch
            batch, total = [], 0
        batch.append(item)
        total += heft
    if batch:
        yield batch
