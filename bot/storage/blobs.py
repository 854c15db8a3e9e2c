"""Encrypted evidence files on disk, one per item.

Each item gets its own random key; the key is stored only wrapped (sealed with the evidence key)
in the item's database row. Deleting the row (with secure_delete on) destroys the key, so even a
copy of the file that the filesystem left behind can never be read again.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot.crypto import NONCE_BYTES, Sealer


class BlobStore:
    def __init__(self, directory: Path, wrapper: Sealer) -> None:
        self.directory = directory
        self.wrapper = wrapper

    def path(self, item_id: str) -> Path:
        if not item_id.isalnum():  # ids are ours (hex), never a path from outside
            raise ValueError("bad evidence id")
        return self.directory / f"{item_id}.bin"

    def seal(self, item_id: str, data: bytes) -> tuple[bytes, bytes]:
        """(wrapped key, encrypted file contents)."""
        key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(NONCE_BYTES)
        blob = nonce + AESGCM(key).encrypt(nonce, data, item_id.encode())
        return self.wrapper.seal(key, f"e:{item_id}"), blob

    def write(self, item_id: str, blob: bytes) -> None:
        """Write and fsync, so a committed row never points at a file lost in a crash. A write
        that fails (a full disk, an I/O error) leaves nothing behind, not even part of a file."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self.path(item_id).with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            try:
                view = memoryview(blob)
                while view:  # os.write may write less than asked (a nearly full disk)
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temporary, self.path(item_id))
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise

    def read(self, item_id: str, wrapped_key: bytes) -> bytes:
        key = self.wrapper.open(wrapped_key, f"e:{item_id}")
        blob = self.path(item_id).read_bytes()
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], item_id.encode())

    def remove(self, item_id: str) -> None:
        self.path(item_id).unlink(missing_ok=True)

    def stored_ids(self) -> set[str]:
        if not self.directory.exists():
            return set()
        return {path.stem for path in self.directory.iterdir() if path.suffix in (".bin", ".tmp")}
