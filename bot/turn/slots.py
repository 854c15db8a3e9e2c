"""Filling in what the person tells us, whenever they tell it (as a form fills slots from any
message), reading back what was inferred, and taking corrections at any point."""

from __future__ import annotations

import dataclasses

from bot import textkeys as tk
from bot.directory import band_for_age
from bot.flowspec import StateSpec
from bot.model import Decision
from bot.predicates import young
from bot.reading.reader import Understanding
from bot.turn.base import SLOT_OF_EXPECT
from bot.turn.interrupts import Interrupts

# Flows an escalation moves to from any pattern: money paid, images out.
ESCALATIONS = ("paid", "shared")


class Slots(Interrupts):
    def absorb(self, u: Understanding, *, quiet: bool = False) -> bool:
        """Take every slot the message fills. Says what was inferred (unless `quiet`), moves an
        under-18 to their own path at once. True when the profile changed."""
        was_young = young(self.profile) if self.profile.age_band is not None else None
        before = (self.profile.age_band, self.profile.age, self.profile.nation)
        learned: list[str] = []
        read_back: list[str] = []
        self._facts(u)
        if u.facts.send_more and not self.conv.memo.get("send_more_said") and not quiet:
            # "Send more or I post these": the first thing they hear is not to send any more.
            self.say(self.t(tk.SYS_DONT_SEND_MORE), "step")
            self.conv.memo["send_more_said"] = True
        age = u.age
        if age is not None and age.band == "unknown" and self.state.expect != "age":
            age = None  # "rather not say" answers the question asked, not the age one
        if age is not None and (self.profile.age_band is None or age.correction or age.certain):
            band = band_for_age(age.age) if age.age is not None else age.band
            if band != self.profile.age_band or age.age != self.profile.age:
                self.conv.profile = dataclasses.replace(self.profile, age_band=band, age=age.age)
                if not age.certain or self.state.expect != "age":
                    learned.append(self._age_words(age.age, band, age.detail))
                    read_back.append("age_band")
        place = u.place
        new_place = place is not None and place.nation != self.profile.nation
        if place is not None and new_place and (self.profile.nation is None or place.certain):
            self.conv.profile = dataclasses.replace(self.profile, nation=place.nation)
            if not place.certain or self.state.expect != "nation":
                learned.append(self._place_words(place.nation, place.place))
                read_back.append("nation")
        if learned and not quiet:
            self.notice(tk.SYS_READBACK, what=self.t(tk.SYS_RB_AND).join(learned))
            # A soft question, asked when the turn ends: "no" next undoes it.
            self.read_back_fields += read_back
        now_young = young(self.profile) if self.profile.age_band is not None else None
        if was_young is False and now_young and not quiet:
            self._now_young()
        after = (self.profile.age_band, self.profile.age, self.profile.nation)
        return after != before

    def _age_words(self, age: int | None, band: str, detail: str) -> str:
        if age is not None:
            return self.t(tk.SYS_RB_AGE, age=str(age))
        return self.t(tk.SYS_RB_BAND, band=self.t(tk.age_label(band)).lower())

    def _place_words(self, nation: str, place: str) -> str:
        name = self.t(tk.nation_label(nation))
        if place:
            return self.t(tk.SYS_RB_PLACE_TOWN, place=place, nation=name)
        return self.t(tk.SYS_RB_PLACE, nation=name)

    def _facts(self, u: Understanding) -> None:
        facts, memo = u.facts, self.conv.memo
        for name in ("platforms", "methods"):
            values = getattr(facts, name)
            if values:
                memo[name] = sorted({*memo.get(name, []), *values})[:12]
        for name in ("amount", "deadline"):
            if getattr(facts, name):
                memo[name] = getattr(facts, name)[:40]
        if facts.paid is not None:
            memo["paid"] = facts.paid

    def _now_young(self) -> None:
        """They told us they are under 18 after all: their own path from here, and no files."""
        if self.conv.evidence_count and self.conv.evidence_bytes:
            self.drop_files = True
            self.notice(tk.EVIDENCE_YOUNG_FILES_REMOVED)
            self.conv.evidence_count = 0
            self.conv.evidence_bytes = 0
            self.evidence = [item for item in self.evidence if item.kind != "file"]
        self.say(self.t(tk.SYS_NOW_YOUNG), "step")

    def undo_readback(self) -> Decision:
        """ "No, that's wrong" right after a read-back: forget what was inferred, ask again."""
        fields = str((self.conv.pending or {}).get("fields", "")).split(",")
        self.conv.pending = None
        if not self.in_intake:
            return self.resume(tk.SYS_READBACK_FIX)
        undo: dict[str, None] = {name: None for name in fields if name in ("age_band", "nation")}
        if "age_band" in undo:
            undo["age"] = None
        self.conv.profile = dataclasses.replace(self.profile, **undo)  # type: ignore[arg-type]
        self.notice(tk.SYS_GUESS_WRONG)
        intake = self.ctx.flows.intake.spec
        for name, state in intake.states.items():  # the first question now unanswered
            slot = SLOT_OF_EXPECT.get(state.expect or "")
            if slot in undo:
                self.conv.flow = intake.id
                self.enter(name)
                return self.finish()
        return self.resume(None)

    # --- what happened -------------------------------------------------------------------------

    def pattern_from(self, u: Understanding) -> Decision | None:
        """Before the pattern is known: choose it (read back when inferred). In a pattern flow:
        money paid or images shared since is offered as a change of path."""
        reading = u.pattern
        if reading is None or not reading.ranked:
            return None
        top = reading.ranked[0]
        if self.in_intake:
            if self.profile.pattern is not None:
                return None
            if reading.certain:
                self.conv.profile = dataclasses.replace(self.profile, pattern=top)
                self.conv.memo.pop("pattern_guess", None)
            else:
                self.conv.memo["pattern_guess"] = top
            if self.state.expect in ("age", "nation"):
                # They told us what happened while we asked something else: say we have it.
                self.notice(tk.SYS_NOTED)
            return self.next_question()
        if top in ESCALATIONS and top != self.profile.pattern and reading.certain:
            self.conv.pending = {"kind": "guess", "pattern": top}
            self.notice(tk.SYS_SWITCH_PATTERN, answer=self.t(f"pattern.{top}"))
            self.ask_pending_again()
            return self.finish()
        return None

    def guess_pattern(self, pattern: str, certain: bool) -> Decision:
        if certain:
            self.conv.profile = dataclasses.replace(self.profile, pattern=pattern)
            return self.next_question()
        self.conv.pending = {"kind": "guess", "pattern": pattern}
        self.notice(tk.SYS_GUESS, answer=self.t(f"pattern.{pattern}"))
        self.ask_pending_again()
        return self.finish()

    def settle_guess(self, yes: bool) -> Decision:
        pending = self.conv.pending or {}
        self.conv.pending = None
        pattern = pending.get("pattern")
        if not yes or not pattern:
            self.conv.memo.pop("pattern_guess", None)
            return self.resume(tk.SYS_GUESS_WRONG)
        self.conv.memo.pop("pattern_guess", None)
        if self.in_intake:
            self.conv.profile = dataclasses.replace(self.profile, pattern=pattern)
            return self.next_question()
        # A change of path mid-advice: start that flow's advice, keeping what we know.
        self.conv.profile = dataclasses.replace(self.profile, pattern=pattern)
        self.conv.flow = pattern
        self.enter(self.flow.spec.initial)
        return self.finish()

    def next_question(self) -> Decision:
        """In the intake, go on to the next question still unanswered (or on to the advice).
        A question is entered again (entering skips what is known); a step that only says
        something (the welcome, the young person's note) has been said, so we go past it."""
        here = self.state
        if here.expect is None:
            options = self.flow.options(self.conv.state, self.profile)
            if len(options) == 1:
                return self.advance(options[0])
        self.enter(self.conv.state)
        return self.finish()

    def present(self, spec: StateSpec) -> None:
        guess = self.conv.memo.get("pattern_guess")
        if spec.expect == "pattern" and guess and self.profile.pattern is None:
            # They told their story before we asked: check our reading of it, don't ask again.
            self.conv.pending = {"kind": "guess", "pattern": str(guess)}
            self.notice(tk.SYS_GUESS_STORY, answer=self.t(f"pattern.{guess}"))
            self.ask_pending_again()
            return
        super().present(spec)
