"""Checksums that tell a real payment identifier from a typo: Bitcoin, Ethereum, IBAN."""

from __future__ import annotations

import hashlib

from Crypto.Hash import keccak

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32M_CONST = 0x2BC830A3


def base58check_ok(address: str) -> bool:
    """Legacy (1...) and script (3...) Bitcoin addresses: version byte + payload + 4-byte check."""
    number = 0
    for char in address:
        index = _BASE58.find(char)
        if index < 0:
            return False
        number = number * 58 + index
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    raw = b"\x00" * (len(address) - len(address.lstrip("1"))) + raw
    if len(raw) != 25 or raw[0] not in (0x00, 0x05):
        return False
    payload, check = raw[:-4], raw[-4:]
    return hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] == check


def _polymod(values: list[int]) -> int:
    generators = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for bit, generator in enumerate(generators):
            if (top >> bit) & 1:
                checksum ^= generator
    return checksum


def _convert_bits(data: list[int], source: int, target: int) -> list[int] | None:
    accumulator = bits = 0
    out = []
    for value in data:
        accumulator = (accumulator << source) | value
        bits += source
        while bits >= target:
            bits -= target
            out.append((accumulator >> bits) & ((1 << target) - 1))
    if bits >= source or (accumulator << (target - bits)) & ((1 << target) - 1):
        return None
    return out


def segwit_ok(address: str) -> bool:
    """bc1... addresses: bech32 for witness v0 (BIP 173), bech32m for v1+ (BIP 350)."""
    if address.lower() != address and address.upper() != address:
        return False
    address = address.lower()
    hrp, _, data_part = address.rpartition("1")
    if hrp != "bc" or len(data_part) < 7 or any(c not in _BECH32 for c in data_part):
        return False
    data = [_BECH32.index(c) for c in data_part]
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    constant = _polymod(expanded + data)
    version = data[0]
    if constant != (1 if version == 0 else _BECH32M_CONST):
        return False
    program = _convert_bits(data[1:-6], 5, 8)
    if program is None or not 2 <= len(program) <= 40 or version > 16:
        return False
    return not (version == 0 and len(program) not in (20, 32))


def bitcoin_ok(address: str) -> bool:
    if address.lower().startswith("bc1"):
        return segwit_ok(address)
    return address[:1] in ("1", "3") and base58check_ok(address)


def ethereum_ok(address: str) -> bool:
    """0x + 40 hex digits; mixed case must match the EIP-55 checksum."""
    body = address[2:]
    if not address.startswith("0x") or len(body) != 40:
        return False
    try:
        int(body, 16)
    except ValueError:
        return False
    if body.islower() or body.isupper():
        return True  # no checksum encoded
    digest = keccak.new(digest_bits=256, data=body.lower().encode()).hexdigest()
    return all(
        (char.upper() if int(digest[i], 16) >= 8 else char.lower()) == char
        for i, char in enumerate(body)
    )


# IBAN lengths for the countries money is most often sent to from the UK (ISO 13616 registry).
IBAN_LENGTHS = {
    "GB": 22,
    "IE": 22,
    "DE": 22,
    "FR": 27,
    "ES": 24,
    "IT": 27,
    "NL": 18,
    "BE": 16,
    "PT": 25,
    "PL": 28,
    "LT": 20,
    "LV": 21,
    "EE": 20,
    "RO": 24,
    "BG": 22,
    "CH": 21,
    "AT": 20,
    "SE": 24,
    "DK": 18,
    "NO": 15,
    "FI": 18,
    "GR": 27,
    "CY": 28,
    "MT": 31,
    "LU": 20,
    "HU": 28,
    "CZ": 24,
    "SK": 24,
    "SI": 19,
    "HR": 21,
    "TR": 26,
    "AE": 23,
    "SA": 24,
    "CI": 28,
    "NG": 0,
}


def iban_ok(iban: str) -> bool:
    compact = iban.replace(" ", "").upper()
    if len(compact) < 15 or len(compact) > 34 or not compact[:2].isalpha():
        return False
    if not compact[2:4].isdigit() or not compact.isalnum():
        return False
    expected = IBAN_LENGTHS.get(compact[:2])
    if expected is not None and expected != len(compact):
        return False
    rearranged = compact[4:] + compact[:4]
    digits = "".join(str(int(char, 36)) for char in rearranged)
    return int(digits) % 97 == 1
