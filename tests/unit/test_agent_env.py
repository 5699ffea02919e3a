"""One definition of the room agent's environment and one of the blocked egress ranges, used by
every runtime that needs them."""

from __future__ import annotations

import ipaddress
import json
import uuid

from roomagent.config import AgentSettings

from controlplane.runtime import docker_firewall, k8s_manifests
from controlplane.runtime.agent_env import agent_env
from controlplane.runtime.docker import container_options
from controlplane.runtime.docker_firewall import room_control_url
from controlplane.runtime.egress import BLOCKED_IPV4, BLOCKED_IPV6
from controlplane.runtime.local import room_process_env
from tests.support.backends import make_settings

ROOM_ID = uuid.UUID("6f1c0000-0000-0000-0000-000000000001")
SETTINGS = make_settings(
    STUN_URLS="stun:stun.example.com:3478",
    ROOM_CODEC="vp8",
    ROOM_VIDEO_PLAYOUT="synced",
    ROOM_LADDER="540p:1500,360p@20:400",
)


def full_env() -> dict[str, str]:
    return agent_env(
        settings=SETTINGS,
        room_id=ROOM_ID,
        agent_secret="s3cret",
        start_url="https://example.com/",
        control_url="ws://10.0.0.1:8000",
        profile_dir="/tmp/profile",
    )


def test_every_key_is_an_agent_setting_and_reads_back():
    env = full_env()
    fields = {f"WP_{name.upper()}" for name in AgentSettings.model_fields}
    assert set(env) <= fields, sorted(set(env) - fields)
    agent = AgentSettings(**{k.removeprefix("WP_").lower(): v for k, v in env.items()})
    assert (agent.room_id, agent.agent_secret, agent.codec) == (str(ROOM_ID), "s3cret", "vp8")
    assert agent.video_playout == "synced"  # ROOM_VIDEO_PLAYOUT reaches every room's agent
    # ROOM_LADDER too, as the agent reads it: its rungs below the room's own stream
    assert [(r.width, r.height, r.fps, r.kbps) for r in agent.rungs()] == [
        (1280, 720, 30, 3000),
        (960, 540, 30, 1500),
        (640, 360, 20, 400),
    ]
    assert agent.ice_servers == [{"urls": ["stun:stun.example.com:3478"]}]
    assert agent.start_url == "https://example.com/" and agent.profile_dir == "/tmp/profile"


def test_local_processes_get_the_same_variables():
    env = room_process_env(SETTINGS, room_id=ROOM_ID, agent_secret="s3cret", start_url=None)
    expected = agent_env(settings=SETTINGS, room_id=ROOM_ID, agent_secret="s3cret", start_url=None)
    assert {k: v for k, v in env.items() if k.startswith("WP_")} == expected


def test_containers_get_the_same_variables_with_their_control_url():
    options = container_options(
        SETTINGS, room_id=ROOM_ID, room_code="k7qm3xtp", agent_secret="s3cret", start_url=None
    )
    assert options["environment"] == agent_env(
        settings=SETTINGS,
        room_id=ROOM_ID,
        agent_secret="s3cret",
        start_url=None,
        control_url=room_control_url(SETTINGS),
    )


def test_pods_get_the_same_variables_with_the_secret_by_reference():
    env = k8s_manifests.room_agent_env(
        SETTINGS, room_id=ROOM_ID, secret_name="room-agent", start_url="https://example.com/"
    )
    by_name = {e["name"]: e for e in env}
    expected = agent_env(
        settings=SETTINGS,
        room_id=ROOM_ID,
        agent_secret="",
        start_url="https://example.com/",
        profile_dir=k8s_manifests.PROFILE_DIR,
    )
    assert set(by_name) == set(expected)
    assert "value" not in by_name["WP_AGENT_SECRET"]
    plain = {k: e["value"] for k, e in by_name.items() if "value" in e}
    assert plain == {k: v for k, v in expected.items() if k != "WP_AGENT_SECRET"}
    assert json.loads(plain["WP_ICE_SERVERS"]) == [{"urls": ["stun:stun.example.com:3478"]}]


def test_the_firewall_and_the_network_policy_block_the_same_ranges():
    policy = k8s_manifests.make_rooms_network_policy(SETTINGS)
    peers = [peer for rule in policy["spec"]["egress"] for peer in rule.get("to", [])]
    blocks = [peer["ipBlock"] for peer in peers if "ipBlock" in peer]
    excepted = {cidr for block in blocks for cidr in block.get("except", [])}
    assert excepted == {*BLOCKED_IPV4, *BLOCKED_IPV6}
    rejected = {
        rule[rule.index("-d") + 1]
        for rule in docker_firewall.firewall_rules(
            SETTINGS, resolved={"stun.example.com": ["203.0.113.9"]}
        )
        if "-d" in rule and "REJECT" in rule
    }
    assert set(BLOCKED_IPV4) <= rejected
    for cidr in (*BLOCKED_IPV4, *BLOCKED_IPV6):
        ipaddress.ip_network(cidr)  # every entry is a valid range


def test_the_room_browser_is_kept_off_the_control_plane_and_the_host():
    """WP_BLOCKED_HOSTS (issue 11 item 10): a Docker room's browser may not reach the control
    plane where its agent dials, the public address, nor the host at the rooms gateway."""
    s = make_settings(
        AGENT_CONTROL_URL="ws://10.213.0.2:8001", PUBLIC_URL="https://watch.example.com"
    )
    options = container_options(
        s, room_id=ROOM_ID, room_code="k7qm3xtp", agent_secret="s3cret", start_url=None
    )
    blocked = json.loads(options["environment"]["WP_BLOCKED_HOSTS"])
    assert blocked == ["10.213.0.2", "watch.example.com", docker_firewall.gateway_ip(s)]
    assert AgentSettings(blocked_hosts=options["environment"]["WP_BLOCKED_HOSTS"]).blocked_hosts


def test_a_loopback_control_plane_is_blocked_on_its_ports_only():
    """A local room's browser shares this machine's loopback: only the control plane's ports
    are blocked there, under every loopback name."""
    s = make_settings(AGENT_CONTROL_URL="ws://127.0.0.1:8123", PUBLIC_URL="http://localhost:8000")
    env = room_process_env(s, room_id=ROOM_ID, agent_secret="s3cret", start_url=None)
    assert json.loads(env["WP_BLOCKED_HOSTS"]) == [
        "localhost:8123",
        "127.0.0.1:8123",
        "[::1]:8123",
        "localhost:8000",
        "127.0.0.1:8000",
        "[::1]:8000",
    ]
