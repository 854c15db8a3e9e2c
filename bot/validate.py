"""`supportbot validate`: lint flows and content before anything reaches a frightened person.

Checks: flow schema, unknown targets and predicates, unreachable states, dead ends (states that
cannot reach a goodbye), the common core advice on every path of every pattern flow for every
kind of person, texts missing in any locale, steps over 400 characters, numbers typed into texts
instead of coming from the directory, and directory entries without source, date or verify flag.
"""

from __future__ import annotations

import itertools
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from bot import textkeys
from bot.directory import AGE_BANDS, NATIONS, Directory
from bot.flowspec import CORE_ADVICE, FLOW_TARGET, YOUNG_TAKEDOWN, FlowSpec, load_specs
from bot.model import Profile
from bot.predicates import PREDICATES, holds
from bot.presenter import MAX_MESSAGE
from bot.reading.questions import QuestionBook
from bot.texts import Renderer, Texts, pick_variant
from bot.web.widget import label_keys

# A phone-number-like run of digits typed straight into a text (not from the directory).
_TYPED_NUMBER = re.compile(r"(?<![{\w])\+?\d[\d \-]{5,}\d")
SAMPLE_VALUES = {
    "answer": "Wales",
    "place": "Cardiff",
    "value": "0000",
    "keyword": "WORD",
    "hours": "24/7",
    "sha": "0123456789ab",
    "number": "8",
    "what": "you're 15 and you live in Cardiff, in Wales",
    "age": "15",
    "band": "13 to 17",
    "nation": "Wales",
}


@dataclass(frozen=True)
class Problem:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def sample_profiles() -> list[Profile]:
    """One of every kind of person the flows can tell apart."""
    bands = [None, *AGE_BANDS]
    nations = [None, *NATIONS]
    return [
        Profile(age_band=band, nation=nation) for band, nation in itertools.product(bands, nations)
    ]


def validate(flows_dir: Path, content_dir: Path, default_locale: str = "en-GB") -> list[Problem]:
    problems: list[Problem] = []
    specs = _load_flows(flows_dir, problems)
    directory = _load_directory(content_dir / "directory.yaml", problems)
    try:
        texts = Texts.load(content_dir, default_locale)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        return [*problems, Problem("content", f"cannot load texts: {exc}")]
    flow_ids = {spec.id for spec in specs}
    for spec in specs:
        problems += _check_graph(spec, flow_ids)
        if spec.kind == "pattern":
            problems += _check_core_advice(spec)
    answers = _answer_keys(content_dir / default_locale / "questions.yaml", problems)
    keys = _keys_used(specs, directory, answers)
    problems += _check_texts(texts, keys, directory)
    return problems


def _answer_keys(path: Path, problems: list[Problem]) -> set[str]:
    try:
        book = QuestionBook.load(path)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        problems.append(Problem(str(path), f"cannot load questions: {exc}"))
        return set()
    return {key for entry in book.entries.values() for key in entry.say}


def _load_flows(flows_dir: Path, problems: list[Problem]) -> list[FlowSpec]:
    try:
        specs = load_specs(flows_dir)
    except (ValidationError, ValueError, OSError, yaml.YAMLError) as exc:
        problems.append(Problem(str(flows_dir), f"cannot load flows: {exc}"))
        return []
    if sum(spec.kind == "intake" for spec in specs) != 1:
        problems.append(Problem(str(flows_dir), "there must be exactly one intake flow"))
    return specs


def _load_directory(path: Path, problems: list[Problem]) -> Directory | None:
    try:
        directory = Directory.load(path)
    except (ValidationError, ValueError, OSError, yaml.YAMLError) as exc:
        problems.append(
            Problem(
                str(path),
                f"invalid directory (every entry needs sources and a checked date): {exc}",
            )
        )
        return None
    for service in directory.services.values():
        if service.confidence != "V" and not service.verify:
            problems.append(
                Problem(
                    f"directory {service.id}",
                    f"confidence {service.confidence} must be flagged verify: true",
                )
            )
        if service.verify and not service.verify_note:
            problems.append(Problem(f"directory {service.id}", "verify: true needs a verify_note"))
    return directory


def _check_graph(spec: FlowSpec, flow_ids: set[str]) -> list[Problem]:
    where = spec.source
    problems = []
    if spec.initial not in spec.states:
        return [Problem(where, f"initial state {spec.initial!r} does not exist")]
    edges: dict[str, list[str]] = {}
    for name, state in spec.states.items():
        edges[name] = []
        for predicate in filter(None, [state.when, *(c.when for c in state.choices)]):
            for part in predicate.split("+"):
                if part not in PREDICATES:
                    problems.append(Problem(f"{where} {name}", f"unknown predicate {part!r}"))
        seen_ids = set()
        for choice in state.choices:
            if choice.id in seen_ids:
                problems.append(Problem(f"{where} {name}", f"duplicate choice id {choice.id!r}"))
            seen_ids.add(choice.id)
            if choice.to.startswith(FLOW_TARGET):
                if choice.to[1:] not in flow_ids:
                    problems.append(Problem(f"{where} {name}", f"unknown flow {choice.to!r}"))
            elif choice.to not in spec.states:
                problems.append(Problem(f"{where} {name}", f"unknown state {choice.to!r}"))
            else:
                edges[name].append(choice.to)
        if not state.choices and not state.final:
            problems.append(Problem(f"{where} {name}", "dead end: no choices and not final"))
    reachable = _reach(spec.initial, edges)
    for name in spec.states:
        if name not in reachable:
            problems.append(Problem(f"{where} {name}", "unreachable from the initial state"))
    goals = {
        name
        for name, state in spec.states.items()
        if state.final or any(c.to.startswith(FLOW_TARGET) for c in state.choices)
    }
    if not goals:
        problems.append(Problem(where, "no final state and no way into another flow"))
    for name in reachable & set(spec.states):
        if not _reach(name, edges) & goals:
            problems.append(Problem(f"{where} {name}", "dead end: cannot reach a final state"))
    return problems


