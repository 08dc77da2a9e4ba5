"""Speed features that must not change results: the embedding cache, the ONNX backend, the device and
precision parameters, positions computed period by period, and a bounded run summary."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
import torch

from pipeline.aggregate import positions_by_period
from pipeline.embedding_cache import EmbeddingCache, text_key
from pipeline.encoder import Encoder
from pipeline.engine import MAX_LISTED, RunSummary, fill_positions, run
from pipeline.errors import ModelError
from pipeline.records import Problem
from pipeline.store import Store

from .conftest import TIMELINE_MODEL

TEXTS = ["Russia will never give up Crimea.", "Russia  will never\ngive up Crimea.",
         "Kyiv is open to a ceasefire along the current line if talks begin within a month, officials said.",
         "No.", "Russia will never give up Crimea."]


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return Encoder()


def test_repeated_sentences_are_encoded_once_and_served_from_the_cache(encoder, tmp_path):
    plain = encoder.encode(TEXTS)
    with Store(tmp_path / "cache.duckdb") as store:
        first = EmbeddingCache(encoder.key(), store)
        with encoder.caching(first):
            cached = encoder.encode(TEXTS)
        assert (first.misses, first.hits) == (3, 0)  # whitespace variants are one sentence
        first.flush(store)
        later = EmbeddingCache(encoder.key(), store)  # a later run: the store kept the vectors
        with encoder.caching(later):
            again = encoder.encode(list(reversed(TEXTS)))
        assert (later.misses, later.hits) == (0, 3)
    assert torch.allclose(cached, plain, atol=1e-5)
    assert torch.allclose(again, plain.flip(0), atol=1e-5)
    assert text_key(TEXTS[0]) == text_key(TEXTS[1]) != text_key(TEXTS[2])


def test_the_cache_in_memory_is_bounded_and_keeps_no_batch_of_the_caller_alive():
    cache = EmbeddingCache("encoder", memory_items=3)
    batch = np.arange(20, dtype=np.float32).reshape(5, 4).copy()  # owns its data, as a computed batch does
    alive = weakref.ref(batch)
    cache.put(list("abcde"), batch)
    kept = cache.get(list("cde"))
    del batch
    gc.collect()
    assert alive() is None  # rows were copied: a long run does not keep every batch that had a quote
    assert sorted(cache.get(list("abcde"))) == list("cde")  # the least recent were evicted
    cache.put(["f", "g"], np.full((2, 4), -1.0, dtype=np.float32))  # evicts c and d, reusing their rows
    assert sorted(cache.get(list("cdefg"))) == list("efg")
    assert kept["c"].tolist() == [8, 9, 10, 11]  # what get returned is not overwritten by later puts
    assert cache.get(["e"])["e"].tolist() == [16, 17, 18, 19] and cache.get(["g"])["g"].tolist() == [-1] * 4


def test_onnx_backend_gives_the_torch_vectors(encoder, tmp_path, monkeypatch):
    monkeypatch.setenv("REDLINE_CACHE", str(tmp_path))  # the exported graph is kept here, not in ~/.cache
    texts = TEXTS * 7 + [" ".join(TEXTS) * 3]  # batches of several lengths, one past max_length
    reference = encoder.encode(texts, batch_size=4)
    torch_key = encoder.key()
    try:
        assert encoder.use_backend("onnx") == "onnx"
        assert encoder.key() != torch_key  # a cache never mixes the backends' vectors
        fast = encoder.encode(texts, batch_size=8)
        assert list((tmp_path / "onnx").glob("*.onnx"))
    finally:
        encoder.use_backend("torch")
    assert (fast * reference).sum(1).min() > 0.9999
    with pytest.raises(ModelError, match="unknown encoder backend"):
        encoder.use_backend("tensorrt")


def test_earlier_layers_widen_the_vectors_alike_on_every_backend(encoder, tmp_path, monkeypatch):
    """A layer-pooling encoder returns the last layer's vector unchanged, then one unit vector per earlier
    layer; its cache key differs (no vector of the plain encoder is taken for it); ONNX gives the same."""
    monkeypatch.setenv("REDLINE_CACHE", str(tmp_path))
    layered = Encoder(layers=(3,))
    wide = layered.encode(TEXTS)
    assert wide.shape == (len(TEXTS), 2 * encoder.dim) == (len(TEXTS), layered.width)
    assert torch.allclose(wide[:, :encoder.dim], encoder.encode(TEXTS), atol=1e-5)
    assert torch.allclose(wide.unflatten(1, (2, -1)).norm(dim=-1), torch.ones(len(TEXTS), 2), atol=1e-5)
    assert (wide[:, encoder.dim:] * wide[:, :encoder.dim]).sum(1).max() < 0.99  # another layer, not a copy
    assert layered.key() != encoder.key() and layered.key().endswith("|layers=3")
    layered.use_backend("onnx")
    assert (layered.encode(TEXTS).unflatten(1, (2, -1)) * wide.unflatten(1, (2, -1))).sum(-1).min() > 0.9999
    with pytest.raises(ModelError, match=r"layers 0-5 besides its last \(6\); cannot pool layer\(s\) \[6\]"):
        Encoder(layers=(6,))


def test_device_and_precision_are_parameters():
    """The GPU path (reduced-precision inference) runs on a CPU when asked, with nearly the same vectors."""
    full = Encoder(device="cpu")
    half = Encoder(device="cpu", precision="bf16")
    assert (full.device_.type, full.precision, half.precision) == ("cpu", "fp32", "bf16")
    assert half.key() != full.key()
    assert (half.encode(TEXTS) * full.encode(TEXTS)).sum(1).min() > 0.98
    with pytest.raises(ModelError, match="unknown precision"):
        Encoder(device="cpu", precision="fp8")


def test_a_quote_seen_in_an_earlier_run_is_not_encoded_again(tmp_path):
    from pipeline.classify import RedlineModel
    from pipeline.config import DEFAULT_MODEL

    model = RedlineModel.load(DEFAULT_MODEL)
    quote = "“We will never accept the occupation of our land,” Zelensky said on Monday."
    (tmp_path / "a.md").write_text(f"---\ndate: 2024-03-01\n---\n{quote} Talks resumed in Geneva.\n")
    (tmp_path / "b.md").write_text(f"---\ndate: 2024-03-02\n---\nThe rally ended early. {quote}\n")
    store = tmp_path / "s.duckdb"
    first = run([tmp_path / "a.md"], store, classifier=model, encoder_backend="torch")
    second = run([tmp_path / "b.md"], store, classifier=model, encoder_backend="torch")
    assert first.embeddings_cached == 0 and first.embeddings_computed >= 2
    assert second.embeddings_cached >= 1 and second.statements_added >= 2


def test_positions_filled_period_by_period_equal_one_pass(timeline_store):
    with Store(timeline_store) as store:
        whole = positions_by_period(store.statements(model_id=TIMELINE_MODEL), "quarter")
        assert fill_positions(store, TIMELINE_MODEL) == len(whole) > 0
        assert store.positions(TIMELINE_MODEL) == sorted(
            whole, key=lambda p: (p.level, p.actor, p.issue, p.period_start))
        assert fill_positions(store, TIMELINE_MODEL) == 0  # nothing classified since: kept as they are
        assert len(store.positions(TIMELINE_MODEL)) == len(whole)


def test_run_summary_counts_every_problem_but_lists_a_bounded_number():
    summary = RunSummary("run")
    summary.add_problems([Problem(f"f{i}.md", None, "empty file") for i in range(MAX_LISTED + 5)])
    summary.add_problems([Problem("g.md", None, "odd date", level="warning")])
    assert summary.quarantined_count == MAX_LISTED + 5
    assert len(summary.problems) == MAX_LISTED
