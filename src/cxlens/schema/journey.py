"""Journey configuration: stages and touchpoints, as YAML in and out of a workspace."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from cxlens.errors import ConfigError

DEFAULT_STAGES = ("awareness", "consideration", "purchase", "service", "loyalty", "advocacy")


@dataclass(frozen=True)
class Stage:
    id: str
    label: str


@dataclass(frozen=True)
class Touchpoint:
    id: str
    label: str
    stage: str
    channel: str


@dataclass(frozen=True)
class Journey:
    """Ordered journey stages and the touchpoints that belong to them."""

    name: str
    stages: tuple[Stage, ...]
    touchpoints: tuple[Touchpoint, ...] = field(default=())

    @property
    def stage_ids(self) -> list[str]:
        return [s.id for s in self.stages]

    def stage_of(self) -> dict[str, str]:
        """Map touchpoint id → stage id."""
        return {t.id: t.stage for t in self.touchpoints}

    def channel_of(self) -> dict[str, str]:
        """Map touchpoint id → default channel."""
        return {t.id: t.channel for t in self.touchpoints}

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "stages": [asdict(s) for s in self.stages],
            "touchpoints": [asdict(t) for t in self.touchpoints],
        }

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    @classmethod
    def from_dict(cls, data: Any, source: str = "journey") -> Journey:
        if not isinstance(data, dict):
            raise ConfigError(f"{source} is not a mapping; expected keys 'stages' and 'touchpoints'")
        raw_stages = data.get("stages")
        if not isinstance(raw_stages, list) or not raw_stages:
            raise ConfigError(f"{source} has no 'stages' list; expected at least one stage")
        stages: list[Stage] = []
        for i, s in enumerate(raw_stages):
            if isinstance(s, str):
                s = {"id": s}
            if not isinstance(s, dict) or not isinstance(s.get("id"), str) or not s["id"].strip():
                raise ConfigError(f"{source} stage {i + 1} is {s!r}; expected an id such as 'purchase'")
            stages.append(Stage(s["id"].strip(), str(s.get("label") or s["id"]).strip()))
        ids = [s.id for s in stages]
        dup = {x for x in ids if ids.count(x) > 1}
        if dup:
            raise ConfigError(f"{source} lists stage {sorted(dup)[0]!r} twice; expected unique stage ids")
        touchpoints: list[Touchpoint] = []
        for i, t in enumerate(data.get("touchpoints") or []):
            if not isinstance(t, dict) or not isinstance(t.get("id"), str):
                raise ConfigError(f"{source} touchpoint {i + 1} is {t!r}; expected a mapping with 'id' and 'stage'")
            stage = t.get("stage")
            if stage not in ids:
                raise ConfigError(
                    f"{source} touchpoint {t['id']!r} has stage {stage!r}; expected one of {', '.join(ids)}"
                )
            touchpoints.append(
                Touchpoint(t["id"], str(t.get("label") or t["id"]), stage, str(t.get("channel") or "web"))
            )
        tids = [t.id for t in touchpoints]
        dup = {x for x in tids if tids.count(x) > 1}
        if dup:
            raise ConfigError(f"{source} lists touchpoint {sorted(dup)[0]!r} twice; expected unique ids")
        return cls(str(data.get("name") or "journey"), tuple(stages), tuple(touchpoints))

    @classmethod
    def from_yaml(cls, text: str, source: str = "journey") -> Journey:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ConfigError(f"{source} is not valid YAML ({e.__class__.__name__}: {e}); fix the syntax") from None
        return cls.from_dict(data, source)

    @classmethod
    def load(cls, path: str | Path) -> Journey:
        p = Path(path)
        if not p.exists():
            raise ConfigError(f"journey file {str(p)!r} does not exist; expected a YAML file")
        return cls.from_yaml(p.read_text(encoding="utf-8"), source=p.name)


def default_journey() -> Journey:
    """The journey that ships with cxlens (six stages, 21 touchpoints)."""
    text = resources.files("cxlens.schema").joinpath("default_journey.yaml").read_text(encoding="utf-8")
    return Journey.from_yaml(text, source="default_journey.yaml")