def _reach(start: str, edges: dict[str, list[str]]) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for target in edges.get(todo.pop(), []):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def walk_paths(spec: FlowSpec, profile: Profile) -> Iterator[list[str]]:
    """Every path from the initial state to a final state (or a jump to another flow) that this
    person could take, without repeating a state. Skipped steps (`when` false) are left out."""

    def visible(name: str) -> bool:
        when = spec.states[name].when
        return when is None or holds(when, profile)

    def step(path: list[str]) -> Iterator[list[str]]:
        name = path[-1]
        state = spec.states[name]
        options = [c for c in state.choices if c.when is None or holds(c.when, profile)]
        if state.final or any(c.to.startswith(FLOW_TARGET) for c in options):
            yield [p for p in path if visible(p)]
        for choice in options:
            if choice.to in spec.states and choice.to not in path:
                yield from step([*path, choice.to])

    yield from step([spec.initial])


def _check_core_advice(spec: FlowSpec) -> list[Problem]:
    problems = []
    for profile in sample_profiles():
        for path in walk_paths(spec, profile):
            given = {tag for name in path for tag in spec.states[name].advice}
            needed = list(CORE_ADVICE)
            if spec.images and holds("young", profile):
                # Where images may exist, every young person hears of Report Remove/Take It Down.
                needed.append(YOUNG_TAKEDOWN)
            missing = [tag for tag in needed if tag not in given]
            if missing:
                problems.append(
                    Problem(
                        spec.source,
                        f"path {' > '.join(path)} (age {profile.age_band}, {profile.nation}) "
                        f"misses core advice {missing}",
                    )
                )
                return problems  # one example per flow is enough to act on
    return problems


def _keys_used(specs: list[FlowSpec], directory: Directory | None, answers: set[str]) -> set[str]:
    """Every key something uses: the code (its registry), the flows, the directory's services
    and the question book's answers."""
    keys = textkeys.required() | label_keys() | answers
    for spec in specs:
        keys.add(spec.title)
        for state in spec.states.values():
            keys.update(state.say)
            keys.update(choice.label for choice in state.choices)
            if state.upload:
                keys.add(state.upload)
    if directory is not None:
        for service_id in directory.services:
            keys.update({f"service.{service_id}.name", f"service.{service_id}.about"})
    return keys


def _check_texts(texts: Texts, keys: set[str], directory: Directory | None) -> list[Problem]:
    problems = []
    renderer = Renderer(texts, directory) if directory is not None else None
    profiles = sample_profiles()
    formatter = string.Formatter()
    for locale, catalogue in texts.catalogues.items():
        for key in sorted(keys - catalogue.keys()):
            problems.append(Problem(f"content/{locale}", f"missing text {key!r}"))
        for key in sorted(catalogue.keys() - keys):
            problems.append(Problem(f"content/{locale}", f"unknown text {key!r} (nothing uses it)"))
        for key in sorted(keys & catalogue.keys()):
            entry = catalogue[key]
            variants = [entry] if isinstance(entry, str) else list(entry.values())
            if isinstance(entry, dict):
                if "default" not in entry:
                    problems.append(Problem(f"content/{locale} {key}", "variants need a default"))
                    continue
                for condition in entry:
                    if condition != "default" and not all(
                        part in PREDICATES for part in condition.split("+")
                    ):
                        problems.append(
                            Problem(f"content/{locale} {key}", f"unknown variant {condition!r}")
                        )
            for variant in variants:
                stripped = "".join(literal for literal, *_ in formatter.parse(variant))
                if _TYPED_NUMBER.search(stripped):
                    problems.append(
                        Problem(
                            f"content/{locale} {key}",
                            "a phone number is typed into the text; use a directory placeholder",
                        )
                    )
            if renderer is None:
                continue
            for profile in profiles:
                try:
                    text = renderer.text(locale, key, profile, **SAMPLE_VALUES)
                except (KeyError, AttributeError, IndexError, ValueError) as exc:
                    problems.append(
                        Problem(f"content/{locale} {key}", f"placeholder cannot be filled: {exc}")
                    )
                    break
                if len(text) > MAX_MESSAGE:
                    problems.append(
                        Problem(
                            f"content/{locale} {key}",
                            f"{len(text)} characters for {pick_variant(entry, profile)[:30]!r}...; "
                            f"a step is at most {MAX_MESSAGE}",
                        )
                    )
                    break
    return problems
