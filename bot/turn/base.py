"""The state of one turn and the moves every part of it shares: saying, entering, advancing."""

from __future__ import annotations

import dataclasses
import datetime as dt

from bot import textkeys as tk
from bot.flowmachine import CompiledFlow
from bot.flowspec import FLOW_TARGET, ChoiceSpec, StateSpec
from bot.model import (
    Choices,
    Conversation,
    Decision,
    Effect,
    Handoff,
    Inbound,
    NewEvidence,
    Option,
    Pause,
    Priority,
    Profile,
    RequestUpload,
    Say,
    TranscriptEntry,
)
from bot.predicates import holds, young
from bot.presenter import pack
from bot.reading.reader import Reader, Understanding
from bot.turn.context import TurnContext
from bot.turn.ids import MAX_ENTER_HOPS, SYS_LANGUAGE

SLOT_OF_EXPECT = {"age": "age_band", "nation": "nation", "pattern": "pattern"}


class TurnBase:
    def __init__(
        self,
        ctx: TurnContext,
        conversation: Conversation | None,
        event: Inbound,
        now: dt.datetime,
        conversation_id: str,
    ) -> None:
        self.ctx = ctx
        self.event = event
        self.now = now
        self.is_new = conversation is None
        self.conv = conversation or Conversation(
            id=conversation_id,
            channel=event.channel,
            flow=ctx.flows.intake.id,
            state=ctx.flows.intake.spec.initial,
            locale=ctx.readers.languages.from_hint(event.locale)
            or next(iter(ctx.welcome_locales), ctx.default_locale),
            created_at=now.timestamp(),
            updated_at=now.timestamp(),
            address=event.user_key,
        )
        self.effects: list[Effect] = []
        self.handoffs: list[Handoff] = []
        self.said: list[str] = []
        self.kinds: list[str] = []
        self.heard = ""
        self.evidence: list[NewEvidence] = []
        self.drop_files = False
        self.shown_services: set[str] = set()
        self.read_back_fields: list[str] = []  # inferred this turn: "no" next undoes them
        self.noticed_language = False  # switched to the language they wrote in, this turn

    # --- what we know --------------------------------------------------------------------------

    @property
    def reader(self) -> Reader:
        return self.ctx.readers[self.conv.locale]

    def read(self, words: str) -> Understanding:
        return self.ctx.readers.read(self.conv.locale, words)

    @property
    def flow(self) -> CompiledFlow:
        return self.ctx.flows[self.conv.flow]

    @property
    def state(self) -> StateSpec:
        return self.flow.state(self.conv.state)

    @property
    def profile(self) -> Profile:
        return self.conv.profile

    @property
    def in_intake(self) -> bool:
        return self.conv.flow == self.ctx.flows.intake.id

    @property
    def shown_before(self) -> set[str]:
        """The services listed in the last reply that listed any ("more lines" shows others)."""
        return set(self.conv.memo.get("shown", []))

    # --- saying ----------------------------------------------------------------------------------

    def t(self, key: str, **values: str) -> str:
        return self.ctx.renderer.text(self.conv.locale, key, self.profile, **values)

    def say(self, text: str, kind: str = "step", *, logged_as: str | None = None) -> None:
        """`logged_as`: the kind kept in the transcript when it says more than the channel needs
        ("advice" and "answer" are steps to the person, and what the evidence pack lists)."""
        if any(isinstance(effect, Say) for effect in self.effects):
            self.effects.append(Pause(self.ctx.pace(text)))
        self.effects.append(Say(text, kind))  # type: ignore[arg-type]
        self.said.append(text)
        self.kinds.append(logged_as or kind)

    def notice(self, key: str, **values: str) -> None:
        self.say(self.t(key, **values), "notice")

    def say_lines(
        self,
        header_key: str,
        kinds: tuple[str, ...],
        kind: str,
        *,
        open_only: bool = False,
        limit: int | None = 3,
    ) -> None:
        """A short support list (the services that fit them best first)."""
        listing = self.ctx.presenter.listing(
            kinds,
            self.conv.locale,
            self.profile,
            self.now,
            open_only=open_only,
            limit=limit,
            exclude=self.shown_services if limit is not None else self.shown_before,
        )
        self.shown_services.update(listing.shown)  # never the same service twice in one reply
        for message in pack(self.t(header_key), listing.lines):
            self.say(message, kind)
        if listing.left_out:
            self.notice(tk.DIR_MORE)

    def options(self) -> list[Option]:
        return [
            Option(choice.id, self.t(choice.label))
            for choice in self.flow.options(self.conv.state, self.profile)
        ]

    def show_options(self, extra: list[Option] | None = None) -> None:
        options = [*self.options(), *(extra or [])]
        if options:
            self.effects.append(Choices(tuple(options)))

    def handoff(self, reason: str) -> None:
        priority: Priority = (
            "crisis" if self.profile.crisis else "young" if young(self.profile) else "normal"
        )
        handoff = Handoff(priority, reason)
        self.handoffs.append(handoff)
        self.effects.append(handoff)

    # --- ending the turn -------------------------------------------------------------------------

    def finish(self) -> Decision:
        if self.read_back_fields and self.conv.pending is None:
            # A soft question: "no" next undoes what was read back; anything else carries on.
            self.conv.pending = {"kind": "readback", "fields": ",".join(self.read_back_fields)}
        if self.shown_services:
            self.conv.memo["shown"] = sorted(self.shown_services)
        if self.is_new and len(self.ctx.welcome_locales) > 1 and not self.event.locale:
            self.welcome_in_others()
        if self.noticed_language:
            # How to switch back: after what they needed to hear (a crisis answer comes first),
            # before the buttons.
            at = next((i for i, e in enumerate(self.effects) if isinstance(e, Choices)), None)
            notice = Say(self.t(tk.SYS_LANGUAGE_NOTICED), "notice")
            self.effects.insert(len(self.effects) if at is None else at, notice)
        leave = self.t(tk.SYS_LEAVE_QUICKLY)
        self.effects = [
            dataclasses.replace(e, leave=leave) if isinstance(e, Choices) else e
            for e in self.effects
        ]
        self.conv.updated_at = self.now.timestamp()
        self.conv.turns += 1
        entry = TranscriptEntry(
            self.now.timestamp(), self.heard, tuple(self.said), tuple(self.kinds)
        )
        return Decision(
            conversation=self.conv,
            effects=self.effects,
            transcript=entry,
            handoffs=self.handoffs,
            evidence=self.evidence,
            drop_files=self.drop_files,
        )

    def welcome_in_others(self) -> None:
        """A bilingual welcome: the welcome in each other language, and a button for each, after
        the first language's own (until they choose, the conversation is in the first)."""
        if self.conv.memo.get("language_chosen"):
            return
        names = self.ctx.readers.languages.names
        others = [loc for loc in self.ctx.welcome_locales if loc != self.conv.locale]
        at = next((i for i, e in enumerate(self.effects) if isinstance(e, Choices)), None)
        welcome = [
            Say(self.ctx.renderer.text(loc, tk.SYS_WELCOME_IN_OTHER, self.profile), "notice")
            for loc in others
        ]
        buttons = tuple(Option(f"{SYS_LANGUAGE}{loc}", names[loc]) for loc in others)
        if at is None:
            self.effects.extend([*welcome, Choices(buttons)])
            return
        choices = self.effects[at]
        assert isinstance(choices, Choices)
        self.effects[at : at + 1] = [*welcome, Choices((*choices.options, *buttons))]

    def ask_pending_again(self) -> None:  # overridden where pending questions are known
        self.show_options()

    def resume(self, key: str | None) -> Decision:
        """Say something (or nothing) and show the current step's options again; state unchanged."""
        if key:
            self.notice(key)
        if self.conv.pending is not None:
            self.ask_pending_again()
        else:
            self.show_options()
        return self.finish()

    # --- moving ----------------------------------------------------------------------------------

    def advance(self, choice: ChoiceSpec, extra: dict[str, str] | None = None) -> Decision:
        flow = self.flow
        target = flow.fire(self.conv.state, choice.id, self.profile)
        if target is None:
            return self.resume(tk.SYS_STALE)
        self.conv.answers[f"{flow.id}.{self.conv.state}"] = choice.id
        self.conv.pending = None
        self.apply(choice.set, extra or {})
        self.enter(target)
        return self.finish()

    def apply(self, fields: dict[str, str], extra: dict[str, str]) -> None:
        updates: dict[str, object] = {
            name: value
            for name, value in fields.items()
            if name in ("age_band", "nation", "pattern")
        }
        if "age" in extra:
            updates["age"] = int(extra["age"])
        elif "age_band" in fields and fields["age_band"] != self.profile.age_band:
            updates["age"] = None  # a tapped band replaces any age typed before
        self.conv.profile = dataclasses.replace(self.profile, **updates)  # type: ignore[arg-type]

    def _known_answer(self, spec: StateSpec, name: str) -> str | None:
        """A question whose answer they already gave: the state to go to instead of asking."""
        slot = SLOT_OF_EXPECT.get(spec.expect or "")
        value = getattr(self.profile, slot) if slot else None
        if slot is None or value is None:
            return None
        for choice in self.flow.options(name, self.profile):
            if choice.set.get(slot) == value:
                self.conv.answers[f"{self.flow.id}.{name}"] = choice.id
                return self.flow.fire(name, choice.id, self.profile)
        return None

    def enter(self, name: str) -> None:
        """Move to a state (following flow jumps, skipped steps and questions already answered)
        and present it."""
        for _ in range(MAX_ENTER_HOPS):
            if name.startswith(FLOW_TARGET):
                self.conv.flow = name[len(FLOW_TARGET) :]
                if self.in_intake:
                    self.conv.profile = Profile()
                    self.conv.answers = {}
                name = self.flow.spec.initial
                continue
            spec = self.flow.state(name)
            if spec.when is not None and not holds(spec.when, self.profile):
                skipped = self.flow.fire(name, "next", self.profile)
                assert skipped is not None, "validate guarantees a `next` on skippable states"
                name = skipped
                continue
            known = self._known_answer(spec, name)
            if known is not None:
                name = known
                continue
            break
        else:  # pragma: no cover - validate rejects loops of skipped states
            raise RuntimeError(f"too many hops entering {name} in {self.conv.flow}")
        self.conv.state = name
        self.present(spec)

    def present(self, spec: StateSpec) -> None:
        for key in spec.say:
            self.say(self.t(key), logged_as="advice" if spec.advice else None)
        if spec.show:
            self.say_lines(tk.DIR_HEADER, tuple(spec.show), "step")
        if spec.handoff:
            self.ask_for_person()
        # Under-18s (and anyone whose age we don't know) are never asked to upload anything.
        if spec.upload and spec.collect and not young(self.profile):
            self.effects.append(RequestUpload(self.t(spec.upload)))
        self.show_options()

    def ask_for_person(self) -> None:
        self.handoff("asked")
        # Honest about what happens next: is anyone from the team online right now?
        key = tk.SYS_HUMAN_STAFFED if self.ctx.staffed() else tk.SYS_HUMAN
        self.say_lines(key, ("crisis", "support"), "notice", open_only=True)
