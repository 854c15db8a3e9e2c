"""Mermaid diagrams of each flow, drawn by transitions from the same config the engine runs."""

from __future__ import annotations

from pathlib import Path

from transitions.extensions import GraphMachine

from bot.flowmachine import machine_config
from bot.flowspec import FLOW_TARGET, FlowSpec, load_specs


def mermaid(spec: FlowSpec) -> str:
    # A throwaway machine that is its own model: diagrams need a model to draw; the engine's
    # shared machines have none.
    config = machine_config(spec)
    # Mermaid ids can't hold "@": draw a jump into another flow as a state named "to_<flow>".
    config["states"] = [_drawable(state) for state in config["states"]]
    for transition in config["transitions"]:
        transition["dest"] = _drawable(transition["dest"])
    machine = GraphMachine(graph_engine="mermaid", title=spec.id, **config)
    return str(machine.get_graph().draw(None))


def _drawable(state: str) -> str:
    return "to_" + state[len(FLOW_TARGET) :] if state.startswith(FLOW_TARGET) else state


def write_all(flows_dir: Path, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for spec in load_specs(flows_dir):
        path = out_dir / f"{spec.id}.mmd"
        path.write_text(mermaid(spec) + "\n", encoding="utf-8")
        written.append(path)
    return written
