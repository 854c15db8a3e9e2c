"""What works in any state: crisis (both tiers), leaving, deleting, commands, a person."""

from __future__ import annotations

from bot import textkeys as tk
from bot.model import Choices, Decision, DeliverPack, Effect, End, Option, Profile, Say
from bot.reading.reader import Understanding
from bot.turn.evidence import Evidence
from bot.turn.ids import (
    SYS_CHECK_NO,
    SYS_CHECK_YES,
    SYS_DELETE_NO,
    SYS_DELETE_YES,
    SYS_GUESS_NO,
    SYS_GUESS_YES,
    SYS_LANGUAGE,
    SYS_RESTART,
)


class Interrupts(Evidence):
    # --- safety first ----------------------------------------------------------------------------

    def crisis(self, understanding: Understanding | None = None) -> Decision:
        """Clear risk: 999 and the lines open now first, a priority handoff, then where we were."""
        self.conv.profile.crisis = True
        about_other = understanding is not None and understanding.crisis.about_other
        self.say(self.t(tk.SYS_CRISIS_OTHER if about_other else tk.SYS_CRISIS_INTRO), "crisis")
        self.say_lines(tk.SYS_CRISIS_LINES, ("crisis",), "crisis", open_only=True)
        self.handoff("crisis")
        self.say(self.t(tk.SYS_CRISIS_AFTER), "crisis")
        if self.conv.pending is not None and self.conv.pending.get("kind") == "crisis_check":
            self.conv.pending = None
        if self.is_new:
            self.enter(self.flow.spec.initial)
        elif self.conv.pending is not None:
            self.ask_pending_again()
        else:
            self.show_options()
        return self.finish()

    def crisis_only(self) -> list[Effect]:
        """The crisis answer alone, for a channel whose storage failed (nothing is stored)."""
        self.crisis()
        return [e for e in self.effects if not isinstance(e, Choices)]

    def crisis_check(self) -> Decision:
        """Possible risk: ask directly and kindly, with the 24/7 lines in the same message."""
        self.conv.pending = {"kind": "crisis_check"}
        lines = self.ctx.presenter.lines(
            ("crisis",), self.conv.locale, self.profile, self.now, open_only=True, limit=2
        )
        self.say("\n".join([self.t(tk.SYS_CRISIS_CHECK), *lines]), "crisis")
        self.ask_pending_again()
        return self.finish()

    def settle_crisis_check(self, yes: bool) -> Decision:
        self.conv.pending = None
        if yes:
            return self.crisis()
        # They are told to type "help me" if it changes: from now on that means the lines.
        self.conv.memo["checked_no"] = True
        return self.resume(tk.SYS_CRISIS_CHECK_NO)

    # --- leaving and deleting ----------------------------------------------------------------

    def forget(self, key: str) -> Decision:
        self.effects = [Say(self.t(key), "notice"), End(forget=True)]
        return Decision(conversation=None, effects=self.effects, erase=True)

    def command(self, command: str) -> Decision:
        if command == "delete":
            self.conv.pending = {"kind": "delete"}
            self.notice(tk.SYS_DELETE_CONFIRM)
            self.ask_pending_again()
            return self.finish()
        if command == "restart":
            return self.restart()
        if command == "human":
            self.ask_for_person()
            return self.resume(None)
        if command == "more_lines":
            self.say_lines(tk.DIR_HEADER, ("crisis", "support"), "notice", limit=None)
            return self.resume(None)
        if command == "language":
            return self.choose_language()
        if command == "evidence":
            return self.to_evidence_step(None)
        if command == "export":
            if not (self.conv.evidence_count or self.conv.indicators):
                return self.resume(tk.EVIDENCE_NOTHING_YET)
            self.notice(tk.EVIDENCE_PACK_READY)
            self.effects.append(DeliverPack())
            return self.resume(None)
        return self.resume(tk.SYS_HELP)

    # --- language ----------------------------------------------------------------------------

    def choose_language(self) -> Decision:
        languages = self.ctx.readers.languages
        if len(languages.offered) < 2:
            return self.resume(tk.SYS_LANGUAGE_ONLY_ONE)
        self.notice(tk.SYS_LANGUAGE)
        self.effects.append(
            Choices(
                tuple(Option(f"{SYS_LANGUAGE}{loc}", name) for loc, name in languages.names.items())
            )
        )
        return self.finish()

    def switch_language(self, locale: str) -> Decision:
        """They asked for a language (by name, button or /language): from now on, in it; the
        step they are on is shown again in it. Their choice is never overridden by a guess."""
        self.conv.memo["language_chosen"] = True
        self.conv.locale = locale
        self.notice(tk.SYS_LANGUAGE_SWITCHED)
        if self.is_new:
            self.enter(self.flow.spec.initial)
            return self.finish()
        if self.conv.pending is not None:
            self.ask_pending_again()
            return self.finish()
        self.present(self.state)
        return self.finish()

    def notice_language(self, u: Understanding, words: str) -> Understanding:
        """A message clearly written in another language this deployment offers, from someone
        who has not chosen one: carry on in theirs (saying how to switch back), and read the
        message again with that language's lexicons."""
        if self.conv.memo.get("language_chosen"):
            return u
        written = self.ctx.readers.languages.written_in(u.folded)
        if written is None or written == self.conv.locale:
            return u
        self.conv.locale = written
        self.conv.memo["language_chosen"] = True  # one switch: never back and forth on guesses
        self.noticed_language = True
        return self.read(words)

    def restart(self) -> Decision:
        self.conv.profile = Profile()
        self.conv.answers = {}
        self.conv.pending = None
        self.conv.memo = {}
        self.conv.flow = self.ctx.flows.intake.id
        self.notice(tk.SYS_RESTARTED)
        self.enter(self.flow.spec.initial)
        return self.finish()

    def welcome_back(self) -> Decision:
        self.notice(tk.SYS_WELCOME_BACK)
        self.show_options([Option(SYS_RESTART, self.t(tk.SYS_OPT_RESTART))])
        return self.finish()

    # --- questions outside the flow: yes/no asked by the engine ---------------------------------

    def yes_no(self, yes: tuple[str, str], no: tuple[str, str]) -> None:
        self.effects.append(Choices((Option(yes[0], self.t(yes[1])), Option(no[0], self.t(no[1])))))

    def ask_pending_again(self) -> None:
        kind = (self.conv.pending or {}).get("kind")
        if kind == "delete":
            self.yes_no(
                (SYS_DELETE_YES, tk.SYS_OPT_DELETE_YES), (SYS_DELETE_NO, tk.SYS_OPT_DELETE_NO)
            )
        elif kind == "crisis_check":
            self.yes_no((SYS_CHECK_YES, tk.SYS_OPT_CHECK_YES), (SYS_CHECK_NO, tk.SYS_OPT_CHECK_NO))
        elif kind == "indicators":
            self.indicator_options()
        elif kind == "guess":
            self.yes_no((SYS_GUESS_YES, tk.COMMON_YES), (SYS_GUESS_NO, tk.COMMON_NO))
        else:
            self.show_options()
