"""The keys rate limits count under: login names and client addresses (pure)."""

from __future__ import annotations

import ipaddress

import pytest

from controlplane.auth.identity import client_address, login_identity


@pytest.mark.parametrize("raw", ["alice", " alice", "ALICE ", "\talice\n", "Alice"])
def test_every_spelling_of_one_login_is_one_key(raw):
    assert login_identity(raw) == "alice"


def test_e_mails_are_case_folded_too():
    assert login_identity(" Ann@Example.COM ") == "ann@example.com"


@pytest.mark.parametrize(
    ("header", "hops", "want"),
    [
        (None, 1, "10.0.0.9"),  # no header: the peer
        ("198.51.100.1", 1, "198.51.100.1"),
        # the client prepended a spoofed entry: the proxy's own entry (right-most) wins
        ("1.2.3.4, 198.51.100.1", 1, "198.51.100.1"),
        # two proxies: the outer one appended the client, the inner one the outer proxy
        ("1.2.3.4, 198.51.100.1, 10.0.0.2", 2, "198.51.100.1"),
        ("198.51.100.1", 3, "198.51.100.1"),  # fewer entries than hops: the left-most
        (" , ", 1, "10.0.0.9"),
    ],
)
def test_client_address_is_the_right_most_untrusted_hop(header, hops, want):
    got = client_address(
        forwarded_for=header, peer="10.0.0.9", trusted_hops=hops, trusted_proxies=PROXIES
    )
    assert got == want


PROXIES = [ipaddress.ip_network("10.0.0.0/24"), ipaddress.ip_network("fd00:1::/64")]


@pytest.mark.parametrize(
    ("peer", "believed"),
    [
        ("10.0.0.9", True),
        ("::ffff:10.0.0.9", True),  # a dual-stack socket's view of the same proxy
        ("fd00:1::7", True),
        ("10.0.1.9", False),  # next to the proxies, not one of them
        ("203.0.113.5", False),
        ("fd00:2::7", False),
        ("unknown", False),  # no address (a Unix socket, a test client without one)
    ],
)
def test_forwarded_for_is_believed_only_from_a_trusted_proxy(peer, believed):
    """Issue 19 #12: from any other peer the header is what that client chose to write."""
    got = client_address(
        forwarded_for="198.51.100.1", peer=peer, trusted_hops=1, trusted_proxies=PROXIES
    )
    assert got == ("198.51.100.1" if believed else peer)
