"""The schema of `flows/*.yaml`: one file per flow, with shared fragments in `flows/fragments/`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot import textkeys as tk

# The common core every pattern flow must deliver on every path (checked by `supportbot validate`).
CORE_ADVICE = (
    "dont_panic",
    "dont_pay",
    "stop_contact",
    "keep_evidence",
    "deactivate",
    "report",
)
# Where images may exist, under-18s must hear of Report Remove and Take It Down on every path.
YOUNG_TAKEDOWN = "takedown_young"
FLOW_TARGET = "@"  # a choice target "@webcam" moves the conversation into another flow


class ChoiceSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    label: str  # a text key
    to: str
    when: str | None = None  # shown (and accepted) only when this predicate holds
    set: dict[str, str] = Field(default_factory=dict)  # profile fields this answer fills in
    # What a typed "yes"/"ok" or "no"/"not now" picks at this step (e.g. save evidence / skip).
    means: Literal["yes", "no"] | None = None


class StateSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    say: list[str] = Field(default_factory=list)  # text keys, one message each
    advice: list[str] = Field(default_factory=list)
    next: str | None = None  # shorthand for one "Go on" choice
    choices: list[ChoiceSpec] = Field(default_factory=list)
    expect: Literal["age", "nation", "pattern", "yesno"] | None = None
    when: str | None = None  # skipped (follows `next`) unless this predicate holds
    show: list[str] = Field(default_factory=list)  # directory kinds to list here
    handoff: str | None = None  # a reason code: this step asks for a person
    collect: bool = False  # an evidence step: typed text is kept as evidence, files accepted
    upload: str | None = None  # a text key inviting evidence files (adults only)
    final: bool = False

    @model_validator(mode="after")
    def _next_is_a_choice(self) -> StateSpec:
        if self.next is not None:
            if self.choices:
                raise ValueError("a state has either `next` or `choices`, not both")
            self.choices = [ChoiceSpec(id="next", label=tk.COMMON_NEXT, to=self.next)]
        if self.when is not None and self.next is None:
            raise ValueError("a state with `when` needs `next` (where to go when it is skipped)")
        return self


class FlowSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    kind: Literal["intake", "pattern"]
    title: str  # a text key
    initial: str
    include: list[str] = Field(default_factory=list)
    states: dict[str, StateSpec]
    # Whether intimate images may exist in this pattern (the mass-mailed bluff email: no).
    images: bool = True

    @property
    def source(self) -> str:
        return f"flows/{self.id}.yaml"


class Fragment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    states: dict[str, StateSpec]


def load_specs(flows_dir: Path) -> list[FlowSpec]:
    """Every flow with its fragments merged in. A name clash with a fragment is an error."""
    specs = []
    for path in sorted(flows_dir.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        states = dict(raw.get("states") or {})
        for name in raw.get("include") or []:
            fragment_raw = yaml.safe_load((flows_dir / "fragments" / f"{name}.yaml").read_text())
            for state, body in (fragment_raw.get("states") or {}).items():
                if state in states:
                    raise ValueError(f"{path.name}: state {state!r} clashes with fragment {name}")
                states[state] = body
        spec = FlowSpec.model_validate({**raw, "states": states})
        if spec.id != path.stem:
            raise ValueError(f"{path.name}: id {spec.id!r} must match the file name")
        specs.append(spec)
    return specs
