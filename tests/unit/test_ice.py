"""ICE servers and TURN REST credentials."""

import base64
import hashlib
import hmac

from controlplane.rooms.ice import ice_servers, turn_credentials
from controlplane.rooms.turn_urls import turn_urls
from tests.support.backends import make_settings


def test_turn_credentials_follow_the_turn_rest_scheme():
    username, credential = turn_credentials(secret="s3cret", user="u1", expiry=1700000000)
    assert username == "1700000000:u1"
    expected = base64.b64encode(hmac.new(b"s3cret", b"1700000000:u1", hashlib.sha1).digest())
    assert credential == expected.decode()


def test_ice_servers_from_settings():
    s = make_settings(
        STUN_URLS="stun:stun.example.org:3478",
        TURN_URLS="turn:turn.example.org:3478?transport=udp,turns:turn.example.org:5349",
        TURN_SECRET="shh",
        TURN_TTL_SECONDS=600,
    )
    servers = ice_servers(s, user="u1", now=1000.5)
    assert servers[0] == {"urls": ["stun:stun.example.org:3478"]}
    assert servers[1]["urls"] == [
        "turn:turn.example.org:3478?transport=udp",
        "turns:turn.example.org:5349",
        "turn:turn.example.org:3478?transport=tcp",
    ]
    assert servers[1]["username"] == "1600:u1"
    assert servers[1]["credential"] == turn_credentials(secret="shh", user="u1", expiry=1600)[1]


def test_no_turn_without_a_secret():
    s = make_settings(TURN_URLS="turn:turn.example.org")
    assert ice_servers(s, user="u", now=0) == []


def test_turn_over_tcp_and_tls_for_viewers_whose_udp_is_blocked():
    s = make_settings(
        TURN_URLS="turn:turn.example.org:3478?transport=udp", TURN_SECRET="shh", TURN_TLS_PORT=443
    )
    assert ice_servers(s, user="u1", now=0)[0]["urls"] == [
        "turn:turn.example.org:3478?transport=udp",
        "turn:turn.example.org:3478?transport=tcp",
        "turns:turn.example.org:443?transport=tcp",
    ]
    off = make_settings(TURN_URLS="turn:turn.example.org:3478", TURN_SECRET="shh", TURN_TCP=False)
    assert ice_servers(off, user="u1", now=0)[0]["urls"] == ["turn:turn.example.org:3478"]


def test_turn_url_twins():
    # A bare host gets the default port; a listed TCP twin is not repeated; IPv6 literals keep
    # their brackets; one TLS URL per host however many ports; other schemes pass through.
    assert turn_urls(["turn:a.example"], tcp=True, tls_port=None) == [
        "turn:a.example",
        "turn:a.example:3478?transport=tcp",
    ]
    listed = ["turn:a.example:3478?transport=udp", "turn:a.example:3478?transport=tcp"]
    assert turn_urls(listed, tcp=True, tls_port=None) == listed
    assert turn_urls(["turn:[2001:db8::1]:3479"], tcp=True, tls_port=5349) == [
        "turn:[2001:db8::1]:3479",
        "turn:[2001:db8::1]:3479?transport=tcp",
        "turns:[2001:db8::1]:5349?transport=tcp",
    ]
    two_ports = ["turn:a.example:3478", "turn:a.example:3479"]
    assert turn_urls(two_ports, tcp=False, tls_port=443) == [
        *two_ports,
        "turns:a.example:443?transport=tcp",
    ]
    assert turn_urls(["turns:b.example", "stun:c", "turn:"], tcp=True, tls_port=None) == [
        "turns:b.example",
        "stun:c",
        "turn:",
    ]
