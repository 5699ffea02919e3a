"""Who is asking, as rate limits key it: the login name as the lookup reads it, and the client
address a trusted proxy saw. Pure: no I/O."""

from __future__ import annotations

ADDRESS_MAX = 64


def login_identity(raw: str) -> str:
    """The login name as both the account lookup and the per-account rate limit see it: trimmed
    and case-folded, so `" Alice"` and `"alice"` share one budget (usernames and e-mails are
    looked up case-insensitively)."""
    return raw.strip().lower()


def client_address(*, forwarded_for: str | None, peer: str, trusted_hops: int) -> str:
    """The client address behind `trusted_hops` proxies that each append to X-Forwarded-For.

    Every entry left of the ones our proxies wrote is whatever the client chose to send, so the
    client is the right-most entry the outermost trusted proxy appended: the `trusted_hops`-th
    from the right. With no header (or `trusted_hops` 0) it is the socket's peer; with fewer
    entries than hops (a misconfigured count), the left-most, still written by a trusted proxy.
    """
    if trusted_hops <= 0 or not forwarded_for:
        return peer
    hops = [part.strip() for part in forwarded_for.split(",") if part.strip()]
    if not hops:
        return peer
    return hops[-min(trusted_hops, len(hops))][:ADDRESS_MAX]
