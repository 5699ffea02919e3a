"""The Kubernetes runtime's manifests: the fields that make a room pod safe, and schema validity.

No Kubernetes cluster can run here, so nothing is applied: every generated object is checked
field by field and validated against the Kubernetes OpenAPI schemas shipped with
`kubernetes-validate` (strict: unknown fields are errors), for the oldest and newest supported
minor versions. The API calls are tested against a recorded contract in
tests/runtime/test_kubernetes_contract.py.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import uuid
from typing import Any

import kubernetes_validate
import pytest

from controlplane.runtime import k8s_manifests as m
from controlplane.runtime import naming
from controlplane.settings import Settings

ROOM_ID = uuid.UUID("6f1c1a52-3d1e-4c8e-9a43-6d0c2b7e9f10")
CODE = "k7m2p9qx"
K8S_VERSIONS = ["1.30", kubernetes_validate.utils.latest_version()]


def make_settings(**overrides: Any) -> Settings:
    return Settings(_env_file=None, **overrides)  # type: ignore[call-arg]


FULL: dict[str, Any] = {
    "KUBERNETES_NAMESPACE": "rooms",
    "ROOM_IMAGE": "registry.example.com/watchparty/browser:1.2.3",
    "ROOM_CPU_LIMIT": 1.5,
    "ROOM_MEMORY_LIMIT_MB": 3072,
    "ROOM_SHM_MB": 2048,
    "ROOM_TMP_MB": 256,
    "KUBERNETES_CPU_REQUEST": 0.25,
    "KUBERNETES_MEMORY_REQUEST_MB": 768,
    "KUBERNETES_RUNTIME_CLASS": "gvisor",
    "KUBERNETES_NODE_SELECTOR": {"watchparty.io/rooms": "true"},
    "KUBERNETES_TOLERATIONS": [
        {"key": "rooms", "operator": "Exists", "effect": "NoSchedule"},
        {
            "key": "spot",
            "operator": "Equal",
            "value": "yes",
            "effect": "NoExecute",
            "tolerationSeconds": 30,
        },
    ],
    "KUBERNETES_IMAGE_PULL_SECRETS": ["regcred"],
    "KUBERNETES_IMAGE_PULL_POLICY": "Always",
    "KUBERNETES_CONTROLPLANE_NAMESPACE": "watchparty",
    "KUBERNETES_CONTROLPLANE_PORT": 8080,
    "KUBERNETES_TURN_LABELS": {"app.kubernetes.io/name": "coturn"},
    "KUBERNETES_TURN_NAMESPACE": "turn",
    "KUBERNETES_EGRESS_ALLOW_CIDRS": ["10.96.0.10/32"],
    "STUN_URLS": ["stun:stun.example.com:3478"],
    "AGENT_CONTROL_URL": "ws://watchparty.watchparty.svc.cluster.local:8080",
    "DEPLOYMENT_ID": "Watchparty_Prod.eu-1",
}


def all_manifests(settings: Settings, start_url: str | None) -> list[dict[str, Any]]:
    return [
        m.make_room_pod(settings, room_id=ROOM_ID, room_code=CODE, start_url=start_url),
        m.make_room_secret(settings, room_id=ROOM_ID, room_code=CODE, agent_secret="s3cret"),
        m.make_rooms_network_policy(settings),
    ]


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("overrides", [{}, FULL], ids=["defaults", "every-option"])
@pytest.mark.parametrize("start_url", [None, "https://example.com/watch?v=1"])
def test_every_manifest_is_valid_for_kubernetes(
    version: str, overrides: dict[str, Any], start_url: str | None
) -> None:
    settings = make_settings(**overrides)
    for manifest in all_manifests(settings, start_url):
        kubernetes_validate.validate(manifest, version, strict=True)
        assert manifest["metadata"]["labels"]["watchparty.io/deployment"] == (
            settings.deployment_id
        )


def test_the_validator_rejects_what_the_api_server_would() -> None:
    """The schema check is not a no-op: a misspelt field and a wrong type are both caught."""
    pod = m.make_room_pod(make_settings(), room_id=ROOM_ID, room_code=CODE, start_url=None)
    pod["spec"]["automountServiceAcountToken"] = False
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(pod, K8S_VERSIONS[-1], strict=True)
    pod = m.make_room_pod(make_settings(), room_id=ROOM_ID, room_code=CODE, start_url=None)
    pod["spec"]["containers"][0]["securityContext"]["runAsUser"] = "1000"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(pod, K8S_VERSIONS[-1], strict=True)


def test_pod_is_hardened() -> None:
    pod = m.make_room_pod(make_settings(), room_id=ROOM_ID, room_code=CODE, start_url=None)
    spec = pod["spec"]
    assert spec["automountServiceAccountToken"] is False
    assert spec["enableServiceLinks"] is False
    assert spec["restartPolicy"] == "Never"
    assert spec["terminationGracePeriodSeconds"] <= 15
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == 1000
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for forbidden in ("hostNetwork", "hostPID", "hostIPC", "serviceAccountName"):
        assert forbidden not in spec
    [container] = spec["containers"]
    sc = container["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] == 1000
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["privileged"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert "add" not in sc["capabilities"]
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    # Writable only on memory-backed emptyDirs: /tmp, the profile dir and a sized /dev/shm.
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {vm["mountPath"]: vm["name"] for vm in container["volumeMounts"]}
    assert set(mounts) == {"/tmp", "/tmp/profile", "/dev/shm"}
    for path, name in mounts.items():
        assert volumes[name]["emptyDir"]["medium"] == "Memory", path
        assert volumes[name]["emptyDir"]["sizeLimit"].endswith("Mi")
    assert volumes[mounts["/dev/shm"]]["emptyDir"]["sizeLimit"] == "1024Mi"
    assert all(set(v) == {"name", "emptyDir"} for v in spec["volumes"])  # no hostPath, no socket
    # Nothing optional leaks in by default.
    for optional in ("runtimeClassName", "nodeSelector", "tolerations", "imagePullSecrets"):
        assert optional not in spec


def test_pod_resources_and_options_follow_settings() -> None:
    settings = make_settings(**FULL)
    pod = m.make_room_pod(settings, room_id=ROOM_ID, room_code=CODE, start_url=None)
    spec = pod["spec"]
    [container] = spec["containers"]
    assert container["image"] == "registry.example.com/watchparty/browser:1.2.3"
    assert container["imagePullPolicy"] == "Always"
    assert container["resources"] == {
        "requests": {"cpu": "250m", "memory": "768Mi"},
        "limits": {"cpu": "1500m", "memory": "3072Mi"},
    }
    volumes = {v["name"]: v["emptyDir"] for v in spec["volumes"]}
    assert volumes["dshm"]["sizeLimit"] == "2048Mi"
    assert volumes["tmp"]["sizeLimit"] == "256Mi"
    assert spec["runtimeClassName"] == "gvisor"
    assert spec["nodeSelector"] == {"watchparty.io/rooms": "true"}
    assert spec["tolerations"] == FULL["KUBERNETES_TOLERATIONS"]
    assert spec["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["metadata"]["namespace"] == "rooms"


def test_requests_never_exceed_limits() -> None:
    settings = make_settings(
        ROOM_CPU_LIMIT=0.5,
        ROOM_MEMORY_LIMIT_MB=512,
        KUBERNETES_CPU_REQUEST=2,
        KUBERNETES_MEMORY_REQUEST_MB=4096,
    )
    pod = m.make_room_pod(settings, room_id=ROOM_ID, room_code=CODE, start_url=None)
    resources = pod["spec"]["containers"][0]["resources"]
    assert resources["requests"] == resources["limits"] == {"cpu": "500m", "memory": "512Mi"}


def test_labels_and_names() -> None:
    settings = make_settings(DEPLOYMENT_ID="prod-eu")
    pod, secret, policy = all_manifests(settings, None)
    name = pod["metadata"]["name"]
    assert name == f"wp-room-{CODE}-{naming.short_hash(ROOM_ID)}"
    assert secret["metadata"]["name"] == f"{name}-agent"
    for obj in (pod, secret):
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "watchparty"
        assert labels["app.kubernetes.io/component"] == "room"
        assert labels["watchparty.io/deployment"] == "prod-eu"
        assert labels["watchparty.io/room-id"] == str(ROOM_ID)
        assert labels["watchparty.io/room-code"] == CODE
        assert obj["metadata"]["namespace"] == "watchparty-rooms"
    assert policy["metadata"]["name"] == "watchparty-rooms-prod-eu"
    assert policy["metadata"]["labels"]["watchparty.io/deployment"] == "prod-eu"
    # The policy selects exactly what the runtime lists as its own: this deployment's rooms.
    selector = naming.managed_selector(deployment="prod-eu")
    assert policy["spec"]["podSelector"] == {"matchLabels": selector}
    assert naming.selector_string(selector) == (
        "app.kubernetes.io/component=room,app.kubernetes.io/managed-by=watchparty,"
        "watchparty.io/deployment=prod-eu"
    )
    assert selector.items() <= pod["metadata"]["labels"].items()
    assert selector.items() <= secret["metadata"]["labels"].items()


def test_two_deployments_in_one_namespace_stay_apart() -> None:
    """Each deployment's objects, selector and policy are its own: neither one's selector matches
    the other's pods, and their policies have different names (replacing a shared one would leave
    the other deployment's pods unselected, i.e. with open egress)."""
    a, b = make_settings(DEPLOYMENT_ID="blue"), make_settings(DEPLOYMENT_ID="green")
    pod_a, _, policy_a = all_manifests(a, None)
    pod_b, _, policy_b = all_manifests(b, None)
    selector_a = policy_a["spec"]["podSelector"]["matchLabels"]
    selector_b = policy_b["spec"]["podSelector"]["matchLabels"]
    assert selector_a.items() <= pod_a["metadata"]["labels"].items()
    assert not selector_a.items() <= pod_b["metadata"]["labels"].items()
    assert selector_b.items() <= pod_b["metadata"]["labels"].items()
    assert not selector_b.items() <= pod_a["metadata"]["labels"].items()
    assert policy_a["metadata"]["name"] != policy_b["metadata"]["name"]


