"""Compile each flow once into a `transitions` machine shared by every conversation.

The machine holds no conversations (model=None): for each event we wrap the stored state string
in a tiny holder, fire the trigger, and read the new state back. Creating a Machine per person
costs ~460 µs and ~36 KB each (engineering notes); firing on a shared one costs ~15 µs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transitions import Machine, MachineError

from bot.flowspec import FLOW_TARGET, ChoiceSpec, FlowSpec, StateSpec, load_specs
from bot.model import Profile
from bot.predicates import PREDICATES, holds


class _Holder:
    __slots__ = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


def _condition(name: str) -> object:
    parts = [PREDICATES[part] for part in name.split("+")]
    if len(parts) == 1:
        return parts[0]

    def both(profile: Profile) -> bool:
        return all(part(profile) for part in parts)

    both.__name__ = name.replace("+", "_and_")
    return both


def machine_config(spec: FlowSpec) -> dict[str, Any]:
    """States and transitions as `transitions` wants them (also used to draw diagrams)."""
    targets = {
        choice.to
        for state in spec.states.values()
        for choice in state.choices
        if choice.to.startswith(FLOW_TARGET)
    }
    transitions = []
    for name, state in spec.states.items():
        for choice in state.choices:
            transition: dict[str, Any] = {
                "trigger": choice.id,
                "source": name,
                "dest": choice.to,
            }
            if choice.when:
                transition["conditions"] = [_condition(choice.when)]
            transitions.append(transition)
    return {
        "states": [*spec.states, *sorted(targets)],
        "transitions": transitions,
        "initial": spec.initial,
        "auto_transitions": False,
    }


@dataclass
class CompiledFlow:
    spec: FlowSpec
    machine: Machine
    _reach: dict[str, set[str]] | None = None

    @classmethod
    def compile(cls, spec: FlowSpec) -> CompiledFlow:
        return cls(spec, Machine(model=None, **machine_config(spec)))

    @property
    def id(self) -> str:
        return self.spec.id

    def state(self, name: str) -> StateSpec:
        return self.spec.states[name]

    def reaches(self, start: str, target: str) -> bool:
        """Whether `target` can come after `start` (ignoring conditions)."""
        if self._reach is None:
            self._reach = {}
        if start not in self._reach:
            seen, todo = {start}, [start]
            while todo:
                for choice in self.spec.states[todo.pop()].choices:
                    if choice.to in self.spec.states and choice.to not in seen:
                        seen.add(choice.to)
                        todo.append(choice.to)
            self._reach[start] = seen
        return target in self._reach[start]

    def options(self, state: str, profile: Profile) -> list[ChoiceSpec]:
        return [
            choice
            for choice in self.spec.states[state].choices
            if choice.when is None or holds(choice.when, profile)
        ]

    def fire(self, state: str, trigger: str, profile: Profile) -> str | None:
        """The state after `trigger`, or None when the machine refuses it (unknown or forged)."""
        event = self.machine.events.get(trigger)
        if event is None:
            return None
        holder = _Holder(state)
        try:
            moved = event.trigger(holder, profile)
        except MachineError:
            return None
        return holder.state if moved else None


class FlowBook:
    """All compiled flows, by id."""

    def __init__(self, flows: list[CompiledFlow]) -> None:
        self.flows = {flow.id: flow for flow in flows}
        intake = [flow for flow in flows if flow.spec.kind == "intake"]
        if len(intake) != 1:
            raise ValueError("there must be exactly one intake flow")
        self.intake = intake[0]

    @classmethod
    def load(cls, flows_dir: Path) -> FlowBook:
        return cls([CompiledFlow.compile(spec) for spec in load_specs(flows_dir)])

    def __getitem__(self, flow_id: str) -> CompiledFlow:
        return self.flows[flow_id]

    def patterns(self) -> list[CompiledFlow]:
        return [flow for flow in self.flows.values() if flow.spec.kind == "pattern"]
