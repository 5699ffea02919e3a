"""coturn's hardened policy (controlplane/deploy_policy.py): the files Compose and the chart use are
the generated ones, they deny every range room browsers may not reach, and a real coturn started
with them refuses relays to private addresses while relaying to a public-range peer."""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aioice import stun

from controlplane import deploy_policy as turn_config
from controlplane.runtime.egress import BLOCKED_IPV4, BLOCKED_IPV6
from tests.support.netns import netns_host
from tests.support.smtp import free_port
from tests.support.turn_client import TurnClient, TurnError, rest_credentials

SECRET = "turn-policy-secret-0123456789abcdef"
LINK_NET = "10.250.91."  # veth link: host .1 (coturn listens and relays here), namespace .2
PUBLIC_PEER = "198.51.100.91"  # a public-range address that exists only in the namespace
ROOT = Path(__file__).resolve().parents[2]


def conf_lines() -> list[str]:
    return [line for line in turn_config.render().splitlines() if line and line[0] != "#"]


def test_generated_files_are_current():
    for target, make in turn_config.GENERATED.items():
        assert target.read_text() == make(), (
            f"{target} is stale: python -m controlplane.deploy_policy --write"
        )


def test_every_blocked_range_is_a_denied_peer_range():
    denied = []
    for line in conf_lines():
        if line.startswith("denied-peer-ip="):
            first, last = line.split("=", 1)[1].split("-")
            denied.append((ipaddress.ip_address(first), ipaddress.ip_address(last)))
    for cidr in (*BLOCKED_IPV4, *BLOCKED_IPV6):
        net = ipaddress.ip_network(cidr)
        assert (net.network_address, net.broadcast_address) in denied, cidr
    probes = [
        "10.1.2.3",
        "172.20.0.1",
        "192.168.1.1",
        "127.0.0.1",
        "169.254.169.254",
        "100.100.100.200",
        "fd00:ec2::254",
        "::1",
        "fe80::1",
        "::ffff:10.0.0.1",
    ]
    for probe in probes:
        ip = ipaddress.ip_address(probe)
        assert any(f <= ip <= last for f, last in denied if f.version == ip.version), probe


def test_hardening_directives():
    lines = set(conf_lines())
    for directive in (
        "use-auth-secret",
        "no-tcp-relay",
        "no-multicast-peers",
        "no-cli",
        "fingerprint",
        "no-tls",
        "no-dtls",
    ):
        assert directive in lines, directive
    assert f"user-quota={turn_config.USER_QUOTA}" in lines
    assert f"total-quota={turn_config.TOTAL_QUOTA}" in lines
    # Per-deployment values are appended at start, never baked in.
    assert not any(
        line.startswith(("static-auth-secret", "allowed-peer-ip", "realm")) for line in lines
    )


UDP_ECHO = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
print("ready", flush=True)
while True:
    data, addr = s.recvfrom(2048)
    s.sendto(b"echo:" + data, addr)
