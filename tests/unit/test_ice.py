"""ICE servers and TURN REST credentials."""

import base64
import hashlib
import hmac

from controlplane.rooms.ice import ice_servers, turn_credentials
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
    ]
    assert servers[1]["username"] == "1600:u1"
    assert servers[1]["credential"] == turn_credentials(secret="shh", user="u1", expiry=1600)[1]


def test_no_turn_without_a_secret():
    s = make_settings(TURN_URLS="turn:turn.example.org")
    assert ice_servers(s, user="u", now=0) == []
