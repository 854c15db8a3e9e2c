"""Which translated texts a fluent reviewer has not signed off yet (`supportbot validate --review
cy`). content/<locale>/reviewed.yaml lists the keys a reviewer checked, by whom, when, and a
fingerprint of the English text they checked against; a key not listed is unreviewed, and one
whose English has changed since is stale. The file's header gives the fingerprint recipe.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.texts import Entry, Texts


@dataclass(frozen=True)
class Pending:
    key: str
    why: str  # "unreviewed" or "English changed since the review on <date>"


def fingerprint(entry: Entry) -> str:
    """The first 12 hex digits of SHA-256 over the English text (variants as name<TAB>text
    lines, in file order)."""
    if isinstance(entry, str):
        text = entry
    else:
        text = "\n".join(f"{name}\t{value}" for name, value in entry.items())
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def pending(content_dir: Path, locale: str, texts: Texts) -> list[Pending]:
    path = content_dir / locale / "reviewed.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    reviewed = (raw or {}).get("reviewed") or {}
    english = texts.catalogues[texts.default_locale]
    out = []
    for key in sorted(texts.catalogues.get(locale, {})):
        record = reviewed.get(key)
        if not isinstance(record, dict):
            out.append(Pending(key, "unreviewed"))
        elif key in english and str(record.get("en", "")) != fingerprint(english[key]):
            out.append(Pending(key, f"English changed since the review on {record.get('on')}"))
    return out
