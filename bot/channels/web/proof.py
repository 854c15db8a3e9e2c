"""Binding a widget session to the browser that started it.

The widget makes an ECDSA P-256 key pair with WebCrypto when a session starts and keeps the
private half in the tab's sessionStorage (never sent anywhere). The server keeps the public half.
Every connection starts with a fresh server nonce that the widget signs, so the session token
alone (which travels in frames) opens nothing, and a recorded frame cannot be replayed.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

RAW_PUBLIC_KEY_BYTES = 65  # 0x04 || X || Y
RAW_SIGNATURE_BYTES = 64  # WebCrypto's r || s


def b64decode(value: object, limit: int = 256) -> bytes | None:
    if not isinstance(value, str) or len(value) > limit:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def public_key(raw: bytes | None) -> ec.EllipticCurvePublicKey | None:
    if raw is None or len(raw) != RAW_PUBLIC_KEY_BYTES:
        return None
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError:
        return None


def verify(raw_key: bytes, signature: bytes | None, message: str) -> bool:
    """True when `signature` (WebCrypto ECDSA/SHA-256, raw r||s) signs `message` under the key."""
    key = public_key(raw_key)
    if key is None or signature is None or len(signature) != RAW_SIGNATURE_BYTES:
        return False
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    try:
        key.verify(utils.encode_dss_signature(r, s), message.encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def connect_message(nonce: str) -> str:
    return f"supportbot:connect:{nonce}"


def forget_message(token: str) -> str:
    return f"supportbot:forget:{token}"
