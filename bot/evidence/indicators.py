"""Find the details police and platforms need in anything a person types or pastes.

Each finder masks what it found so later finders don't read it twice (an email's domain is not
also a URL; a phone number is not also a transfer number). Payment identifiers are checksummed,
so a mistyped address is not presented as real.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import phonenumbers

from bot.evidence.checksums import bitcoin_ok, ethereum_ok, iban_ok


@dataclass(frozen=True, slots=True)
class Indicator:
    kind: str
    value: str


KINDS = (
    "email",
    "url",
    "bitcoin",
    "ethereum",
    "iban",
    "uk_bank",
    "mtcn",
    "phone",
    "handle",
    "amount",
    "deadline",
)

PHONE_TRIES = 200  # candidate numbers looked at per message (a real message has a few)
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_URL = re.compile(
    r"\b(?:https?://[^\s<>\"']+|www\.[^\s<>\"']+|"
    r"(?:instagram|snapchat|tiktok|facebook|twitter|x|onlyfans|reddit|t|discord|youtube)"
    r"\.(?:com|me|gg|net)/[^\s<>\"']+)",
    re.IGNORECASE,
)
_BITCOIN = re.compile(r"\b(?:bc1[a-zA-HJ-NP-Z0-9]{11,87}|[13][a-km-zA-HJ-NP-Z1-9]{25,34})\b")
_ETHEREUM = re.compile(r"\b0x[0-9a-fA-F]{40}\b")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
_SORT_CODE = re.compile(r"\b(\d{2})[- ](\d{2})[- ](\d{2})\b")
_ACCOUNT = re.compile(r"(?<![\d-])(\d{8})(?![\d-])")
_MTCN = re.compile(r"(?<![\d-])(\d{3}[- ]?\d{3}[- ]?\d{4})(?![\d-])")
_MTCN_CONTEXT = re.compile(r"mtcn|control number|western union|money ?gram|transfer number", re.I)
_HANDLE_AT = re.compile(r"(?<![\w@.])@([A-Za-z0-9_.]{2,30})\b")
_HANDLE_NAMED = re.compile(
    r"\b(snapchat|snap|instagram|insta|ig|tiktok|telegram|discord|kik|whatsapp|twitter|x)"
    r"(?: username| name| handle| account| id)?\s*(?:is|:|-)\s*@?([A-Za-z0-9_.]{2,30})\b",
    re.IGNORECASE,
)
_CURRENCY_SYMBOL = r"[£$€]"
# Digits in thousands groups ("1,000,000") or a plain run: never `[\d,]*`, which backtracks over
# a long run of "1,1,1,..." from every starting digit (quadratic; ~1 s for 6,000 characters).
_NUMBER = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_AMOUNT = re.compile(
    rf"(?:{_CURRENCY_SYMBOL}\s?{_NUMBER}(?:\s?[kK]\b)?)|"
    rf"(?:\b{_NUMBER}\s?(?:GBP|USD|EUR|BTC|ETH|USDT|pounds?|quid|dollars?|euros?|bitcoins?)\b)",
    re.IGNORECASE,
)
_DEADLINE = re.compile(
    r"\b(?:within|in|next|only have|you have)\s+(?:the\s+next\s+)?\d{1,3}\s*"
    r"(?:hours?|hrs?|h|days?|minutes?|mins?)\b|"
    r"\b\d{1,3}\s*(?:hours?|hrs?)\b(?=[^.]{0,40}\b(?:pay|send|or|deadline)\b)|"
    r"\bby (?:tonight|tomorrow|midnight|monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"the end of (?:the )?day)\b|\b(?:today|tonight) (?:or|before)\b",
    re.IGNORECASE,
)


def _mask(text: str, span: tuple[int, int]) -> str:
    start, end = span
    return text[:start] + " " * (end - start) + text[end:]


def _trim_url(url: str) -> str:
    return url.rstrip(".,;:!?)]}'\"")


def extract(text: str, region: str = "GB") -> list[Indicator]:
    """Every indicator in `text`, in order of kind, without duplicates."""
    found: list[Indicator] = []
    work = text

    def take(
        kind: str,
        pattern: re.Pattern[str],
        check: Callable[[str], bool] = bool,
        clean: Callable[[str], str] = str.strip,
    ) -> None:
        nonlocal work
        for match in list(pattern.finditer(work)):
            value = clean(match.group(0))
            if value and check(value):
                found.append(Indicator(kind, value))
                work = _mask(work, match.span())

    take("email", _EMAIL)
    take("url", _URL, clean=_trim_url)
    take("bitcoin", _BITCOIN, bitcoin_ok)
    take("ethereum", _ETHEREUM, ethereum_ok)
    take("iban", _IBAN, iban_ok, clean=lambda v: v.replace(" ", ""))
    for sort in list(_SORT_CODE.finditer(work)):
        window = work[sort.end() : sort.end() + 60]
        account = _ACCOUNT.search(window)
        if account:
            value = f"{'-'.join(sort.groups())} {account.group(1)}"
            found.append(Indicator("uk_bank", value))
            work = _mask(work, sort.span())
            offset = sort.end()
            work = _mask(work, (offset + account.start(1), offset + account.end(1)))
    if _MTCN_CONTEXT.search(work):
        take("mtcn", _MTCN, clean=lambda v: re.sub(r"\D", "", v))
    # Bounded tries: a paste of thousands of digit runs would otherwise cost ~30 ms of CPU.
    for number in phonenumbers.PhoneNumberMatcher(work, region, max_tries=PHONE_TRIES):
        if phonenumbers.is_valid_number(number.number):
            value = phonenumbers.format_number(number.number, phonenumbers.PhoneNumberFormat.E164)
            found.append(Indicator("phone", value))
            work = _mask(work, (number.start, number.end))
    for named in list(_HANDLE_NAMED.finditer(work)):
        found.append(Indicator("handle", f"{named.group(1).lower()}: {named.group(2)}"))
        work = _mask(work, named.span())
    take("handle", _HANDLE_AT)
    take("amount", _AMOUNT)
    take("deadline", _DEADLINE)
    unique: dict[tuple[str, str], Indicator] = {}
    for indicator in found:
        unique.setdefault((indicator.kind, indicator.value), indicator)
    return sorted(unique.values(), key=lambda i: KINDS.index(i.kind))


# --- the mass-mailed "I hacked your device" email --------------------------------------------

_TEMPLATE_SIGNS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\b(?:malware|trojan|virus|spyware|rat|keylogger|exploit)\b",
        r"\b(?:hacked|access to|infected|took control of) (?:your|ur) "
        r"(?:device|computer|phone|system|email|account|webcam|camera)",
        r"\b(?:dual|split)[- ]screen\b",
        r"\brecorded (?:you|a video)",
        r"\b(?:porn|adult|xxx) ?(?:site|website|video)s?\b|\bpornograph",
        r"\byour password(?: is)?\b|\bi know your password\b",
        r"\b(?:bitcoin|btc)\b",
        r"\b(?:24|48|72) hours?\b",
        r"\b(?:contacts|friends|family|colleagues)\b",
        r"\b(?:do not|don'?t) (?:reply|respond|try|contact)|\bpixel\b",
    )
]


def looks_like_mass_phishing(text: str) -> bool:
    """The well-known mass-mailed sextortion email: at least four of its hallmarks."""
    return sum(bool(sign.search(text)) for sign in _TEMPLATE_SIGNS) >= 4
