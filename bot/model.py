"""Types shared by the engine, storage and channels (the lowest floor: imports nothing of ours).

Channels translate platform events into one `Inbound`; the engine answers with `Effect`s and a
new `Conversation`; storage persists `Decision`s. None of these know about Telegram or HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal


class EventKind(StrEnum):
    START = "start"  # a new chat, /start, or the widget opening
    TEXT = "text"  # something the person typed
    CHOICE = "choice"  # a button the person tapped (text holds the option id)
    UPLOAD = "upload"  # a file sent as evidence (in `attachment`)
    UNSUPPORTED = "unsupported"  # stickers, voice, location...: answered kindly, changes nothing


@dataclass(frozen=True, slots=True)
class Attachment:
    name: str  # as the person's device named it; sealed at rest, never trusted for the type
    data: bytes
    declared_size: int = 0  # what the platform said before download (too big: not downloaded)

    def __repr__(self) -> str:  # never put a file's bytes or name into a log or traceback
        return f"Attachment(<{len(self.data)} bytes>)"


@dataclass(frozen=True, slots=True)
class Inbound:
    """One thing a person did, in a channel-neutral shape."""

    channel: str
    user_key: str = field(repr=False)  # the channel's id for this person or chat; never logged
    event_id: str  # unique within the channel; the same id twice has one effect
    kind: EventKind
    text: str = field(default="", repr=False)  # never in a log or traceback
    payload: str = field(default="", repr=False)  # deep-link payload that came with START
    attachment: Attachment | None = None
    locale: str = ""  # the channel's language hint (Telegram language_code, data-locale...)

    @property
    def conversation_key(self) -> str:
        return f"{self.channel}:{self.user_key}"


# --- effects: what the engine wants a channel to do, in order ---------------------------------


@dataclass(frozen=True, slots=True)
class Option:
    id: str
    label: str


@dataclass(frozen=True, slots=True)
class Say:
    text: str
    kind: Literal["step", "crisis", "notice"] = "step"


@dataclass(frozen=True, slots=True)
class Choices:
    options: tuple[Option, ...]
    leave: str = ""  # a "Leave quickly" button's words in the person's language (channels add it)


@dataclass(frozen=True, slots=True)
class Pause:
    seconds: float


@dataclass(frozen=True, slots=True)
class RequestUpload:
    """Invite evidence files (never sent to under-18s: the engine guarantees it)."""

    prompt: str


Priority = Literal["crisis", "young", "normal"]


@dataclass(frozen=True, slots=True)
class Handoff:
    priority: Priority
    reason: str  # a fixed code such as "crisis" or "asked"; never the person's words


@dataclass(frozen=True, slots=True)
class DeliverPack:
    """The person asked for their evidence pack: the channel sends it (Engine.export_pack)."""


@dataclass(frozen=True, slots=True)
class End:
    forget: bool  # True: the conversation was deleted; the channel should clear what it shows


Effect = Say | Choices | Pause | RequestUpload | Handoff | DeliverPack | End


# --- the persisted conversation ----------------------------------------------------------------


@dataclass(slots=True)
class Profile:
    """What the bot knows about the person, as categories only (never their words)."""

    age_band: str | None = None
    age: int | None = None
    nation: str | None = None
    pattern: str | None = None
    crisis: bool = False


@dataclass(slots=True)
class Conversation:
    id: str
    channel: str
    flow: str
    state: str
    locale: str
    created_at: float
    updated_at: float
    profile: Profile = field(default_factory=Profile)
    answers: dict[str, str] = field(default_factory=dict)  # option ids chosen, by state
    # A question the engine asked outside the flow (confirm a guess, confirm deletion).
    pending: dict[str, str] | None = None
    # The channel's way to reach the person (e.g. a chat id); sealed at rest, never in a repr.
    address: str = field(default="", repr=False)
    turns: int = 0
    # Details found in what they typed: {"id", "kind", "value", "status": pending|confirmed}.
    indicators: list[dict[str, str]] = field(default_factory=list)
    evidence_count: int = 0
    evidence_bytes: int = 0
    # What else they told us, beyond the profile's categories (platforms, payment, deadline,
    # notices already given, consecutive misunderstandings). Sealed at rest like the profile.
    memo: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    at: float
    inbound: str  # what the person typed, or the label of what they tapped
    outbound: tuple[str, ...]  # what the bot said
    # Each outbound message's kind (step, crisis, notice, answer): the evidence pack lists only
    # advice, never re-asks or notices. Empty for entries stored before kinds were kept.
    kinds: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NewEvidence:
    """An item to keep: the original bytes, unchanged, with their hash and arrival time."""

    id: str
    kind: Literal["file", "text"]
    media_type: str
    name: str
    data: bytes
    sha256: str
    received_at: float  # UTC seconds
    channel: str

    def __repr__(self) -> str:
        return f"NewEvidence(id={self.id}, {self.media_type}, <{len(self.data)} bytes>)"


@dataclass(slots=True)
class Decision:
    """The whole result of one event: stored atomically, then delivered."""

    conversation: Conversation | None  # None: forget this conversation
    effects: list[Effect]
    transcript: TranscriptEntry | None = None
    handoffs: list[Handoff] = field(default_factory=list)
    erase: bool = False  # wipe every row about this conversation before writing anything
    evidence: list[NewEvidence] = field(default_factory=list)
    # Remove every file kept for this conversation (not typed details): the person turned out
    # to be under 18, and nobody may hold what could be an indecent image of a child.
    drop_files: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    effects: tuple[Effect, ...]
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """Effects committed with their decision and not yet delivered (see Repository.outbox)."""

    seq: int
    event_key: str
    conversation_id: str
    address: str
    effects: tuple[Effect, ...]
    delivered: int = 0  # how many messages of it already reached the person