def test_the_derived_deployment_id_labels_every_object() -> None:
    """Without DEPLOYMENT_ID, the id derived from the database URL is the label."""
    settings = make_settings(DATABASE_URL="postgresql+asyncpg://u:p@db:5432/watchparty")
    deployment = settings.deployment_id
    for obj in all_manifests(settings, None):
        assert obj["metadata"]["labels"]["watchparty.io/deployment"] == deployment
    policy = m.make_rooms_network_policy(settings)
    assert policy["metadata"]["name"] == f"watchparty-rooms-{deployment}"


@pytest.mark.parametrize("deployment", ["Prod_EU.1", "x" * 40, "-edge-", "a.b", "UPPER", "prod"])
def test_any_deployment_id_makes_valid_labels_and_policy_names(deployment: str) -> None:
    settings = make_settings(DEPLOYMENT_ID=deployment)
    for manifest in all_manifests(settings, None):
        kubernetes_validate.validate(manifest, K8S_VERSIONS[-1], strict=True)
    value = naming.deployment_label(deployment)
    assert len(value) <= 63 and re.fullmatch(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?", value)
    for manifest in all_manifests(settings, None):
        assert manifest["metadata"]["labels"]["watchparty.io/deployment"] == value
    name = m.network_policy_name(settings)
    assert len(name) <= 63 and name.startswith("watchparty-rooms-")
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")
    assert name[-1].isalnum()


def test_policy_names_keep_ids_apart_that_differ_only_in_case_or_punctuation() -> None:
    names = {
        naming.deployment_name("watchparty-rooms", d)
        for d in ("prod", "Prod", "PROD", "prod_1", "prod-1", "prod.1")
    }
    assert len(names) == 6
    assert naming.deployment_name("watchparty-rooms", "prod") == "watchparty-rooms-prod"


@pytest.mark.parametrize("code", ["ABCD2345", "x" * 80, "--weird code!--", ""])
def test_names_are_dns_labels_for_any_code(code: str) -> None:
    name = naming.room_name(ROOM_ID, code)
    assert len(name) <= 63
    assert name[0].isalpha() and name[-1].isalnum()
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")
    assert name.endswith(naming.short_hash(ROOM_ID))
    assert naming.room_name(uuid.uuid4(), code) != name  # the hash keeps rooms apart
    value = naming.label_value(code)
    assert len(value) <= 63


def test_agent_env_takes_its_secret_from_the_secret() -> None:
    settings = make_settings(**FULL)
    pod, secret, _ = all_manifests(settings, "https://example.com/watch?v=1")
    env = pod["spec"]["containers"][0]["env"]
    by_name = {e["name"]: e for e in env}
    assert len(by_name) == len(env)
    agent = by_name["WP_AGENT_SECRET"]
    assert "value" not in agent
    assert agent["valueFrom"]["secretKeyRef"] == {
        "name": secret["metadata"]["name"],
        "key": "agent-secret",
    }
    assert base64.b64decode(secret["data"]["agent-secret"]) == b"s3cret"
    assert secret["immutable"] is True
    assert "s3cret" not in json.dumps(pod)
    plain = {k: v["value"] for k, v in by_name.items() if "value" in v}
    assert plain["WP_CONTROL_URL"] == "ws://watchparty.watchparty.svc.cluster.local:8080"
    assert plain["WP_ROOM_ID"] == str(ROOM_ID)
    assert plain["WP_START_URL"] == "https://example.com/watch?v=1"
    assert (plain["WP_WIDTH"], plain["WP_HEIGHT"], plain["WP_FPS"]) == ("1280", "720", "30")
    assert (plain["WP_CODEC"], plain["WP_BITRATE_KBPS"]) == ("h264", "3000")
    assert plain["WP_PROFILE_DIR"] == "/tmp/profile"
    assert json.loads(plain["WP_ICE_SERVERS"]) == [{"urls": ["stun:stun.example.com:3478"]}]
    # The agent's own settings class reads every one of these names.
    from roomagent.config import AgentSettings

    fields = {f"WP_{name.upper()}" for name in AgentSettings.model_fields}
    assert set(by_name) <= fields


def test_no_start_url_means_the_agents_default() -> None:
    pod = m.make_room_pod(make_settings(), room_id=ROOM_ID, room_code=CODE, start_url=None)
    names = {e["name"] for e in pod["spec"]["containers"][0]["env"]}
    assert "WP_START_URL" not in names


def _egress_rule_with(policy: dict[str, Any], cidr: str) -> dict[str, Any]:
    for rule in policy["spec"]["egress"]:
        for peer in rule["to"]:
            if peer.get("ipBlock", {}).get("cidr") == cidr:
                return peer["ipBlock"]
    raise AssertionError(f"no ipBlock {cidr}")


def test_network_policy_blocks_internal_ranges_and_allows_the_internet() -> None:
    policy = m.make_rooms_network_policy(make_settings())
    spec = policy["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["ingress"] == []  # no TURN configured: no inbound traffic at all
    v4 = _egress_rule_with(policy, "0.0.0.0/0")
    v6 = _egress_rule_with(policy, "::/0")
    blocked = [ipaddress.ip_network(c) for c in v4["except"] + v6["except"]]

    def is_blocked(address: str) -> bool:
        ip = ipaddress.ip_address(address)
        return any(ip.version == net.version and ip in net for net in blocked)

    for internal in (
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "127.0.0.1",
        "169.254.169.254",
        "100.100.100.200",
        "100.64.0.10",
        "::1",
        "fd00:ec2::254",
        "fe80::1",
    ):
        assert is_blocked(internal), internal
    for public in ("1.1.1.1", "8.8.8.8", "142.250.74.78", "2606:4700:4700::1111"):
        assert not is_blocked(public), public
    # Cluster peers: DNS in kube-system on port 53, the control plane on its port only.
    dns, control = spec["egress"][0], spec["egress"][1]
    assert dns["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
    assert {(p["protocol"], p["port"]) for p in dns["ports"]} == {("UDP", 53), ("TCP", 53)}
    assert control["to"] == [
        {
            "podSelector": {
                "matchLabels": {
                    "app.kubernetes.io/name": "watchparty",
                    "app.kubernetes.io/component": "controlplane",
                }
            }
        }
    ]
    # The agent listener (AGENT_PORT) only: the API's own port stays closed to rooms.
    assert control["ports"] == [{"protocol": "TCP", "port": 8001}]


def test_network_policy_blocks_the_clusters_own_ranges_ipv6_too() -> None:
    """Issue 11 #9: a dual-stack cluster's global IPv6 pod, service and node ranges (and public
    IPv4 ones) are denied like the private IPv4 ranges; the rest of the internet stays open."""
    pods, services, nodes = "2001:db8:42::/56", "2001:db8:43::/112", "2600:1f18:7:100::/64"
    policy = m.make_rooms_network_policy(
        make_settings(KUBERNETES_CLUSTER_CIDRS=f"{pods},{services}, {nodes},203.0.113.0/24")
    )
    v4 = _egress_rule_with(policy, "0.0.0.0/0")
    v6 = _egress_rule_with(policy, "::/0")
    blocked = [ipaddress.ip_network(c) for c in v4["except"] + v6["except"]]

    def is_blocked(address: str) -> bool:
        ip = ipaddress.ip_address(address)
        return any(ip.version == net.version and ip in net for net in blocked)

    for internal in (
        "2001:db8:42:ff::17",  # a pod
        "2001:db8:43::a",  # a service
        "2600:1f18:7:100::5",  # a node
        "203.0.113.9",
        "10.0.0.1",
        "fd00:ec2::254",
    ):
        assert is_blocked(internal), internal
    for public in ("1.1.1.1", "2606:4700:4700::1111", "2001:db8:44::1", "2600:1f18:7:101::5"):
        assert not is_blocked(public), public
    # every exception lies in its rule's family (the API server refuses one that does not)
    assert all(":" not in c for c in v4["except"]) and all(":" in c for c in v6["except"])


def test_network_policy_turn_and_extra_cidrs() -> None:
    policy = m.make_rooms_network_policy(make_settings(**FULL))
    spec = policy["spec"]
    turn_peer = {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "coturn"}},
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "turn"}},
    }
    assert spec["ingress"] == [{"from": [turn_peer], "ports": [{"protocol": "UDP"}]}]
    assert {"to": [turn_peer]} in spec["egress"]
    assert {"to": [{"ipBlock": {"cidr": "10.96.0.10/32"}}]} in spec["egress"]
    control = spec["egress"][1]
    assert control["to"][0]["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "watchparty"}
    }
    assert control["ports"] == [{"protocol": "TCP", "port": 8080}]
    assert policy["metadata"]["namespace"] == "rooms"
