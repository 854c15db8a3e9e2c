"""Keys and encryption at rest.

One secret (SUPPORTBOT_SECRET_KEY, or a generated key file) is stretched with HKDF into separate
subkeys, so that the key that seals stored text is never the one that derives conversation ids.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12
KEY_FILE = "secret.key"


def load_or_create_secret(configured: str, data_dir: Path) -> bytes:
    """The configured secret, or the one in the data dir (created with mode 0600 on first run)."""
    if configured:
        return configured.encode("utf-8")
    path = data_dir / KEY_FILE
    if path.exists():
        return path.read_bytes().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = base64.urlsafe_b64encode(secrets.token_bytes(32))
    # O_EXCL: two processes starting at once must not each write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(key + b"\n")
    return key


def _derive(secret: bytes, purpose: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"supportbot/v1", info=purpose.encode()
    ).derive(secret)


class Sealer:
    """AES-256-GCM with a fresh random nonce per value; `context` binds a blob to its row."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, context: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def open(self, blob: bytes, context: str) -> bytes:
        return self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode())


class Keyring:
    """Every key the service uses, derived from one secret."""

    def __init__(self, secret: bytes) -> None:
        self.store = Sealer(_derive(secret, "store"))
        self.evidence = Sealer(_derive(secret, "evidence"))
        self._ids = _derive(secret, "conversation-ids")
        self.webhook_key = _derive(secret, "telegram-webhook")

    def conversation_id(self, conversation_key: str) -> str:
        """A stable id that does not reveal the chat it belongs to (no raw chat ids in the DB)."""
        digest = hmac.new(self._ids, conversation_key.encode(), hashlib.sha256).hexdigest()
        return digest[:32]

    @classmethod
    def for_testing(cls) -> Keyring:
        return cls(b"test-secret-not-for-production")
