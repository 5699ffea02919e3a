"""How stored passwords are hashed: Argon2id at the cost the settings give."""

from __future__ import annotations

from fastapi_users.password import PasswordHelper
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

from controlplane.settings import Settings


def password_helper(settings: Settings) -> PasswordHelper:
    """fastapi-users' own choice (Argon2id for new hashes, bcrypt hashes still verified), with
    the Argon2 cost from the settings. A stored hash carries its own parameters, so hashes made
    at another cost (or with bcrypt) still verify, and are re-hashed at this one on the next
    sign-in."""
    hasher = Argon2Hasher(
        time_cost=settings.PASSWORD_HASH_TIME_COST,
        memory_cost=settings.PASSWORD_HASH_MEMORY_KIB,
    )
    return PasswordHelper(PasswordHash((hasher, BcryptHasher())))
