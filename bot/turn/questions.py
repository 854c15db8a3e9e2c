"""Their own questions, answered anywhere from the knowledge base, then back to where they were."""

from __future__ import annotations

from bot import textkeys as tk
from bot.reading.reader import Understanding
from bot.turn.slots import Slots


class Questions(Slots):
    def answer(self, u: Understanding) -> bool:
        """Answer the question in this message, if it asks one. True when something was said."""
        # Only what they ask: a statement that happens to share words with a question ("go on",
        # "done", "no") is an answer to the step, never a reason to change the subject.
        if u.question is not None and u.asks:
            entry = self.reader.book.entries[u.question]
            for key in entry.say:
                self.say(self.t(key), "step", logged_as="answer")
            self.conv.memo["answered"] = [*self.conv.memo.get("answered", [])[-19:], u.question]
            return True
        if u.asks and u.words >= 3 and not (u.age or u.place or u.pattern):
            # An honest "I don't know that one", and a person who might.
            self.notice(tk.SYS_QUESTION_UNKNOWN)
            return True
        return False
