"""coturn's hardened policy (controlplane/deploy_policy.py): the files Compose and the chart use are
the generated ones, they deny every range room browsers may not reach, and a real coturn started
with them refuses relays to private addresses while relaying to a public-range peer."""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from aioice import stun

from controlplane import deploy_policy as turn_config
from controlplane.runtime.egress import BLOCKED_IPV4, BLOCKED_IPV6
from tests.support.docker_image import REPO
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
        # `::` opens no coturn range (coturn reads it as "no lower bound"): `::1-...`
        first = net.network_address + (1 if str(net.network_address) == "::" else 0)
        assert (first, net.broadcast_address) in denied, cidr
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


@contextmanager
def running_coturn(
    tmp_path: Path, policy: str, *, host: str, ports: tuple[int, int], relay_ips: tuple[str, ...]
) -> Iterator[tuple[str, int]]:
    """A real coturn with `policy` (a whole turnserver.conf), listening on `host`, relaying from
    `relay_ips` on `ports`; its secret is SECRET. Later lines override the policy's own."""
    if not shutil.which("turnserver"):
        pytest.skip("coturn is not installed")
    conf = tmp_path / "turnserver.conf"
    port = free_port()
    conf.write_text(
        policy
        + f"\nstatic-auth-secret={SECRET}\nrealm=watchparty.test\nlistening-port={port}\n"
        + f"listening-ip={host}\n"
        + "".join(f"relay-ip={ip}\n" for ip in relay_ips)
        + f"min-port={ports[0]}\nmax-port={ports[1]}\n"
        + f"userdb={tmp_path / 'turndb'}\npidfile={tmp_path / 'turn.pid'}\n"
    )
    log = tmp_path / "coturn.log"
    proc = subprocess.Popen(
        ["turnserver", "-c", str(conf)], stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    try:
        time.sleep(1)
        assert proc.poll() is None, log.read_text()
        yield host, port
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def coturn(tmp_path: Path, public_peer: int) -> Iterator[tuple[str, int]]:
    """A real coturn with the generated policy, on the veth's host address."""
    with running_coturn(
        tmp_path, turn_config.render(), host=f"{LINK_NET}1", ports=(49860, 49869),
        relay_ips=(f"{LINK_NET}1",),
    ) as server:  # fmt: skip
        yield server


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


def permitted(client: TurnClient, peer: str) -> bool:
    """Whether coturn grants a permission to `peer` (403: its peer policy refuses it)."""
    try:
        client.permit(peer)
    except TurnError as refused:
        assert refused.code == 403, (peer, refused)
        return False
    return True


def test_one_user_holds_one_quota_however_often_they_reconnect(tmp_path: Path):
    """Issue 19 #11: every (re)connect hands a viewer a new TURN username (`<expiry>:<user>`,
    the expiry moving with the clock); coturn must still count user-quota per user, or a few
    reconnecting clients hold every relay port. coturn 4.6 does: with `use-auth-secret` it drops
    an all-digit expiry before the `:` when it counts (get_real_username). This pins that
    contract between rooms/ice.py's username format and coturn's quota."""
    from controlplane.rooms.ice import ice_servers
    from tests.support.backends import make_settings

    settings = make_settings(TURN_URLS="turn:127.0.0.1", TURN_SECRET=SECRET, TURN_TTL_SECONDS=600)
    window_start = time.time() // 600 * 600
    clients: list[TurnClient] = []
    with running_coturn(
        tmp_path, turn_config.render(), host="127.0.0.1", ports=(49830, 49859),
        relay_ips=("127.0.0.1",),
    ) as server:  # fmt: skip
        try:
            for second in range(turn_config.USER_QUOTA + 1):
                (turn,) = ice_servers(settings, user="viewer-1", now=window_start + 1 + second)
                clients.append(TurnClient(server, turn["username"], turn["credential"]))
            for client in clients[:-1]:
                client.allocate()
            with pytest.raises(TurnError) as refused:
                clients[-1].allocate()
            assert refused.value.code == 486  # Allocation Quota Reached
            # the quota is this user's: another user still gets a relay
            (turn,) = ice_servers(settings, user="viewer-2", now=window_start + 1)
            clients.append(TurnClient(server, turn["username"], turn["credential"]))
            clients[-1].allocate()
        finally:
            for client in clients:
                client.close()


COMPOSE = REPO / "docker-compose.yml"


def compose_default(name: str) -> str:
    """The default docker-compose.yml gives `name` (`${NAME:-default}`)."""
    (value,) = set(re.findall(rf"\$\{{{name}:-([^}}]*)\}}", COMPOSE.read_text()))
    return value


def test_compose_relays_to_rooms_only_not_to_the_host_or_the_api(tmp_path: Path):
    """Issue 19 #11: the default TURN_ALLOWED_PEER_RANGES is the range rooms get, not the rooms
    network with its gateway (the host) and the API's address on it; checked on a real coturn
    configured as the Compose entrypoint configures it."""
    ranges = compose_default("TURN_ALLOWED_PEER_RANGES").split()
    rooms = ipaddress.ip_network(compose_default("ROOMS_IP_RANGE"))
    gateway = compose_default("ROOMS_GATEWAY")
    api = compose_default("API_ROOMS_IP")
    for r in ranges:
        first, last = (ipaddress.ip_address(a) for a in r.split("-"))
        assert first >= rooms.network_address and last <= rooms.broadcast_address, r
    policy = turn_config.render() + "".join(f"allowed-peer-ip={r}\n" for r in ranges)
    with running_coturn(
        tmp_path, policy, host="127.0.0.1", ports=(49820, 49829), relay_ips=("127.0.0.1",)
    ) as server:
        client = TurnClient(server, *rest_credentials(SECRET, "user-3"))
        try:
            client.allocate()
            assert not permitted(client, gateway)
            assert not permitted(client, api)
            assert not permitted(client, "10.213.1.9")  # the subnet outside the rooms' range
            assert permitted(client, str(rooms.network_address + 7))
            assert permitted(client, str(rooms.broadcast_address - 1))
            assert permitted(client, "198.51.100.20")
        finally:
            client.close()


def test_chart_coturn_denies_the_cluster_but_the_room_pods(tmp_path: Path):
    """Issue 19 #11: the chart's coturn denies rooms.clusterCidrs (pods, services, nodes, also
    public ones) and admits rooms.podCidrs alone; `::`, `::1` and the other IPv6 special ranges
    are denied. The ConfigMap the chart renders, run by a real coturn, IPv4 and IPv6 relays."""
    pytest.importorskip("helm_python")
    from tests.support.chart import CHART, load_values, render

    values = load_values(CHART / "ci" / "ha-values.yaml")
    assert values["rooms"]["clusterCidrs"] and values["rooms"]["podCidrs"]
    (conf,) = [
        o["data"]["turnserver.conf"]
        for o in render(values)
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-coturn")
    ]
    with running_coturn(
        tmp_path, conf, host="127.0.0.1", ports=(49800, 49819), relay_ips=("127.0.0.1", "::1")
    ) as server:
        v4 = TurnClient(server, *rest_credentials(SECRET, "user-4"))
        v6 = TurnClient(server, *rest_credentials(SECRET, "user-5"))
        try:
            v4.allocate()
            v6.allocate(ipv6=True)  # (a v4 relay would answer IPv6 peers 443, not 403)
            assert not permitted(v4, "10.244.3.4")  # another pod
            assert not permitted(v4, "10.96.0.10")  # a service (kube-dns)
            assert not permitted(v4, "198.51.100.7")  # a node, on a public address
            assert permitted(v4, "10.244.130.5")  # a room pod
            assert permitted(v4, "203.0.113.50")  # the internet
            for peer in ("::", "::1", "::a00:1", "::ffff:10.0.0.1", "64:ff9b::a00:1",
                         "64:ff9b:1::a00:1", "2002:a00:1::1", "2001:0:a00:1::1", "fe80::1",
                         "fec0::1", "fd00:ec2::254", "ff02::1",
                         "2001:db8:44:1::5"):  # another pod, on a global address  # fmt: skip
                assert not permitted(v6, peer), peer
            assert permitted(v6, "2001:db8:44:81::5")  # a room pod
            assert permitted(v6, "2606:2800:220:1::1")  # the internet
        finally:
            v4.close()
            v6.close()


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
