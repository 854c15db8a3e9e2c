"""Their own questions, answered anywhere from the knowledge base, then back to where they were."""

from __future__ import annotations

from bot.reading.reader import Understanding
from bot.turn.slots import Slots


class Questions(Slots):
    def answer(self, u: Understanding) -> bool:
        """Answer the question in this message, if it asks one. True when something was said."""
        # A statement that matches a question ("they gave me a deadline") is answered too, but
        # not where we asked something: there it is most likely their answer.
        statement = self.state.expect is None and not (u.age or u.place or u.pattern)
        if u.question is not None and (u.asks or statement):
            entry = self.reader.book.entries[u.question]
            for key in entry.say:
                self.say(self.t(key), "step", logged_as="answer")
            self.conv.memo["answered"] = [*self.conv.memo.get("answered", [])[-19:], u.question]
            return True
        if u.asks and not (u.age or u.place or u.pattern):
            # An honest "I don't know that one", and a person who might.
            self.notice("sys.question_unknown")
            return True
        return False
