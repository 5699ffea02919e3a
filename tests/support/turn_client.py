"""A minimal TURN (RFC 8656) client over UDP for policy tests: allocate with TURN REST
credentials, ask for a permission to a peer, send to it and read what comes back. Built on
aioice's STUN message codec; blocking sockets, one request at a time. And `policy_coturn`: a
real coturn with the deployment's generated policy, for tests and benches that relay media."""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aioice import stun
from aioice.turn import make_integrity_key

# REQUESTED-ADDRESS-FAMILY (RFC 6156), which aioice's codec lacks: an IPv6 relay (to ask coturn
# about IPv6 peers) is requested with family 0x02 in the attribute's first byte.
if "REQUESTED-ADDRESS-FAMILY" not in stun.ATTRIBUTES_BY_NAME:
    _family = (0x0017, "REQUESTED-ADDRESS-FAMILY", stun.pack_unsigned, stun.unpack_unsigned)
    stun.ATTRIBUTES_BY_TYPE[0x0017] = _family
    stun.ATTRIBUTES_BY_NAME["REQUESTED-ADDRESS-FAMILY"] = _family

from controlplane import deploy_policy


@contextmanager
def policy_coturn(
    tmp: Path,
    *,
    ip: str,
    port: int,
    secret: str,
    allowed_peers: tuple[str, ...] = (),
    relay_ports: tuple[int, int] = (49870, 49899),
) -> Iterator[str]:
    """coturn with the generated policy (deploy/coturn/turnserver.conf) listening on `ip:port`
    (UDP and TCP) and relaying from `ip`; `allowed_peers` (`first-last` ranges) are private
    addresses it may relay to anyway, as a deployment appends the rooms' range. Yields the
    `turn:` URL (UDP) to configure as TURN_URLS; stopped on exit."""
    conf = tmp / f"turnserver-{port}.conf"
    conf.write_text(
        deploy_policy.render()
        + f"static-auth-secret={secret}\nrealm=watchparty.test\nlistening-port={port}\n"
        + f"listening-ip={ip}\nrelay-ip={ip}\nmin-port={relay_ports[0]}\n"
        + f"max-port={relay_ports[1]}\nuserdb={tmp / f'turndb-{port}'}\n"
        + f"pidfile={tmp / f'turn-{port}.pid'}\n"
        + "".join(f"allowed-peer-ip={r}\n" for r in allowed_peers)
    )
    log = tmp / f"coturn-{port}.log"
    proc = subprocess.Popen(
        ["turnserver", "-c", str(conf)], stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 10
        while True:  # ready when its TCP listener takes connections
            assert proc.poll() is None, log.read_text()
            try:
                socket.create_connection((ip, port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        yield f"turn:{ip}:{port}?transport=udp"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def rest_credentials(secret: str, user: str, ttl: int = 600) -> tuple[str, str]:
    """What the control plane hands out: `<expiry>:<user>`, base64(HMAC-SHA1(secret, name))."""
    username = f"{int(time.time()) + ttl}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


class TurnError(AssertionError):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"TURN error {code} {reason}")
        self.code = code


class TurnClient:
    def __init__(self, server: tuple[str, int], username: str, password: str) -> None:
        self.server = server
        self.username = username
        self.password = password
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(3)
        self.realm = ""
        self.nonce = b""
        self.key = b""
        self.relayed: tuple[str, int] | None = None

    def close(self) -> None:
        self.sock.close()

    def _exchange(self, request: stun.Message) -> stun.Message:
        self.sock.sendto(bytes(request), self.server)
        while True:
            data, _ = self.sock.recvfrom(65536)
            response = stun.parse_message(data)
            if response.transaction_id == request.transaction_id:
                return response

    def _signed(self, method: stun.Method, **attributes: object) -> stun.Message:
        request = stun.Message(message_method=method, message_class=stun.Class.REQUEST)
        request.attributes.update(attributes)
        request.attributes["USERNAME"] = self.username
        request.attributes["REALM"] = self.realm
        request.attributes["NONCE"] = self.nonce
        request.add_message_integrity(self.key)
        return request

    def _request(self, method: stun.Method, **attributes: object) -> stun.Message:
        response = self._exchange(self._signed(method, **attributes))
        if response.message_class == stun.Class.ERROR:
            code, reason = response.attributes["ERROR-CODE"]
            raise TurnError(code, reason)
        return response

    def allocate(self, *, ipv6: bool = False) -> tuple[str, int]:
        """Allocate a UDP relay (an IPv6 one with `ipv6`); answers the server's 401 challenge
        (realm, nonce) first."""
        wanted: dict[str, object] = {"REQUESTED-TRANSPORT": 17 << 24}
        if ipv6:
            wanted["REQUESTED-ADDRESS-FAMILY"] = 0x02 << 24
        probe = stun.Message(message_method=stun.Method.ALLOCATE, message_class=stun.Class.REQUEST)
        probe.attributes.update(wanted)
        challenge = self._exchange(probe)
        assert challenge.message_class == stun.Class.ERROR, challenge
        assert challenge.attributes["ERROR-CODE"][0] == 401, challenge
        self.realm = challenge.attributes["REALM"]
        self.nonce = challenge.attributes["NONCE"]
        self.key = make_integrity_key(self.username, self.realm, self.password)
        response = self._request(stun.Method.ALLOCATE, **wanted)
        relayed = response.attributes["XOR-RELAYED-ADDRESS"]
        self.relayed = (relayed[0], relayed[1])
        return self.relayed

    def permit(self, peer: str) -> None:
        """CreatePermission for `peer` (raises TurnError, e.g. 403, when refused)."""
        self._request(stun.Method.CREATE_PERMISSION, **{"XOR-PEER-ADDRESS": (peer, 0)})

    def send(self, peer: tuple[str, int], data: bytes) -> None:
        indication = stun.Message(
            message_method=stun.Method.SEND, message_class=stun.Class.INDICATION
        )
        indication.attributes["XOR-PEER-ADDRESS"] = peer
        indication.attributes["DATA"] = data
        self.sock.sendto(bytes(indication), self.server)

    def receive(self, within: float = 5) -> tuple[tuple[str, int], bytes]:
        """The next Data indication: (peer, payload)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            try:
                data, _ = self.sock.recvfrom(65536)
            except TimeoutError:
                continue
            message = stun.parse_message(data)
            if message.message_method == stun.Method.DATA:
                peer = message.attributes["XOR-PEER-ADDRESS"]
                return (peer[0], peer[1]), message.attributes["DATA"]
        raise AssertionError(f"no data from a peer within {within} s")
