"""Evidence intake: files and typed details, kept from any step, read back at the evidence step."""

from __future__ import annotations

import uuid

from bot import textkeys as tk
from bot.evidence.indicators import extract, looks_like_mass_phishing
from bot.evidence.items import MAX_BYTES, MAX_INDICATORS, MAX_ITEMS, new_item, short
from bot.evidence.sniff import MAX_FILE_BYTES, sniff
from bot.flowspec import StateSpec
from bot.model import Choices, Decision, NewEvidence, Option
from bot.predicates import young
from bot.presenter import pack
from bot.turn.base import TurnBase
from bot.turn.ids import EVIDENCE_LATER, EVIDENCE_STEP, SYS_KEEP_ALL, SYS_REMOVE, TAIL_START

# Details are looked for only in text that could hold one: a quick test before the finders.
_DETAIL_SIGNS = ("@", "http", "www.", "£", "$", "€", ".com", "bitcoin", "btc", "hours")


class Evidence(TurnBase):
    def to_evidence_step(self, notice: str | None) -> Decision:
        """Go to an evidence step without skipping any advice still to come."""
        flow, here = self.flow, self.conv.state
        if flow.spec.kind != "pattern" or EVIDENCE_LATER not in flow.spec.states:
            return self.resume(tk.EVIDENCE_AFTER_INTAKE)
        if self.state.collect:
            return self.resume(None)
        if EVIDENCE_STEP in flow.spec.states and flow.reaches(here, EVIDENCE_STEP):
            return self.resume(tk.EVIDENCE_SOON)  # it is a step or two ahead
        if notice:
            self.notice(notice)
        self.conv.pending = None
        in_tail = TAIL_START in flow.spec.states and flow.reaches(TAIL_START, here)
        # Past the flow's own step but still in the advice: go back to it (its "I'm finished"
        # continues the advice) rather than to the goodbye's evidence step, which ends there.
        self.enter(
            EVIDENCE_LATER if in_tail or EVIDENCE_STEP not in flow.spec.states else EVIDENCE_STEP
        )
        return self.finish()

    def present(self, spec: StateSpec) -> None:
        super().present(spec)
        if spec.collect and self.pending_indicators():
            # Details they typed earlier, read back here so they can keep or remove them.
            self.effects = [e for e in self.effects if not isinstance(e, Choices)]
            self.conv.pending = {"kind": "indicators"}
            self.read_back(tk.EVIDENCE_FOUND_EARLIER)

    # --- files -----------------------------------------------------------------------------------

    def upload(self) -> Decision:
        attachment = self.event.attachment
        if attachment is None:
            return self.resume(tk.SYS_UNSUPPORTED)
        self.heard = f"[a file, {len(attachment.data)} bytes]"
        if self.profile.age_band is None and self.profile.age is None:
            return self.resume(tk.EVIDENCE_NOT_NOW)
        if young(self.profile):
            # Under-18s are never asked for images, and nothing they send is kept.
            return self.resume(tk.EVIDENCE_NO_IMAGES_YOUNG)
        if attachment.declared_size > MAX_FILE_BYTES:
            return self.resume(tk.EVIDENCE_REFUSED_TOO_BIG)
        verdict = sniff(attachment.data)
        if verdict.media_type is None:
            key = (
                tk.EVIDENCE_REFUSED_TOO_BIG if verdict.reason == "too_big" else tk.EVIDENCE_REFUSED
            )
            return self.resume(key)
        if not self.room_for(len(attachment.data)):
            return self.resume(tk.EVIDENCE_QUOTA)
        item = new_item(
            "file",
            verdict.media_type,
            attachment.name,
            attachment.data,
            self.event.channel,
            self.now.timestamp(),
        )
        self.keep(item)
        self.say(self.t(tk.EVIDENCE_SAVED_FILE, sha=item.sha256[:12]))
        if not self.state.collect and not self.conv.memo.get("warned"):
            # Kept from any step, but the first time outside the evidence step they hear what
            # never to send (the evidence step says it before asking).
            self.notice(tk.EVIDENCE_WARNING)
            self.conv.memo["warned"] = True
        return self.resume(None)

    def room_for(self, size: int) -> bool:
        return self.conv.evidence_count < MAX_ITEMS and self.conv.evidence_bytes + size <= MAX_BYTES

    def keep(self, item: NewEvidence) -> None:
        self.evidence.append(item)
        self.conv.evidence_count += 1
        self.conv.evidence_bytes += len(item.data)

    # --- typed details -------------------------------------------------------------------------

    def keep_text(self, text: str) -> list[str] | None:
        """Keep typed words as evidence and note the details in them; None when there is no room.
        Returns the kinds of new details found."""
        data = text.encode("utf-8", "replace")
        if not self.room_for(len(data)):
            return None
        self.keep(
            new_item(
                "text", "text/plain", "typed.txt", data, self.event.channel, self.now.timestamp()
            )
        )
        known = {(i["kind"], i["value"]) for i in self.conv.indicators}
        folded = text.casefold()
        if not any(sign in folded for sign in _DETAIL_SIGNS) and not any(
            ch.isdigit() for ch in text
        ):
            return []
        found = [i for i in extract(text) if (i.kind, i.value) not in known]
        room = max(MAX_INDICATORS - len(self.conv.indicators), 0)
        for indicator in found[:room]:
            self.conv.indicators.append(
                {
                    "id": uuid.uuid4().hex[:8],
                    "kind": indicator.kind,
                    "value": indicator.value,
                    "status": "pending",
                }
            )
        return [i.kind for i in found[:room]]

    def collect_text(self, text: str) -> Decision:
        """At an evidence step: everything typed is evidence; details found are read back."""
        found = self.keep_text(text)
        if found is None:
            return self.resume(tk.EVIDENCE_QUOTA)
        if looks_like_mass_phishing(text):
            self.notice(tk.EVIDENCE_MASS_PHISHING)
        if not found:
            self.say(self.t(tk.EVIDENCE_SAVED_TEXT))
            return self.resume(None)
        self.conv.pending = {"kind": "indicators"}
        self.read_back(tk.EVIDENCE_FOUND)
        return self.finish()

    def pending_indicators(self) -> list[dict[str, str]]:
        return [i for i in self.conv.indicators if i["status"] == "pending"]

    def read_back(self, header: str) -> None:
        lines = [
            f"{number}. {self.t(tk.indicator_label(i['kind']))}: {short(i['value'], 80)}"
            for number, i in enumerate(self.pending_indicators(), start=1)
        ]
        for message in pack(self.t(header), lines):
            self.say(message)
        self.say(self.t(tk.EVIDENCE_FOUND_QUESTION))
        self.indicator_options()

    def indicator_options(self) -> None:
        options = [Option(SYS_KEEP_ALL, self.t(tk.EVIDENCE_OPT_KEEP_ALL))]
        for number, indicator in enumerate(self.pending_indicators()[:8], start=1):
            label = self.t(
                tk.EVIDENCE_OPT_REMOVE, number=str(number), value=short(indicator["value"], 30)
            )
            options.append(Option(SYS_REMOVE + indicator["id"], label))
        self.effects.append(Choices(tuple(options)))

    def keep_indicators(self) -> Decision:
        for indicator in self.pending_indicators():
            indicator["status"] = "confirmed"
        self.conv.pending = None
        return self.resume(tk.EVIDENCE_KEPT)

    def remove_indicator(self, indicator_id: str) -> Decision:
        before = len(self.conv.indicators)
        self.conv.indicators = [i for i in self.conv.indicators if i["id"] != indicator_id]
        if len(self.conv.indicators) == before:
            return self.resume(tk.SYS_STALE)
        self.notice(tk.EVIDENCE_REMOVED)
        if self.pending_indicators():
            self.read_back(tk.EVIDENCE_FOUND)
            return self.finish()
        self.conv.pending = None
        return self.resume(tk.EVIDENCE_KEPT)
