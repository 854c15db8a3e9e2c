"""Indicator extraction: every kind, valid and invalid (bad checksum or malformed)."""

from __future__ import annotations

import pytest

from bot.evidence.indicators import Indicator, extract, looks_like_mass_phishing


def _found(text: str, kind: str) -> list[str]:
    return [i.value for i in extract(text) if i.kind == kind]


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [
        ("email", "write to jess.loves@example.org now", "jess.loves@example.org"),
        ("phone", "text me on 07911 123456", "+447911123456"),
        ("phone", "call +1 415 555 2671", "+14155552671"),
        ("url", "see https://leaks.example/jess?id=3.", "https://leaks.example/jess?id=3"),
        ("url", "it's on instagram.com/fake.jess", "instagram.com/fake.jess"),
        ("handle", "her snap is @fake.jess99", "snap: fake.jess99"),
        ("handle", "message @fake.jess99 first", "@fake.jess99"),
        ("handle", "snapchat username: jessxo", "snapchat: jessxo"),
        (
            "bitcoin",
            "send to 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
            "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
        ),
        (
            "bitcoin",
            "wallet 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
            "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
        ),
        (
            "bitcoin",
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4 ok",
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
        ),
        (
            "bitcoin",
            "taproot bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
        ),
        (
            "ethereum",
            "eth 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        ),
        (
            "ethereum",
            "eth 0x52908400098527886e0f7030069857d2e4169ee7",
            "0x52908400098527886e0f7030069857d2e4169ee7",
        ),
        ("iban", "pay GB82 WEST 1234 5698 7654 32 today", "GB82WEST12345698765432"),
        ("iban", "or DE89370400440532013000", "DE89370400440532013000"),
        ("uk_bank", "sort code 12-34-56 account 12345678", "12-34-56 12345678"),
        ("mtcn", "Western Union MTCN 123-456-7890", "1234567890"),
        ("amount", "they want £500 now", "£500"),
        ("amount", "pay $1,200", "$1,200"),
        ("amount", "send 0.05 BTC", "0.05 BTC"),
        ("amount", "300 euros", "300 euros"),
        ("deadline", "you have 48 hours", "you have 48 hours"),
        ("deadline", "pay by tomorrow or else", "by tomorrow"),
    ],
)
def test_valid(kind: str, text: str, value: str) -> None:
    assert _found(text, kind) == [value]


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("email", "write to jess.loves@example"),
        ("phone", "text me on +44 7911 12345"),  # one digit short
        ("phone", "order number 12345"),
        ("url", "it's at leaks dot example"),
        ("handle", "jess.loves@example.org"),  # the email's name is not a handle
        ("bitcoin", "send to 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3"),  # base58check fails
        ("bitcoin", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5"),  # bech32 checksum fails
        ("bitcoin", "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj1"),  # bech32m
        ("bitcoin", "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4bc"),
        ("ethereum", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"),  # EIP-55 case wrong
        ("ethereum", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeA"),  # too short
        ("iban", "pay GB82 WEST 1234 5698 7654 33"),  # mod-97 fails
        ("iban", "DE89370400440532013001"),
        ("uk_bank", "sort code 12-34-56 account 1234567"),  # account needs 8 digits
        ("mtcn", "my number is 1234567890"),  # ten digits alone are not a transfer number
        ("mtcn", "Western Union MTCN 123-456-789"),
        ("amount", "I'm 500 miles away"),
        ("deadline", "in the morning"),
    ],
)
def test_invalid(kind: str, text: str) -> None:
    assert _found(text, kind) == []


EXTORTION_EMAIL = """\
Subject: Your account has been hacked - security notice

Hello!

I am a hacker who has access to your operating system. I installed a Trojan on your device \
while you were visiting adult websites, and my software recorded you through your webcam with \
dual-screen: one side shows what you were watching, the other shows you.

Your password is: Sunshine2019

I will send this video to all your contacts, friends and family unless you pay $1,350 USD in \
Bitcoin to my wallet: bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4

You have 48 hours. I get a notification when you read this email (pixel). Do not reply - this \
address was generated automatically. For questions: support.crew@proton-mail.example.com
"""


def test_a_pasted_extortion_email() -> None:
    found = extract(EXTORTION_EMAIL)
    assert Indicator("bitcoin", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4") in found
    assert Indicator("email", "support.crew@proton-mail.example.com") in found
    assert Indicator("amount", "$1,350") in found
    assert Indicator("deadline", "You have 48 hours") in found
    assert looks_like_mass_phishing(EXTORTION_EMAIL)


def test_an_ordinary_message_is_not_the_template() -> None:
    assert not looks_like_mass_phishing(
        "A girl on Instagram video called me and now says she'll send it to my friends."
    )
