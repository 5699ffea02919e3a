"""A user's saved browser profile, sealed at rest (pure: no I/O).

Each profile gets its own random 256-bit data key; the profile (its JSON, zlib-compressed) is
encrypted with it by AES-256-GCM, and the data key is itself wrapped (AES-256-GCM) by a key
derived with HKDF-SHA256 from the server secret `PROFILE_SECRET_KEY`. Both encryptions take the
owner's user id as associated data, so a blob copied into another user's row does not open.
Chromium on Linux without a keyring encrypts cookie values with a fixed, public key, so the
archive itself is what protects them.

The sealed form: b"WPP1" | key nonce (12) | wrapped key (32 + 16 tag) | data nonce (12) |
ciphertext (+ 16 tag). Anything else, or anything that does not authenticate, is refused with
`ProfileRefused("profile_corrupt")`; a profile larger than the cap, with
`ProfileRefused("profile_too_large")`.
"""

from __future__ import annotations

import os
import uuid
import zlib

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"WPP1"
NONCE = 12
KEY = 32
TAG = 16
HEADER = len(MAGIC) + NONCE + KEY + TAG + NONCE
KEK_INFO = b"watchparty browser profile key-wrapping key v1"


class ProfileRefused(ValueError):
    """A profile that is not loaded or stored; `code` is stable, `detail` for people."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def wrapping_key(secret: str) -> bytes:
    """The key-wrapping key: HKDF-SHA256 of the server secret (no salt: the secret is random)."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY, salt=None, info=KEK_INFO).derive(
        secret.encode()
    )


def _aad(user_id: uuid.UUID, part: bytes) -> bytes:
    return MAGIC + part + user_id.bytes


def seal(secret: str, user_id: uuid.UUID, plaintext: bytes, *, max_bytes: int) -> bytes:
    """The sealed blob of `plaintext` (the profile's JSON) for `user_id`."""
    if len(plaintext) > max_bytes:
        raise ProfileRefused(
            "profile_too_large",
            f"The browser profile is {len(plaintext)} bytes; at most {max_bytes} are kept",
        )
    data_key = AESGCM.generate_key(bit_length=256)
    key_nonce, data_nonce = os.urandom(NONCE), os.urandom(NONCE)
    wrapped = AESGCM(wrapping_key(secret)).encrypt(key_nonce, data_key, _aad(user_id, b"key"))
    body = AESGCM(data_key).encrypt(data_nonce, zlib.compress(plaintext, 6), _aad(user_id, b"data"))
    return MAGIC + key_nonce + wrapped + data_nonce + body


def open_sealed(secret: str, user_id: uuid.UUID, sealed: bytes, *, max_bytes: int) -> bytes:
    """The profile's JSON from its sealed blob, or `ProfileRefused`."""
    corrupt = ProfileRefused(
        "profile_corrupt", "The saved browser profile is damaged and was not loaded"
    )
    if len(sealed) < HEADER + TAG or not sealed.startswith(MAGIC):
        raise corrupt
    at = len(MAGIC)
    key_nonce = sealed[at : at + NONCE]
    wrapped = sealed[at + NONCE : at + NONCE + KEY + TAG]
    data_nonce = sealed[at + NONCE + KEY + TAG : HEADER]
    try:
        data_key = AESGCM(wrapping_key(secret)).decrypt(key_nonce, wrapped, _aad(user_id, b"key"))
        packed = AESGCM(data_key).decrypt(data_nonce, sealed[HEADER:], _aad(user_id, b"data"))
    except InvalidTag:
        raise corrupt from None
    # Decompressed at most one byte past the cap: a small blob cannot inflate into a huge one.
    inflater = zlib.decompressobj()
    try:
        plaintext = inflater.decompress(packed, max_bytes + 1)
    except zlib.error:
        raise corrupt from None
    if len(plaintext) > max_bytes or inflater.unconsumed_tail:
        raise ProfileRefused(
            "profile_too_large",
            f"The saved browser profile is larger than {max_bytes} bytes and was not loaded",
        )
    return plaintext
