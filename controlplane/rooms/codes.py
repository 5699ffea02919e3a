"""Room codes: short, unambiguous when read aloud or typed, and not guessable in sequence."""

from __future__ import annotations

import re
import secrets

# No 0/O, 1/l/I: letters and digits people confuse are left out. Lower-case only, so a code
# survives being typed on a phone; lookups normalise case.
ALPHABET = "23456789abcdefghijkmnpqrstuvwxyz"
LENGTH = 8  # 32**8 ~ 1.1e12 codes: not enumerable against the per-user rate limits
_CODE_RE = re.compile(rf"^[{ALPHABET}]{{{LENGTH}}}$")


def new_code(length: int = LENGTH) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def normalise(code: str) -> str:
    return code.strip().lower()


def is_valid(code: str) -> bool:
    return bool(_CODE_RE.match(normalise(code)))
