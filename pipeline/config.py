"""Configuration is data: YAML files loaded into pydantic models that reject unknown keys.

`load_config(path, Model)` names the file and the key path of any error. Defaults live here.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
DEFAULTS_FILE = CONFIGS / "defaults.yaml"
DEFAULT_MODEL = ROOT / "models" / "default"
STANCES = ("favor", "against", "neutral")
MAXIMALISM_LEVELS = (0, 1, 2, 3)

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _defaults() -> dict[str, Path]:
    """The taxonomy and actor dictionary Redline reads when no flag names one: configs/defaults.yaml, so that
    the code knows no negotiation of its own."""
    try:
        data = yaml.safe_load(DEFAULTS_FILE.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"{DEFAULTS_FILE}: cannot read the defaults: {e}") from e
    missing = [key for key in ("taxonomy", "actors") if not isinstance(data.get(key), str)]
    if missing:
        raise ConfigError(f"{DEFAULTS_FILE}: needs {missing} (paths relative to configs/)")
    return {key: CONFIGS / data[key] for key in ("taxonomy", "actors")}


_DEFAULTS = _defaults()
DEFAULT_TAXONOMY = _DEFAULTS["taxonomy"]
DEFAULT_ACTORS = _DEFAULTS["actors"]


def load_config(path: str | Path, model: type[M]) -> M:
    """Read a YAML file into `model`; errors name the file, the key path and the problem."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: file not found") from e
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, found {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ConfigError(f"{path}: key '{where}': {first['msg']} ({len(e.errors())} error(s) in all)") from e


# --- issue taxonomy -----------------------------------------------------------------------------


class Issue(Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    proposition: str
    description: str
    keywords: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()


class Taxonomy(Strict):
    name: str
    description: str = ""
    issues: tuple[Issue, ...]
    # The places and objects its positions name: a targets dictionary, relative to configs/
    # (default: targets/<name>.yaml where that exists; none otherwise).
    targets: str | None = None

    @property
    def targets_path(self) -> Path | None:
        if self.targets is not None:
            return CONFIGS / self.targets
        path = CONFIGS / "targets" / f"{self.name}.yaml"
        return path if path.exists() else None

    @field_validator("issues")
    @classmethod
    def _unique_ids(cls, issues: tuple[Issue, ...]) -> tuple[Issue, ...]:
        seen: set[str] = set()
        for issue in issues:
            if issue.id in seen:
                raise ValueError(f"issue id '{issue.id}' is defined twice")
            seen.add(issue.id)
        if not issues:
            raise ValueError("a taxonomy needs at least one issue")
        return issues

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(i.id for i in self.issues)

    def issue(self, issue_id: str) -> Issue:
        for issue in self.issues:
            if issue.id == issue_id:
                return issue
        raise ConfigError(f"unknown issue id '{issue_id}'; the taxonomy '{self.name}' has {', '.join(self.ids)}")

    def content_hash(self) -> str:
        """Hash of the label set (ids in order): a model trained on another label set must not load."""
        return hashlib.sha256(json.dumps(list(self.ids)).encode()).hexdigest()[:16]


def load_taxonomy(path: str | Path = DEFAULT_TAXONOMY) -> Taxonomy:
    return load_config(path, Taxonomy)


# --- actor dictionary ---------------------------------------------------------------------------


class Actor(Strict):
    name: str
    group: str
    kind: Literal["person", "state", "organisation", "group"] = "person"
    aliases: tuple[str, ...] = ()
    titles: tuple[str, ...] = ()


class Role(Strict):
    """An office held by different people over time: 'the president' → one holder, then the next from the day of the handover."""

    aliases: tuple[str, ...]
    holders: tuple[RoleTerm, ...]


class RoleTerm(Strict):
    name: str
    start: str | None = None  # ISO date the term began; None = before any document
    end: str | None = None  # ISO date it ended; None = still in office


Role.model_rebuild()


class ActorDictionary(Strict):
    name: str
    groups: tuple[str, ...]
    actors: tuple[Actor, ...]
    roles: tuple[Role, ...] = ()
    # Adjectives that place an unknown person in a group: "Ruritanian negotiator Jan Novak" → Ruritania.
    demonyms: dict[str, str] = Field(default_factory=dict)
    interviewers: tuple[str, ...] = ("Question", "Q", "Reporter", "Journalist", "Moderator", "Interviewer")

    @model_validator(mode="after")
    def _groups_known(self) -> ActorDictionary:
        names = set()
        for actor in self.actors:
            if actor.group not in self.groups and actor.group != "author":
                raise ValueError(f"actor '{actor.name}' has group '{actor.group}', not one of {list(self.groups)}")
            if actor.name in names:
                raise ValueError(f"actor '{actor.name}' is defined twice")
            names.add(actor.name)
        for word, group in self.demonyms.items():
            if group not in self.groups:
                raise ValueError(f"demonym '{word}' names group '{group}', not one of {list(self.groups)}")
        for role in self.roles:
            for term in role.holders:
                if term.name not in names:
                    raise ValueError(f"role '{role.aliases[0]}' names '{term.name}', who is not in actors")
        return self


def load_actors(path: str | Path = DEFAULT_ACTORS) -> ActorDictionary:
    return load_config(path, ActorDictionary)


# --- targets ------------------------------------------------------------------------------------


def load_targets(path: str | Path) -> dict[str, tuple[str, ...]]:
    """Canonical target name → aliases ("North Province" ← "the northern province", "Northtown", ...)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"{path}: cannot read the targets dictionary: {e}") from e
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise ConfigError(f"{path}: expected a mapping of target name → list of aliases")
    return {str(k): tuple(str(a) for a in v) for k, v in data.items()}


def known_targets() -> set[str]:
    """Every target of every targets dictionary in configs/targets/."""
    return {name for path in sorted((CONFIGS / "targets").glob("*.yaml")) for name in load_targets(path)}
