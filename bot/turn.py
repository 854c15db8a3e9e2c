"""One event in one conversation: a pure function from (conversation, event) to a Decision.

No I/O happens here. Storage calls `Turn(...).decide()` inside its transaction and channels
deliver the effects only after the decision has been committed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import TYPE_CHECKING

from bot.evidence.indicators import extract, looks_like_mass_phishing
from bot.evidence.items import MAX_BYTES, MAX_INDICATORS, MAX_ITEMS, new_item, short
from bot.evidence.sniff import MAX_FILE_BYTES, sniff
from bot.flowspec import FLOW_TARGET, ChoiceSpec, StateSpec
from bot.model import (
    Choices,
    Conversation,
    Decision,
    DeliverPack,
    Effect,
    End,
    EventKind,
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
from bot.understanding import (
    Reading,
    clean,
    command_in,
    normalise,
    read_age,
    read_nation,
    read_pattern,
    read_yes_no,
    signals_crisis,
)

if TYPE_CHECKING:
    from bot.engine import Engine
    from bot.flowmachine import CompiledFlow

_READERS = {"age": read_age, "nation": read_nation, "pattern": read_pattern}
_GO_ON = frozenset(
    {
        "ok",
        "okay",
        "k",
        "next",
        "go on",
        "continue",
        "carry on",
        "yes",
        "sure",
        "then what",
        "what next",
        "and",
        "done",
        "got it",
        "right",
    }
)
# Options the engine adds itself, outside any flow. Flow option ids never start with "sys_".
SYS_GUESS_YES, SYS_GUESS_NO = "sys_guess_yes", "sys_guess_no"
SYS_DELETE_YES, SYS_DELETE_NO = "sys_delete_yes", "sys_delete_no"
SYS_RESTART = "sys_restart"
SYS_EXIT = "sys_exit"  # a "Leave quickly" button a channel may add to every keyboard
SYS_KEEP_ALL, SYS_REMOVE = "sys_ind_keep", "sys_ind_rm_"
EVIDENCE_STEP = "evidence"  # each pattern flow's own evidence step, after "keep evidence"
EVIDENCE_LATER = "evidence_later"  # the tail fragment's evidence step, in every pattern flow
TAIL_START = "support"
MAX_ENTER_HOPS = 50


class Turn:
    def __init__(
        self, engine: Engine, conversation: Conversation | None, event: Inbound, now: dt.datetime
    ) -> None:
        self.engine = engine
        self.event = event
        self.now = now
        self.is_new = conversation is None
        self.conv = conversation or engine.new_conversation(event, now)
        self.effects: list[Effect] = []
        self.handoffs: list[Handoff] = []
        self.said: list[str] = []
        self.heard = ""
        self.evidence: list[NewEvidence] = []

    # --- the decision --------------------------------------------------------------------------

    def decide(self) -> Decision:
        text = (
            clean(self.event.text) if self.event.kind in (EventKind.TEXT, EventKind.CHOICE) else ""
        )
        if self.event.kind is EventKind.TEXT:
            self.heard = text[: self.engine.max_text_chars]
            # Safety first: a crisis signal is answered before anything else, in any state.
            if signals_crisis(text):
                return self._crisis()
            command = command_in(text)
            if command in ("exit", "delete") and self.is_new:
                return self._forget("sys.exit")
            if command == "exit":
                return self._forget("sys.exit")
        if self.event.kind is EventKind.CHOICE and text == SYS_EXIT:
            # Also for a conversation already forgotten: leaving must never start a new one.
            return self._forget("sys.exit")
        if self.is_new:
            self._enter(self.flow.spec.initial)
            return self._finish()
        if self.event.kind is EventKind.START:
            return self._welcome_back()
        if self.event.kind is EventKind.UNSUPPORTED:
            return self._resume("sys.unsupported")
        if self.event.kind is EventKind.UPLOAD:
            return self._upload()
        if self.event.kind is EventKind.CHOICE:
            return self._choice(text)
        if not text:
            return self._resume("sys.empty")
        if len(text) > self.engine.max_text_chars:
            return self._resume("sys.too_long")
        command = command_in(text)
        if command is not None:
            return self._command(command)
        if self.conv.pending is not None:
            return self._answer_pending(text)
        return self._typed(text)

    # --- pieces ----------------------------------------------------------------------------------

    @property
    def flow(self) -> CompiledFlow:
        return self.engine.flows[self.conv.flow]

    @property
    def state(self) -> StateSpec:
        return self.flow.state(self.conv.state)

    @property
    def profile(self) -> Profile:
        return self.conv.profile

    def t(self, key: str, **values: str) -> str:
        return self.engine.renderer.text(self.conv.locale, key, self.profile, **values)

    def say(self, text: str, kind: str = "step") -> None:
        if any(isinstance(effect, Say) for effect in self.effects):
            self.effects.append(Pause(self.engine.pace(text)))
        self.effects.append(Say(text, kind))  # type: ignore[arg-type]
        self.said.append(text)

    def _options(self) -> list[Option]:
        return [
            Option(choice.id, self.t(choice.label))
            for choice in self.flow.options(self.conv.state, self.profile)
        ]

    def _show_options(self, extra: list[Option] | None = None) -> None:
        options = [*self._options(), *(extra or [])]
        if options:
            self.effects.append(Choices(tuple(options)))

    def _finish(self) -> Decision:
        self.conv.updated_at = self.now.timestamp()
        self.conv.turns += 1
        entry = TranscriptEntry(self.now.timestamp(), self.heard, tuple(self.said))
        return Decision(
            conversation=self.conv,
            effects=self.effects,
            transcript=entry,
            handoffs=self.handoffs,
            evidence=self.evidence,
        )

    def _resume(self, key: str | None) -> Decision:
        """Say something (or nothing) and show the current step's options again; state unchanged."""
        if key:
            self.say(self.t(key), "notice")
        if self.conv.pending is not None:
            self._ask_pending_again()
        else:
            self._show_options()
        return self._finish()

    def _handoff(self, reason: str) -> None:
        priority: Priority = (
            "crisis" if self.profile.crisis else "young" if young(self.profile) else "normal"
        )
        handoff = Handoff(priority, reason)
        self.handoffs.append(handoff)
        self.effects.append(handoff)

    # --- interrupts ----------------------------------------------------------------------------

    def _crisis(self) -> Decision:
        self.profile.crisis = True
        self.say(self.t("sys.crisis_intro"), "crisis")
        lines = self.engine.presenter.lines(
            ("crisis",), self.conv.locale, self.profile, self.now, open_only=True
        )
        for message in pack(self.t("sys.crisis_lines"), lines):
            self.say(message, "crisis")
        self._handoff("crisis")
        self.say(self.t("sys.crisis_after"), "crisis")
        if self.is_new:
            self._enter(self.flow.spec.initial)
        else:
            self._show_options()
        return self._finish()

    def crisis_only(self) -> list[Effect]:
        """The crisis answer alone, for a channel whose storage failed (nothing is stored)."""
        self._crisis()
        return [e for e in self.effects if not isinstance(e, Choices)]

    def _forget(self, key: str) -> Decision:
        self.effects = [Say(self.t(key), "notice"), End(forget=True)]
        return Decision(conversation=None, effects=self.effects, erase=True)

    def _command(self, command: str) -> Decision:
        if command == "delete":
            self.conv.pending = {"kind": "delete"}
            self.say(self.t("sys.delete_confirm"), "notice")
            self._ask_pending_again()
            return self._finish()
        if command == "restart":
            return self._restart()
        if command == "human":
            self._ask_for_person()
            self._show_options()
            return self._finish()
        if command == "language":
            return self._resume("sys.language")
        if command == "evidence":
            return self._to_evidence_step(None)
        if command == "export":
            if not (self.conv.evidence_count or self.conv.indicators):
                return self._resume("evidence.nothing_yet")
            self.say(self.t("evidence.pack_ready"), "notice")
            self.effects.append(DeliverPack())
            self._show_options()
            return self._finish()
        return self._resume("sys.help")

    def _ask_for_person(self) -> None:
        self._handoff("asked")
        lines = self.engine.presenter.lines(
            ("crisis", "support"), self.conv.locale, self.profile, self.now, open_only=True
        )
        # Honest about what happens next: is anyone from the team online right now?
        key = "sys.human_staffed" if self.engine.staffed() else "sys.human"
        for message in pack(self.t(key), lines):
            self.say(message, "notice")

    def _restart(self) -> Decision:
        self.conv.profile = Profile()
        self.conv.answers = {}
        self.conv.pending = None
        self.conv.flow = self.engine.flows.intake.id
        self.say(self.t("sys.restarted"), "notice")
        self._enter(self.flow.spec.initial)
        return self._finish()

    def _welcome_back(self) -> Decision:
        self.say(self.t("sys.welcome_back"), "notice")
        self._show_options([Option(SYS_RESTART, self.t("sys.opt_restart"))])
        return self._finish()

    # --- questions outside the flow: confirming a guess, confirming deletion ---------------------

    def _ask_pending_again(self) -> None:
        pending = self.conv.pending or {}
        if pending.get("kind") == "indicators":
            self._indicator_options()
            return
        if pending.get("kind") == "delete":
            yes, no = (SYS_DELETE_YES, "sys.opt_delete_yes"), (SYS_DELETE_NO, "sys.opt_delete_no")
        else:
            yes, no = (SYS_GUESS_YES, "common.yes"), (SYS_GUESS_NO, "common.no")
        self.effects.append(Choices((Option(yes[0], self.t(yes[1])), Option(no[0], self.t(no[1])))))

    def _answer_pending(self, text: str) -> Decision:
        if (self.conv.pending or {}).get("kind") == "indicators":
            folded = normalise(text)
            if folded in ("keep all", "keep", "keep them", "yes", "ok", "all good"):
                return self._keep_indicators()
            self.conv.pending = None  # anything else is more evidence, or an answer to the step
            return self._typed(text)
        answer = read_yes_no(text)
        if answer is None:
            # They typed something else: drop the question and read it as a fresh answer.
            self.conv.pending = None
            return self._typed(text)
        return self._settle_pending(answer)

    def _settle_pending(self, yes: bool) -> Decision:
        pending = self.conv.pending or {}
        self.conv.pending = None
        if pending.get("kind") == "delete":
            if yes:
                return self._forget("sys.deleted")
            return self._resume("sys.delete_kept")
        if not yes:
            return self._resume("sys.guess_wrong")
        choice = next(
            (
                c
                for c in self.flow.options(self.conv.state, self.profile)
                if c.id == pending["choice"]
            ),
            None,
        )
        if choice is None:
            return self._resume("sys.stale")
        extra = {"age": pending["age"]} if pending.get("age") else {}
        return self._advance(choice, extra)

    # --- evidence --------------------------------------------------------------------------------

    def _to_evidence_step(self, notice: str | None) -> Decision:
        """Go to an evidence step without skipping any advice still to come."""
        flow, here = self.flow, self.conv.state
        if flow.spec.kind != "pattern" or EVIDENCE_LATER not in flow.spec.states:
            return self._resume("evidence.after_intake")
        if self.state.collect:
            return self._resume(None)
        if EVIDENCE_STEP in flow.spec.states and flow.reaches(here, EVIDENCE_STEP):
            return self._resume("evidence.soon")  # it is a step or two ahead
        if notice:
            self.say(self.t(notice), "notice")
        self.conv.pending = None
        in_tail = TAIL_START in flow.spec.states and flow.reaches(TAIL_START, here)
        # Past the flow's own step but still in the advice: go back to it (its "I'm finished"
        # continues the advice) rather than to the goodbye's evidence step, which ends there.
        self._enter(
            EVIDENCE_LATER if in_tail or EVIDENCE_STEP not in flow.spec.states else EVIDENCE_STEP
        )
        return self._finish()

    def _upload(self) -> Decision:
        attachment = self.event.attachment
        if attachment is None:
            return self._resume("sys.unsupported")
        self.heard = f"[a file, {len(attachment.data)} bytes]"
        if self.profile.age_band is None:
            return self._resume("evidence.not_now")
        if young(self.profile):
            # Under-18s are never asked for images, and nothing they send is kept.
            return self._resume("evidence.no_images_young")
        if not self.state.collect:
            # Nothing is kept before the step that says plainly what not to send.
            return self._to_evidence_step("evidence.not_yet")
        if attachment.declared_size > MAX_FILE_BYTES:
            return self._resume("evidence.refused_too_big")
        verdict = sniff(attachment.data)
        if verdict.media_type is None:
            key = "evidence.refused_too_big" if verdict.reason == "too_big" else "evidence.refused"
            return self._resume(key)
        if not self._room_for(len(attachment.data)):
            return self._resume("evidence.quota")
        item = new_item(
            "file",
            verdict.media_type,
            attachment.name,
            attachment.data,
            self.event.channel,
            self.now.timestamp(),
        )
        self._keep(item)
        self.say(self.t("evidence.saved_file", sha=item.sha256[:12]))
        self._show_options()
        return self._finish()

    def _room_for(self, size: int) -> bool:
        return self.conv.evidence_count < MAX_ITEMS and self.conv.evidence_bytes + size <= MAX_BYTES

    def _keep(self, item: NewEvidence) -> None:
        self.evidence.append(item)
        self.conv.evidence_count += 1
        self.conv.evidence_bytes += len(item.data)

    def _collect_text(self, text: str) -> Decision:
        data = text.encode("utf-8")
        if not self._room_for(len(data)):
            return self._resume("evidence.quota")
        self._keep(
            new_item(
                "text", "text/plain", "typed.txt", data, self.event.channel, self.now.timestamp()
            )
        )
        if looks_like_mass_phishing(text):
            self.say(self.t("evidence.mass_phishing"), "notice")
        known = {(i["kind"], i["value"]) for i in self.conv.indicators}
        found = [i for i in extract(text) if (i.kind, i.value) not in known]
        room = MAX_INDICATORS - len(self.conv.indicators)
        for indicator in found[: max(room, 0)]:
            self.conv.indicators.append(
                {
                    "id": uuid.uuid4().hex[:8],
                    "kind": indicator.kind,
                    "value": indicator.value,
                    "status": "pending",
                }
            )
        if not found:
            self.say(self.t("evidence.saved_text"))
            self._show_options()
            return self._finish()
        self.conv.pending = {"kind": "indicators"}
        self._read_back()
        return self._finish()

    def _pending_indicators(self) -> list[dict[str, str]]:
        return [i for i in self.conv.indicators if i["status"] == "pending"]

    def _read_back(self) -> None:
        lines = [
            f"{number}. {self.t('ind.' + i['kind'])}: {short(i['value'], 80)}"
            for number, i in enumerate(self._pending_indicators(), start=1)
        ]
        for message in pack(self.t("evidence.found"), lines):
            self.say(message)
        self.say(self.t("evidence.found_question"))
        self._indicator_options()

    def _indicator_options(self) -> None:
        options = [Option(SYS_KEEP_ALL, self.t("evidence.opt_keep_all"))]
        for number, indicator in enumerate(self._pending_indicators()[:8], start=1):
            label = self.t(
                "evidence.opt_remove", number=str(number), value=short(indicator["value"], 30)
            )
            options.append(Option(SYS_REMOVE + indicator["id"], label))
        self.effects.append(Choices(tuple(options)))

    def _keep_indicators(self) -> Decision:
        for indicator in self._pending_indicators():
            indicator["status"] = "confirmed"
        self.conv.pending = None
        return self._resume("evidence.kept")

    def _remove_indicator(self, indicator_id: str) -> Decision:
        before = len(self.conv.indicators)
        self.conv.indicators = [i for i in self.conv.indicators if i["id"] != indicator_id]
        if len(self.conv.indicators) == before:
            return self._resume("sys.stale")
        self.say(self.t("evidence.removed"), "notice")
        if self._pending_indicators():
            self._read_back()
            return self._finish()
        self.conv.pending = None
        return self._resume("evidence.kept")

    # --- answers within the flow ---------------------------------------------------------

    def _choice(self, option_id: str) -> Decision:
        if option_id == SYS_KEEP_ALL or option_id.startswith(SYS_REMOVE):
            if (self.conv.pending or {}).get("kind") != "indicators":
                return self._resume("sys.stale")
            if option_id == SYS_KEEP_ALL:
                return self._keep_indicators()
            return self._remove_indicator(option_id[len(SYS_REMOVE) :])
        if option_id in (SYS_GUESS_YES, SYS_GUESS_NO, SYS_DELETE_YES, SYS_DELETE_NO):
            expected = "delete" if option_id.startswith("sys_delete") else "guess"
            if self.conv.pending is None or self.conv.pending.get("kind") != expected:
                return self._resume("sys.stale")
            return self._settle_pending(option_id in (SYS_GUESS_YES, SYS_DELETE_YES))
        if option_id == SYS_RESTART:
            return self._restart()
        if option_id == SYS_EXIT:
            return self._forget("sys.exit")
        choice = next(
            (c for c in self.flow.options(self.conv.state, self.profile) if c.id == option_id),
            None,
        )
        if choice is None:
            # A button from an earlier step, or forged data: say so kindly and change nothing.
            return self._resume("sys.stale")
        self.heard = self.t(choice.label)
        self.conv.pending = None
        return self._advance(choice, {})

    def _typed(self, text: str) -> Decision:
        folded = normalise(text)
        options = self.flow.options(self.conv.state, self.profile)
        for choice in options:
            if normalise(self.t(choice.label)) == folded:
                return self._advance(choice, {})
        by_id = {choice.id: choice for choice in options}
        if "next" in by_id and folded in _GO_ON:
            return self._advance(by_id["next"], {})
        if self.state.collect:
            return self._collect_text(text)
        expect = self.state.expect
        if expect == "yesno":
            answer = read_yes_no(text)
            if answer is not None and ("yes" if answer else "no") in by_id:
                return self._advance(by_id["yes" if answer else "no"], {})
        elif expect is not None:
            reading = _READERS[expect](text)
            if reading is not None:
                if expect == "pattern" and looks_like_mass_phishing(text):
                    self.say(self.t("evidence.mass_phishing"), "notice")
                return self._understood(reading, options)
            if expect == "pattern":
                return self._resume("sys.reask_pattern")
        return self._resume("sys.reask")

    def _understood(self, reading: Reading, options: list[ChoiceSpec]) -> Decision:
        choice = next(
            (c for c in options if c.set and c.set.items() <= reading.fields.items()), None
        )
        if choice is None:
            return self._resume("sys.reask")
        extra = {"age": str(reading.age)} if reading.age is not None else {}
        if reading.certain:
            return self._advance(choice, extra)
        # An inference (a city, a description): read it back and let them correct it.
        self.conv.pending = {"kind": "guess", "choice": choice.id, **extra}
        label = self.t(choice.label)
        if reading.detail and "nation" in reading.fields:
            self.say(self.t("sys.guess_place", place=reading.detail, answer=label), "notice")
        else:
            self.say(self.t("sys.guess", answer=label), "notice")
        self._ask_pending_again()
        return self._finish()

    def _advance(self, choice: ChoiceSpec, extra: dict[str, str]) -> Decision:
        flow = self.flow
        target = flow.fire(self.conv.state, choice.id, self.profile)
        if target is None:
            return self._resume("sys.stale")
        self.conv.answers[f"{flow.id}.{self.conv.state}"] = choice.id
        self._apply(choice.set, extra)
        self._enter(target)
        return self._finish()

    def _apply(self, fields: dict[str, str], extra: dict[str, str]) -> None:
        updates: dict[str, object] = {
            name: value
            for name, value in fields.items()
            if name in ("age_band", "nation", "pattern")
        }
        if "age" in extra:
            updates["age"] = int(extra["age"])
        elif "age_band" in fields:
            updates["age"] = None  # a tapped band replaces any age typed before
        self.conv.profile = dataclasses.replace(self.profile, **updates)  # type: ignore[arg-type]

    def _enter(self, name: str) -> None:
        """Move to a state (following flow jumps and skipped steps) and present it."""
        for _ in range(MAX_ENTER_HOPS):
            if name.startswith(FLOW_TARGET):
                self.conv.flow = name[len(FLOW_TARGET) :]
                if self.conv.flow == self.engine.flows.intake.id:
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
            break
        else:  # pragma: no cover - validate rejects loops of skipped states
            raise RuntimeError(f"too many hops entering {name} in {self.conv.flow}")
        self.conv.state = name
        self._present(spec)

    def _present(self, spec: StateSpec) -> None:
        for key in spec.say:
            self.say(self.t(key))
        if spec.show:
            lines = self.engine.presenter.lines(
                tuple(spec.show), self.conv.locale, self.profile, self.now
            )
            for message in pack(self.t("dir.header"), lines):
                self.say(message)
        if spec.handoff:
            self._ask_for_person()
        # Under-18s (and anyone whose age we don't know) are never asked to upload anything.
        if spec.upload and spec.collect and not young(self.profile):
            self.effects.append(RequestUpload(self.t(spec.upload)))
        self._show_options()
