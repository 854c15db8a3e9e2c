"""One event in one conversation: a pure function from (conversation, event) to a Decision.

No I/O happens here. Storage calls `Turn(...).decide()` inside its transaction and channels
deliver the effects only after the decision has been committed. Every message is read in full
first (bot.reading); then, in order: safety, commands, what they told us, their question, and
only then the step they are on.
"""

from __future__ import annotations

import re

from bot import textkeys as tk
from bot.flowspec import ChoiceSpec
from bot.model import Decision, EventKind, Option
from bot.reading.reader import Understanding
from bot.reading.text import clean, normalise
from bot.turn.ids import (
    FINISHED,
    SYS_CHECK_NO,
    SYS_CHECK_YES,
    SYS_DELETE_NO,
    SYS_DELETE_YES,
    SYS_EXIT,
    SYS_GUESS_NO,
    SYS_GUESS_YES,
    SYS_HELP,
    SYS_HUMAN,
    SYS_KEEP_ALL,
    SYS_LANGUAGE,
    SYS_REMOVE,
    SYS_RESTART,
)
from bot.turn.questions import Questions

# Telegram deep-link payloads: one token of at most 64 of these characters, never typed words.
_DEEP_LINK_TAG = re.compile(r"[A-Za-z0-9_-]{1,64}")


