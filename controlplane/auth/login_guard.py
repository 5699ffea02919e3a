"""Who may try a password how often: the login limits' keys, and the device cookie that lets an
account's owner past a stranger's guessing. Pure: no I/O.

The policy (docs/architecture.md, "Login limits"). Guessing is bounded three ways, each a
fixed window of a minute: per client address across accounts, per account *and* address, and
per account across addresses (the last two are what the guesser spends). None of them is keyed
on the account alone at the owner's own budget, so a stranger's wrong passwords lock out only
the stranger's address: the owner signs in from any other address. Only guessing from many
addresses at once (past the per-account total, `IP_MULTIPLIER` times the per-address one) holds
back new addresses, and even then a browser the owner signed in with before still gets in: its
device cookie (`wp_device`, an HMAC over the user, a random device id and the user's current
password hash, so a password change or reset revokes every device) takes the request off
the address and account budgets onto a budget of its own device, which a stranger cannot spend.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

DEVICE_COOKIE = "wp_device"
# The cookie is sent to the login route only; a year: it names a browser, not a session.
DEVICE_COOKIE_PATH = "/api/auth/login"
DEVICE_COOKIE_MAX_AGE_S = 365 * 24 * 3600
_MAX_TOKEN = 200


@dataclass(frozen=True)
class Device:
    user_id: uuid.UUID
    device_id: str


def _mac(secret_key: str, user_id: uuid.UUID, device_id: str, credential: str) -> str:
    # `credential` (the stored password hash) ties the cookie to the password it was earned with.
    msg = f"login-device.{user_id}.{device_id}.{credential}".encode()
    digest = hmac.new(secret_key.encode(), msg, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def new_device(user_id: uuid.UUID) -> Device:
    return Device(user_id=user_id, device_id=secrets.token_urlsafe(16))


def device_token(secret_key: str, device: Device, credential: str) -> str:
    mac = _mac(secret_key, device.user_id, device.device_id, credential)
    return f"{device.user_id}.{device.device_id}.{mac}"


def read_device(
    secret_key: str, token: str | None, user_id: uuid.UUID, credential: str
) -> Device | None:
    """The device a cookie names when this server signed it for `user_id` with the password
    hash `credential` it has now, else None."""
    if not token or len(token) > _MAX_TOKEN:
        return None
    parts = token.split(".")
    if len(parts) != 3:
        return None
    uid, device_id, mac = parts
    if uid != str(user_id) or not device_id:
        return None
    if not hmac.compare_digest(mac, _mac(secret_key, user_id, device_id, credential)):
        return None
    return Device(user_id=user_id, device_id=device_id)


def login_budgets(
    *, ident: str, ip: str, device: Device | None, per_minute: int, ip_multiplier: int
) -> list[tuple[str, int]]:
    """The rate-limit keys one login attempt spends, in order, each with its limit per minute.

    `device` is the request's device cookie when it names the account being signed in to (the
    caller checks that): the attempt then spends that device's budget only. Otherwise the
    address's budget across accounts, this account's from this address, and this account's
    across addresses; a caller stops at the first one spent, so an address refused for an
    account no longer counts towards that account's total."""
    if device is not None:
        return [(f"login:dev:{device.device_id}", per_minute)]
    return [
        (f"login:ip:{ip}", per_minute * ip_multiplier),
        (f"login:acct:{ident}:ip:{ip}", per_minute),
        (f"login:acct:{ident}", per_minute * ip_multiplier),
    ]
