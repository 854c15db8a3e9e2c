"""The decision for one event, split by what each part does:

- base: the turn's state and the moves every part shares (say, enter, advance)
- evidence: files and typed details kept from any step, read back at the evidence step
- interrupts: crisis (both tiers), leaving, deleting, commands, a person
- slots: filling in age, place and what happened from any message; read-backs; corrections
- questions: their own questions answered from the knowledge base
- navigation: the order in which a message is used, buttons and typed answers to a step
"""

from bot.turn.context import TurnContext
from bot.turn.ids import SYS_EXIT
from bot.turn.navigation import Turn

__all__ = ["SYS_EXIT", "Turn", "TurnContext"]