"""


@pytest.fixture
def public_peer() -> Iterator[int]:
    """A UDP echo at PUBLIC_PEER in a network namespace routed via this host."""
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.skip("network namespaces need root")
    with netns_host(name="wpturnpol", link_net=LINK_NET, addresses=(PUBLIC_PEER,), port=18091):
        port = 18092
        echo = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                "wpturnpol",
                sys.executable,
                "-c",
                UDP_ECHO,
                PUBLIC_PEER,
                str(port),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert echo.stdout is not None and echo.stdout.readline().strip() == "ready"
            yield port
        finally:
            echo.terminate()
            echo.wait(5)


@pytest.fixture
def coturn(tmp_path: Path, public_peer: int) -> Iterator[tuple[str, int]]:
    """A real coturn with the generated policy, on the veth's host address."""
    if not shutil.which("turnserver"):
        pytest.skip("coturn is not installed")
    conf = tmp_path / "turnserver.conf"
    port = free_port()
    conf.write_text(
        turn_config.render()
        + f"static-auth-secret={SECRET}\nrealm=watchparty.test\nlistening-port={port}\n"
        + f"listening-ip={LINK_NET}1\nrelay-ip={LINK_NET}1\nmin-port=49860\nmax-port=49869\n"
        + f"userdb={tmp_path / 'turndb'}\npidfile={tmp_path / 'turn.pid'}\n"
    )
    log = tmp_path / "coturn.log"
    proc = subprocess.Popen(
        ["turnserver", "-c", str(conf)], stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    try:
        time.sleep(1)
        assert proc.poll() is None, log.read_text()
        yield f"{LINK_NET}1", port
    finally:
        proc.terminate()
        proc.wait(10)


def test_relay_refuses_private_peers_and_relays_to_a_public_one(coturn, public_peer):
    host, port = coturn
    client = TurnClient((host, port), *rest_credentials(SECRET, "user-1"))
    try:
        relayed = client.allocate()
        assert relayed[0] == host
        # The namespace's own private address answers too: refusing it is the policy, not luck.
        for private in (
            f"{LINK_NET}2",
            "10.0.0.1",
            "127.0.0.1",
            "169.254.169.254",
            "100.100.100.200",
            "172.16.0.1",
            "192.168.0.1",
            "224.0.0.1",
        ):
            with pytest.raises(TurnError) as refused:
                client.permit(private)
            assert refused.value.code == 403, private
        client.permit(PUBLIC_PEER)
        client.send((PUBLIC_PEER, public_peer), b"ping")
        peer, data = client.receive(within=5)
        assert peer == (PUBLIC_PEER, public_peer)
        assert data == b"echo:ping"
    finally:
        client.close()


def test_wrong_secret_gets_no_relay(coturn):
    host, port = coturn
    client = TurnClient((host, port), *rest_credentials("not-the-secret", "user-2"))
    try:
        with pytest.raises(TurnError) as refused:
            client.allocate()
        assert refused.value.code == 401
    finally:
        client.close()


def compose_coturn_script(tmp: Path) -> str:
    """The Compose stack's coturn entrypoint (docker-compose.yml), run outside a container: the
    mounted files at paths under `tmp`, `$$` as the shell sees it."""
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    script: str = compose["services"]["coturn"]["entrypoint"][-1]
    for inside, outside in (
        ("/etc/coturn/watchparty.conf", str(ROOT / "deploy/coturn/turnserver.conf")),
        ("/etc/coturn/tls/", f"{tmp}/tls/"),
        ("/tmp/turnserver.conf", f"{tmp}/turnserver.conf"),
        ("/tmp/turnserver.pid", f"{tmp}/turnserver.pid"),
    ):
        script = script.replace(inside, outside)
    return script.replace("$$", "$") + f" --userdb={tmp}/turndb"


def stun_binding_over(sock: socket.socket) -> stun.Message:
    """A STUN Binding request on a stream socket (TURN over TCP/TLS frames STUN as is)."""
    request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    sock.sendall(bytes(request))
    head = b""
    while len(head) < 20:
        head += sock.recv(20 - len(head))
    body = b""
    length = int.from_bytes(head[2:4], "big")
    while len(body) < length:
        body += sock.recv(length - len(body))
    return stun.parse_message(head + body)


@pytest.mark.parametrize("tls", [False, True])
def test_compose_coturn_listens_for_tls_only_with_a_tls_port(tmp_path: Path, tls: bool) -> None:
    """With TURN_TLS_PORT the Compose entrypoint drops `no-tls` and points coturn at the mounted
    certificate, and coturn answers STUN over TLS on that port; without it, no TLS listener."""
    if not shutil.which("turnserver") or not shutil.which("openssl"):
        pytest.skip("coturn or openssl is not installed")
    (tmp_path / "tls").mkdir()
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=turn.test", "-keyout", str(tmp_path / "tls/privkey.pem")),
            *("-out", str(tmp_path / "tls/fullchain.pem")),
        ],
        check=True,
        capture_output=True,
    )
    port, tls_port = free_port(), free_port()
    env = {
        **os.environ,
        "TURN_SECRET": SECRET,
        "TURN_REALM": "watchparty.test",
        "TURN_PORT": str(port),
        "TURN_MIN_PORT": "49900",
        "TURN_MAX_PORT": "49909",
        "TURN_EXTERNAL_IP": "",
        "TURN_ALLOWED_PEER_RANGES": "",
        "TURN_TLS_PORT": str(tls_port) if tls else "",
    }
    log = tmp_path / "coturn.log"
    proc = subprocess.Popen(
        ["sh", "-c", compose_coturn_script(tmp_path)],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 10
        while True:  # plain TCP on TURN_PORT first: coturn is up
            assert proc.poll() is None, log.read_text()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as plain:
                    assert stun_binding_over(plain).message_class == stun.Class.RESPONSE
                break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        conf = (tmp_path / "turnserver.conf").read_text().splitlines()
        assert ("no-tls" in conf) is not tls
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        if tls:
            with (
                socket.create_connection(("127.0.0.1", tls_port), timeout=3) as raw,
                context.wrap_socket(raw, server_hostname="turn.test") as secure,
            ):
                assert stun_binding_over(secure).message_class == stun.Class.RESPONSE
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
