"""The Docker rooms' egress rules as pure data: what a room may and may not reach.

The rule lists are evaluated by a small interpreter of exactly the iptables matches the builder
uses (conntrack state, original destination/port, protocol, destination range, REJECT/RETURN),
so the tests state outcomes ("Redis on the gateway is rejected") rather than strings. The real
rules are applied to a real host and probed from inside a container in
tests/runtime/test_docker_runtime.py.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from controlplane.runtime import docker_firewall as fw
from controlplane.runtime.docker import container_options, map_state
from tests.support.backends import make_settings

ROOMS = "10.213.0.0/22"
GATEWAY = "10.213.0.1"


def settings(**overrides: Any) -> Any:
    return make_settings(ROOM_RUNTIME="docker", **overrides)


def verdict(
    rules: list[list[str]],
    chain: str,
    dst: str,
    port: int,
    proto: str = "tcp",
    state: str = "NEW",
) -> str:
    """What `chain` does with a packet: REJECT, or RETURN (explicitly or by falling off)."""
    address = ipaddress.ip_address(dst)
    for rule in rules:
        assert rule[:2] == ["-A", rule[1]]
        if rule[1] != chain:
            continue
        args = rule[2:]
        opts: dict[str, str] = {}
        i = 0
        while i < len(args):
            key = args[i]
            if key in {"-m"}:
                i += 2
                continue
            opts[key] = args[i + 1]
            i += 2
        if "--ctstate" in opts and state not in opts["--ctstate"].split(","):
            continue
        if "-p" in opts and opts["-p"] != proto:
            continue
        if "--ctorigdst" in opts and address not in ipaddress.ip_network(opts["--ctorigdst"]):
            continue
        if "--ctorigdstport" in opts and int(opts["--ctorigdstport"]) != port:
            continue
        if "-d" in opts and address not in ipaddress.ip_network(opts["-d"]):
            continue
        return opts["-j"]
    return "RETURN"


def test_chain_names_carry_the_bridge_and_jumps_match_it() -> None:
    s = settings(DOCKER_BRIDGE_NAME="wp-rooms0")
    assert fw.forward_chain(s) == "WP-FWD-wp-rooms0"
    assert fw.input_chain(s) == "WP-IN-wp-rooms0"
    assert len(fw.forward_chain(settings(DOCKER_BRIDGE_NAME="x" * 15))) <= 28  # iptables limit
    assert fw.jump_rules(s) == [
        ["DOCKER-USER", "-i", "wp-rooms0", "-j", "WP-FWD-wp-rooms0"],
        ["INPUT", "-i", "wp-rooms0", "-j", "WP-IN-wp-rooms0"],
    ]
    assert fw.ipv6_jump_rules(s)[0][0] == "FORWARD"  # ip6tables has no DOCKER-USER here
    assert all(rule[-4:] == fw.REJECT_V6 for rule in fw.ipv6_rules(s))


def test_a_bridge_name_longer_than_an_interface_name_is_refused() -> None:
    with pytest.raises(ValueError):
        settings(DOCKER_BRIDGE_NAME="much-too-long-bridge")


def test_loopback_control_url_becomes_the_gateway() -> None:
    assert fw.gateway_ip(settings()) == GATEWAY
    assert fw.room_control_url(settings()) == f"ws://{GATEWAY}:8001"  # AGENT_PORT
    assert fw.room_control_url(settings(AGENT_CONTROL_URL="ws://localhost:9000/x")) == (
        f"ws://{GATEWAY}:9000/x"
    )
    assert fw.room_control_url(settings(AGENT_CONTROL_URL="wss://0.0.0.0")) == (
        f"wss://{GATEWAY}:443"
    )
    explicit = "wss://api.example.com/agents"
    assert fw.room_control_url(settings(AGENT_CONTROL_URL=explicit)) == explicit


def test_defaults_block_the_host_and_private_ranges_and_allow_the_agent_endpoint() -> None:
    s = settings()
    rules = fw.firewall_rules(s)
    fwd, inp = fw.forward_chain(s), fw.input_chain(s)
    # The host, whatever the address rooms use for it (gateway, LAN address, docker0):
    for host in (GATEWAY, "192.0.2.2", "172.17.0.1"):
        for port in (6379, 5432, 22, 2375, 8080):
            assert verdict(rules, inp, host, port) == "REJECT", (host, port)
        assert verdict(rules, inp, host, 5353, "udp") == "REJECT"
    # ... except the control plane's agent listener (AGENT_PORT), on the gateway only; its
    # public listener (the API, /metrics, sign-up) is as closed to rooms as any other port.
    assert verdict(rules, inp, GATEWAY, 8001) == "RETURN"
    assert verdict(rules, inp, GATEWAY, 8000) == "REJECT"
    assert verdict(rules, inp, "192.0.2.2", 8001) == "REJECT"
    assert verdict(rules, inp, GATEWAY, 8001, "udp") == "REJECT"
    # Other machines: private, loopback, link-local/metadata, CGNAT, other rooms, multicast.
    for dst in (
        "10.1.2.3",
        "172.20.0.5",
        "192.168.1.1",
        "127.0.0.1",
        "169.254.169.254",
        "100.100.100.200",
        "10.213.0.7",
        "224.0.0.251",
        "0.0.0.1",
    ):
        assert verdict(rules, fwd, dst, 80) == "REJECT", dst
        assert verdict(rules, fwd, dst, 53, "udp") == "REJECT", dst
    # Public destinations (and documentation nets used as test hosts) are left to Docker.
    for dst in ("8.8.8.8", "1.1.1.1", "198.51.100.10", "203.0.113.9", "151.101.1.69"):
        assert verdict(rules, fwd, dst, 443) == "RETURN", dst
        assert verdict(rules, fwd, dst, 3478, "udp") == "RETURN", dst


def test_replies_pass_before_any_reject() -> None:
    s = settings()
    rules = fw.firewall_rules(s)
    for chain in (fw.forward_chain(s), fw.input_chain(s)):
        assert verdict(rules, chain, "10.1.2.3", 80, state="ESTABLISHED") == "RETURN"
        assert verdict(rules, chain, GATEWAY, 6379, state="RELATED") == "RETURN"
    assert rules[0][2:] == fw.ESTABLISHED


def test_the_input_chain_ends_in_reject_all() -> None:
    s = settings()
    in_rules = [rule for rule in fw.firewall_rules(s) if rule[1] == fw.input_chain(s)]
    assert in_rules[-1] == ["-A", fw.input_chain(s), *fw.REJECT_V4]


def test_turn_stun_dns_and_extra_allowances() -> None:
    s = settings(
        AGENT_CONTROL_URL="ws://controlplane.internal:8000",
        TURN_URLS="turn:10.5.0.9:3478?transport=udp,turns:turn.internal",
        STUN_URLS="stun:192.168.7.7",
        DOCKER_EGRESS_ALLOW="172.30.1.0/24:9000,10.9.9.9",
    )
    assert fw.hostnames_to_resolve(s) == ["controlplane.internal", "turn.internal"]
    resolved = {"controlplane.internal": ["10.0.0.5"], "turn.internal": ["10.0.0.6"]}
    rules = fw.firewall_rules(s, dns_servers=["10.255.255.53"], resolved=resolved)
    fwd = fw.forward_chain(s)
    assert verdict(rules, fwd, "10.0.0.5", 8000) == "RETURN"
    assert verdict(rules, fwd, "10.0.0.5", 8001) == "REJECT"
    assert verdict(rules, fwd, "10.5.0.9", 3478, "udp") == "RETURN"
    assert verdict(rules, fwd, "10.5.0.9", 3478, "tcp") == "REJECT"  # transport=udp only
    assert verdict(rules, fwd, "10.0.0.6", 5349, "tcp") == "RETURN"  # turns: TLS on 5349
    assert verdict(rules, fwd, "10.0.0.6", 5349, "udp") == "REJECT"
    assert verdict(rules, fwd, "192.168.7.7", 3478, "udp") == "RETURN"
    assert verdict(rules, fwd, "10.255.255.53", 53, "udp") == "RETURN"
    assert verdict(rules, fwd, "10.255.255.53", 53, "tcp") == "RETURN"
    assert verdict(rules, fwd, "10.255.255.53", 80, "tcp") == "REJECT"
    assert verdict(rules, fwd, "172.30.1.44", 9000, "tcp") == "RETURN"
    assert verdict(rules, fwd, "172.30.1.44", 9001, "tcp") == "REJECT"
    assert verdict(rules, fwd, "10.9.9.9", 12345, "udp") == "RETURN"  # no port: everything
    # Allowances are listed once even when several sources name the same endpoint.
    dup = settings(DOCKER_EGRESS_ALLOW=f"{GATEWAY}/32:8000")
    assert len(fw.allowances(dup)) == 2  # agent endpoint (tcp) + the entry (tcp and udp)


def test_unresolved_names_and_bad_entries_are_errors() -> None:
    with pytest.raises(ValueError, match="cannot resolve"):
        fw.firewall_rules(settings(TURN_URLS="turn:turn.example.com"))
    with pytest.raises(ValueError, match="DOCKER_EGRESS_ALLOW"):
        fw.firewall_rules(settings(DOCKER_EGRESS_ALLOW="not-an-ip"))
    with pytest.raises(ValueError):
        fw.parse_allow_entry("10.0.0.1:70000")
    with pytest.raises(ValueError):
        fw.ice_endpoints("http://example.com")


def test_ice_url_parsing() -> None:
    assert fw.ice_endpoints("turn:1.2.3.4") == [("1.2.3.4", 3478, ("udp", "tcp"))]
    assert fw.ice_endpoints("turn:1.2.3.4:80?transport=tcp") == [("1.2.3.4", 80, ("tcp",))]
    assert fw.ice_endpoints("stun:stun.example.com:19302") == [
        ("stun.example.com", 19302, ("udp",))
    ]
    assert fw.ice_endpoints("turns:[2001:db8::1]:443") == [("2001:db8::1", 443, ("tcp",))]


def test_a_room_subnet_outside_the_private_ranges_is_blocked_too() -> None:
    s = settings(DOCKER_SUBNET="198.51.100.0/24")
    rules = fw.firewall_rules(s)
    assert verdict(rules, fw.forward_chain(s), "198.51.100.20", 80) == "REJECT"
    assert ["-A", fw.forward_chain(s), "-d", "198.51.100.0/24", *fw.REJECT_V4] in rules


def test_restore_script_flushes_and_refills_our_chains_atomically() -> None:
    s = settings()
    rules = fw.firewall_rules(s)
    script = fw.restore_script([fw.forward_chain(s), fw.input_chain(s)], rules).splitlines()
    assert script[0] == "*filter"
    assert script[1:3] == [":WP-FWD-wp-rooms0 - [0:0]", ":WP-IN-wp-rooms0 - [0:0]"]
    assert script[-1] == "COMMIT"
    assert len(script) == len(rules) + 4
    commands = fw.shell_commands(s, rules)
    assert commands[-1].startswith("iptables -w -C INPUT -i wp-rooms0 -j WP-IN-wp-rooms0 ")


def test_host_dns_servers_prefers_the_setting() -> None:
    assert fw.host_dns_servers(settings(DOCKER_DNS="10.0.0.2,10.0.0.3")) == [
        "10.0.0.2",
        "10.0.0.3",
    ]
    assert all(not ipaddress.ip_address(ip).is_loopback for ip in fw.host_dns_servers(settings()))


def test_container_options_carry_the_hardening_and_labels() -> None:
    import uuid

    room_id = uuid.UUID("12345678-1234-5678-1234-567812345678")
    s = settings(
        AGENT_CONTROL_URL="ws://127.0.0.1:8123", DOCKER_OCI_RUNTIME="runsc", DEPLOYMENT_ID="blue"
    )
    options = container_options(
        s, room_id=room_id, room_code="AB2CD3", agent_secret="s3cret", start_url=None
    )
    assert options["name"].startswith("wp-room-ab2cd3-")
    assert options["labels"]["app.kubernetes.io/managed-by"] == "watchparty"
    assert options["labels"]["app.kubernetes.io/component"] == "room"
    assert options["labels"]["watchparty.io/room-id"] == str(room_id)
    assert options["labels"]["watchparty.io/room-code"] == "AB2CD3"
    assert options["labels"]["watchparty.io/deployment"] == "blue"
    assert options["environment"]["WP_CONTROL_URL"] == f"ws://{GATEWAY}:8123"
    assert options["environment"]["WP_AGENT_SECRET"] == "s3cret"
    assert "WP_CHROMIUM_EXTRA_ARGS" not in options["environment"]  # the image's --no-sandbox
    assert options["user"] == "1000:1000" and options["cap_drop"] == ["ALL"]
    assert options["read_only"] is True and options["privileged"] is False
    assert options["nano_cpus"] == 2_000_000_000 and options["pids_limit"] == 512
    assert options["runtime"] == "runsc"
    assert "volumes" not in options and "mounts" not in options


def test_map_state() -> None:
    assert map_state({"Status": "created"}) == ("starting", None)
    assert map_state({"Status": "running", "Health": {"Status": "starting"}}) == ("starting", None)
    assert map_state({"Status": "running", "Health": {"Status": "healthy"}}) == ("running", None)
    assert map_state({"Status": "running"}) == ("running", None)
    state, detail = map_state(
        {"Status": "running", "Health": {"Status": "unhealthy", "Log": [{"Output": "no X\n"}]}}
    )
    assert state == "failed" and detail == "health check failing: no X"
    assert map_state({"Status": "exited", "ExitCode": 0}) == ("stopped", None)
    state, detail = map_state({"Status": "exited", "ExitCode": 137})
    assert state == "failed" and detail == "container exited with code 137 (killed)"
    state, detail = map_state({"Status": "exited", "ExitCode": 137, "OOMKilled": True})
    assert state == "failed" and detail is not None and "out of memory" in detail


def test_a_failed_containers_logs_are_kept_out_of_the_reason_members_see() -> None:
    """Issue 11 #9: the log tail of a failed room container is for operators (`logs`), never in
    `detail`, which becomes the room's status_reason that every member sees."""
    from controlplane.runtime.docker import _info

    class Container:
        id = "abc123"
        labels: dict[str, str] = {}
        attrs = {"State": {"Status": "exited", "ExitCode": 137}}

        def logs(self, **_: object) -> bytes:
            return b"GET http://10.0.0.7/admin?token=s3cr3t\nagent: fatal\n"

    info = _info(Container(), with_logs=True)
    assert info.state == "failed"
    assert info.detail == "container exited with code 137 (killed)"
    assert info.logs is not None and "token=s3cr3t" in info.logs
    assert _info(Container(), with_logs=False).logs is None