class Turn(Questions):
    def decide(self) -> Decision:
        kind = self.event.kind
        if kind is EventKind.CHOICE:
            option = clean(self.event.text)
            if option == SYS_EXIT:
                # Also for a conversation already forgotten: leaving must never start a new one.
                return self.forget(tk.SYS_EXIT)
            if self.is_new:
                self.enter(self.flow.spec.initial)
                return self.finish()
            return self.choice(option)
        words = self.event.payload if kind is EventKind.START else self.event.text
        tag = kind is EventKind.START and _DEEP_LINK_TAG.fullmatch(words) is not None
        if tag:
            # A deep-link tag (/start from-website): only its crisis words count, not answers.
            words = words.replace("_", " ").replace("-", " ")
        u = self.read(words) if words.strip() else None
        if u is not None and tag and u.crisis.level != "clear":
            u = None
        if u is not None and not tag:
            u = self.notice_language(u, words)  # so even a crisis is answered in their language
        if u is not None and kind is not EventKind.UPLOAD:
            self.heard = u.text[: self.ctx.max_text_chars]
        # Safety first: a crisis signal is answered before anything else, in any state.
        if u is not None and u.crisis.level == "clear":
            self.absorb(u, quiet=True)  # so the lines fit their age and nation
            return self.crisis(u)
        if u is not None and (u.command == "exit" or (u.command == "delete" and self.is_new)):
            return self.forget(tk.SYS_EXIT)
        asked = self.ctx.readers.languages.asked_for(u.folded) if u is not None else None
        if asked is not None and kind is not EventKind.UPLOAD:
            return self.switch_language(asked)
        if self.is_new:
            self.enter(self.flow.spec.initial)
            if kind is EventKind.UPLOAD:
                return self.upload()
            if u is None:
                return self.finish()
            # They started by typing: after the welcome, straight on with what they said.
            return self.use(u, opening=True)
        if kind is EventKind.START and u is None:
            return self.welcome_back()
        if kind is EventKind.UNSUPPORTED:
            return self.resume(tk.SYS_UNSUPPORTED)
        if kind is EventKind.UPLOAD:
            if u is not None:  # a caption: what it says is used too
                self.absorb(u)
            return self.upload()
        if u is None:
            return self.resume(tk.SYS_EMPTY)
        if len(words) > self.ctx.max_text_chars:
            return self.resume(tk.SYS_TOO_LONG)
        if u.crisis.level == "possible":
            self.absorb(u, quiet=True)
            if (self.conv.pending or {}).get("kind") == "crisis_check":
                return self.crisis(u)  # asked, and they did not say no
            return self.crisis_check()
        if self.conv.memo.get("checked_no") and u.folded in self.reader.commands.help_me:
            return self.crisis(u)  # the promise made after their "no" (sys.crisis_check_no)
        if u.command is not None:
            return self.command(u.command)
        return self.use(u)

    # --- buttons -----------------------------------------------------------------------------

    def choice(self, option_id: str) -> Decision:
        pending = (self.conv.pending or {}).get("kind")
        if option_id == SYS_KEEP_ALL or option_id.startswith(SYS_REMOVE):
            if pending != "indicators":
                return self.resume(tk.SYS_STALE)
            if option_id == SYS_KEEP_ALL:
                return self.keep_indicators()
            return self.remove_indicator(option_id[len(SYS_REMOVE) :])
        expected = {
            SYS_GUESS_YES: "guess",
            SYS_GUESS_NO: "guess",
            SYS_DELETE_YES: "delete",
            SYS_DELETE_NO: "delete",
            SYS_CHECK_YES: "crisis_check",
            SYS_CHECK_NO: "crisis_check",
        }
        if option_id in expected:
            if pending != expected[option_id]:
                return self.resume(tk.SYS_STALE)
            yes = option_id in (SYS_GUESS_YES, SYS_DELETE_YES, SYS_CHECK_YES)
            return self.settle(yes)
        if option_id == SYS_RESTART:
            return self.restart()
        if option_id.startswith(SYS_LANGUAGE):
            locale = option_id[len(SYS_LANGUAGE) :]
            if locale not in self.ctx.readers.languages.offered:
                return self.resume(tk.SYS_STALE)
            return self.switch_language(locale)
        if option_id in (SYS_HUMAN, SYS_HELP):
            return self.command("human" if option_id == SYS_HUMAN else "help")
        choice = self.option(option_id)
        if choice is None:
            # A button from an earlier step, or forged data: say so kindly and change nothing.
            return self.resume(tk.SYS_STALE)
        self.heard = self.t(choice.label)
        return self.advance(choice)

    def option(self, option_id: str) -> ChoiceSpec | None:
        options = self.flow.options(self.conv.state, self.profile)
        return next((c for c in options if c.id == option_id), None)

    def settle(self, yes: bool) -> Decision:
        kind = (self.conv.pending or {}).get("kind")
        if kind == "crisis_check":
            return self.settle_crisis_check(yes)
        if kind == "delete":
            self.conv.pending = None
            return self.forget(tk.SYS_DELETED) if yes else self.resume(tk.SYS_DELETE_KEPT)
        return self.settle_guess(yes)

    # --- typed words -------------------------------------------------------------------------

    def use(self, u: Understanding, *, opening: bool = False) -> Decision:
        """Everything a typed message says, used: pending questions, the step's own words, slots,
        story, their question, then the step they are on."""
        misses = int(self.conv.memo.pop("misses", 0))
        pending = self.conv.pending or {}
        kind = pending.get("kind")
        commands = self.reader.commands
        if kind == "crisis_check":
            self.conv.pending = None
            if u.folded in commands.crisis_no or (u.agreement is False and u.words <= 3):
                return self.settle_crisis_check(False)
            # Yes, "sometimes", "idk", "kind of", or anything else: the lines and a person.
            self.absorb(u, quiet=True)
            return self.crisis(u)
        if kind in ("delete", "guess") and u.agreement is not None:
            return self.settle(u.agreement)
        if kind == "indicators" and (u.agreement or u.folded in ("keep all", "keep", "keep them")):
            return self.keep_indicators()
        if kind == "readback" and u.agreement is False and not (u.age or u.place):
            return self.undo_readback()
        if kind == "guess" and self.in_intake and not _contradicts(u, pending.get("pattern")):
            # New information after a read-back: taken as a yes, and used.
            self.absorb(u)
            self.keep_said(u)
            self.answer(u)
            return self.settle_guess(True)
        self.conv.pending = None
        state = self.state
        # The step's own words first: a label typed out, or "ok" where there is one way on.
        for choice in self.flow.options(self.conv.state, self.profile):
            if normalise(self.t(choice.label)) == u.folded:
                return self.advance(choice)
        if state.collect:
            return self.at_evidence_step(u)
        if not u.facts.send_more and not u.story:
            agreed = self.agreed(u)
            if agreed is not None and not (u.age or u.place):
                return self.advance(agreed)
        learned = self.absorb(u)
        kept = self.keep_said(u)
        answered = self.answer(u)
        moved = self.pattern_from(u)
        if moved is not None:
            return moved
        if self.in_intake and state.expect is None:
            # The welcome: a greeting, their story or a question means they have started.
            said = kept or answered or u.folded in commands.greetings or commands.on_topic(u.folded)
            if learned or opening or said:
                return self.next_question()
        elif self.in_intake and (learned or opening):
            return self.next_question()
        if state.final and (u.agreement is not None or u.folded in commands.thanks):
            return self.resume(tk.SYS_CLOSING)
        if state.final and (u.folded in commands.greetings or u.asks):
            return self.resume(tk.SYS_STILL_HERE)
        if learned or answered or u.facts.send_more:
            return self.resume(None)
        if u.folded in commands.feelings:
            return self.resume(tk.SYS_FEELINGS)
        if self.in_intake and state.expect == "pattern" and (u.story or kept):
            return self.resume(tk.SYS_REASK_PATTERN)
        if kept:
            self.notice(tk.EVIDENCE_KEPT_SAID)
            # At an intake question, ask it again in full: it still needs an answer.
            return self.next_question() if self.in_intake else self.resume(None)
        refused = u.agreement is False or (u.age is not None and u.age.band == "unknown")
        if self.in_intake and state.expect == "nation" and refused:
            return self.resume(tk.SYS_NATION_OPTIONAL)
        if self.in_intake and state.expect is not None and u.words >= 3 and misses == 0:
            # They said something we can't place: thank them, and ask the question again.
            self.notice(tk.SYS_THANKS_THEN)
            return self.next_question()
        return self.miss(misses)

    def at_evidence_step(self, u: Understanding) -> Decision:
        """At an evidence step everything typed is evidence, except the ways of saying done,
        yes/ok and thanks, and a question they ask."""
        commands = self.reader.commands
        told = self.conv.memo.pop("how_to_finish", False)  # how to finish, just before
        small_talk = u.agreement is True or u.folded in commands.thanks
        small_talk = (small_talk or u.folded in commands.greetings) and u.words <= 3
        # "ok" again right after being told how to finish: they have nothing to add.
        if u.done or (u.agreement is False and u.words <= 2) or (small_talk and told):
            finished = self.option(FINISHED)
            if finished is not None:
                return self.advance(finished)
        if small_talk:
            self.conv.memo["how_to_finish"] = True
            return self.resume(tk.EVIDENCE_HOW_TO_FINISH)
        if u.asks and not u.story and self.answer(u):
            return self.resume(None)
        self.absorb(u)
        return self.collect_text(u.text)

    def keep_said(self, u: Understanding) -> bool:
        """Their story or details typed outside an evidence step are kept as evidence too."""
        if self.state.collect or not (u.story or _has_details(u)):
            return False
        return self.keep_text(u.text) is not None

    def agreed(self, u: Understanding) -> ChoiceSpec | None:
        """A yes or no in their own words: the one way forward, or the option that means it."""
        options = self.flow.options(self.conv.state, self.profile)
        thanks = u.folded in self.reader.commands.thanks
        if len(options) == 1 and (u.agreement or thanks) and not self.state.final:
            return options[0]
        if u.agreement is None:
            return None
        meaning = "yes" if u.agreement else "no"
        return next((c for c in options if c.means == meaning or c.id == meaning), None)

    def miss(self, misses: int) -> Decision:
        """Not understood. Never twice the same way: the second time, a way out as well."""
        self.conv.memo["misses"] = misses + 1
        if misses == 0:
            return self.resume(tk.SYS_REASK)
        self.notice(tk.SYS_REASK_TWICE)
        self.conv.pending = None
        self.show_options(
            [Option(SYS_HUMAN, self.t(tk.SYS_OPT_HUMAN)), Option(SYS_HELP, self.t(tk.SYS_OPT_HELP))]
        )
        return self.finish()


# Words that say a detail follows ("his number is", "their snap is"), or a long run of digits.
_DETAIL_WORDS = (
    "http",
    "www",
    "snap",
    "insta",
    "user",
    "number",
    "whatsapp",
    "discord",
    "tiktok",
    "email",
    "account",
    "profile",
    "wallet",
    "handle",
    "#",
)
_DIGITS = re.compile(r"\d[\d ]{5,}")
_HANDLE = re.compile(r"@\w")  # "@fake_girl_22", not a lone "@"


def _has_details(u: Understanding) -> bool:
    folded = u.folded[:2000]
    return (
        any(word in folded for word in _DETAIL_WORDS)
        or bool(_HANDLE.search(folded))
        or bool(_DIGITS.search(folded))
    )


def _contradicts(u: Understanding, pattern: str | None) -> bool:
    return u.pattern is not None and bool(u.pattern.ranked) and u.pattern.ranked[0] != pattern
