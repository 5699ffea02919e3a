"""charts/watchparty through Helm's own lint and template engine (helm-python-sdk) for every
values file in charts/watchparty/ci, every rendered object validated against the Kubernetes
schemas (kubernetes-validate), and what an admin relies on asserted: RBAC grants only what the
runtime calls, every pod is hardened, beat is one replica, the rooms NetworkPolicy is the
runtime's own and blocks private, link-local and metadata egress, values outside the schema are
rejected, no secret is in a ConfigMap, and the README's values table matches values.yaml."""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any
from unittest import mock

import kubernetes_validate
import pytest

from controlplane.runtime import k8s_manifests
from controlplane.settings import Settings
from tests.support.chart import (
    CHART,
    CI_VALUES,
    TABLE_END,
    TABLE_START,
    leaf_keys,
    load_values,
    params,
    render,
    values_table,
)
from tests.support.docker_image import REPO

helm = pytest.importorskip("helm_python")

K8S_VERSIONS = ["1.30", kubernetes_validate.utils.latest_version()]
IDS = [p.stem for p in CI_VALUES]
SECRET_KEYS = {
    "SECRET_KEY",
    "AGENT_SECRET_KEY",
    "PROFILE_SECRET_KEY",
    "TURN_SECRET",
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
}


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def pod_specs(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (o["metadata"]["name"], o["spec"]["template"]["spec"])
        for o in objects
        if o["kind"] in {"Deployment", "StatefulSet", "Job"}
    ]


@pytest.fixture(scope="module", params=CI_VALUES, ids=IDS)
def rendered(request: pytest.FixtureRequest) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    values = load_values(request.param)
    return values, render(values)


@pytest.mark.parametrize("values_file", CI_VALUES, ids=IDS)
def test_helm_lint_is_clean(values_file: Path):
    report = helm.lint(str(CHART), load_values(values_file), strict=True)
    problems = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
    assert problems == [], problems


def test_every_object_is_valid_kubernetes(rendered):
    _, objects = rendered
    assert len(objects) >= 10
    for obj in objects:
        for version in K8S_VERSIONS:
            kubernetes_validate.validate(obj, version, strict=True)


def runtime_verbs() -> dict[str, set[str]]:
    """What controlplane/runtime/kubernetes.py calls, as RBAC verbs per resource."""
    source = (REPO / "controlplane" / "runtime" / "kubernetes.py").read_text()
    verb = {"create": "create", "read": "get", "list": "list", "delete": "delete",
            "patch": "patch", "replace": "update", "watch": "watch"}  # fmt: skip
    resource = {"pod": "pods", "secret": "secrets", "network_policy": "networkpolicies"}
    calls: dict[str, set[str]] = {}
    for action, kind in re.findall(r"\.(\w+?)_namespaced_(\w+)\b", source):
        calls.setdefault(resource[kind], set()).add(verb[action])
    return calls


def test_rbac_grants_only_what_the_runtime_calls(rendered):
    values, objects = rendered
    calls = runtime_verbs()
    assert calls["pods"] == {"create", "get", "list", "delete"}  # the scan found the calls
    (role,) = of_kind(objects, "Role")
    assert role["metadata"]["namespace"] == values.get("rooms", {}).get(
        "namespace", "watchparty-rooms"
    )
    granted = {}
    for rule in role["rules"]:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"]
        for res in rule["resources"]:
            granted[res] = set(rule["verbs"])
    expected = {k: v for k, v in calls.items() if k != "networkpolicies"}
    assert granted == expected  # the chart owns the rooms policy: no networkpolicies verbs
    assert of_kind(objects, "ClusterRole") == [] and of_kind(objects, "ClusterRoleBinding") == []
    (binding,) = of_kind(objects, "RoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]


def test_every_pod_is_non_root_read_only_without_capabilities(rendered):
    _, objects = rendered
    specs = pod_specs(objects)
    assert len(specs) >= 4
    for name, spec in specs:
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] > 0, name
        assert pod["seccompProfile"]["type"] == "RuntimeDefault", name
        for container in spec["containers"] + spec.get("initContainers", []):
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert "add" not in sc["capabilities"], name


def test_probes_resources_and_token_only_where_rooms_are_started(rendered):
    _, objects = rendered
    for name, spec in pod_specs(objects):
        container = spec["containers"][0]
        assert container.get("resources"), name
        starts_rooms = name.endswith(("wp-watchparty", "-worker"))
        assert spec["automountServiceAccountToken"] is starts_rooms, name
    api = next(
        d for d in of_kind(objects, "Deployment") if d["metadata"]["name"] == "wp-watchparty"
    )
    container = api["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert "--no-migrate" in container["args"]  # the hook Job migrates, once
    (job,) = of_kind(objects, "Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
    assert "pre-upgrade" in job["metadata"]["annotations"]["helm.sh/hook"]


def test_beat_is_exactly_one_replica_and_recreated(rendered):
    _, objects = rendered
    (beat,) = [d for d in of_kind(objects, "Deployment") if d["metadata"]["name"].endswith("beat")]
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}


def configmap_settings(objects: list[dict[str, Any]]) -> Settings:
    (cm,) = [c for c in of_kind(objects, "ConfigMap") if c["metadata"]["name"] == "wp-watchparty"]
    # As the pods get them: environment variables (envFrom), parsed by the one settings class.
    with mock.patch.dict(os.environ, cm["data"], clear=True):
        return Settings(_env_file=None)  # type: ignore[call-arg]


def admits(policy: dict[str, Any], address: str) -> bool:
    """Whether any ipBlock egress rule of the policy lets this address through (any port)."""
    ip = ipaddress.ip_address(address)
    for rule in policy["spec"]["egress"]:
        for peer in rule.get("to", []):
            block = peer.get("ipBlock")
            if not block:
                continue
            net = ipaddress.ip_network(block["cidr"])
            if (
                ip.version == net.version
                and ip in net
                and not any(ip in ipaddress.ip_network(e) for e in block.get("except", []))
            ):
                return True
    return False


def test_rooms_network_policy_is_the_runtimes_own(rendered):
    values, objects = rendered
    settings = configmap_settings(objects)
    assert settings.KUBERNETES_MANAGE_NETWORK_POLICY is False  # the chart owns it
    (policy,) = [
        p
        for p in of_kind(objects, "NetworkPolicy")
        if p["metadata"]["name"] == "wp-watchparty-rooms"
    ]
    assert policy["metadata"]["namespace"] == settings.KUBERNETES_NAMESPACE
    assert policy["spec"] == k8s_manifests.make_rooms_network_policy(settings)["spec"]
    for blocked in ("10.1.2.3", "172.16.5.4", "192.168.1.1", "169.254.169.254", "127.0.0.1",
                    "100.100.100.200", "fd00:ec2::254", "fe80::1", "::1"):  # fmt: skip
        assert not admits(policy, blocked), blocked
    assert admits(policy, "93.184.216.34") and admits(policy, "2606:2800:220:1::1")
    # the cluster's own ranges (rooms.clusterCidrs), IPv6 too, are denied as well
    for cidr in values.get("rooms", {}).get("clusterCidrs", []):
        inside = str(next(ipaddress.ip_network(cidr).hosts()))
        assert not admits(policy, inside), cidr


def test_controlplane_settings_follow_the_values(rendered):
    values, objects = rendered
    settings = configmap_settings(objects)
    rooms = values.get("rooms", {})
    assert settings.ROOM_RUNTIME == "kubernetes"
    assert settings.KUBERNETES_RUNTIME_CLASS == rooms.get("runtimeClassName")
    assert settings.KUBERNETES_NODE_SELECTOR == rooms.get("nodeSelector", {})
    assert settings.KUBERNETES_IMAGE_PULL_SECRETS == rooms.get("imagePullSecrets", [])
    assert settings.ROOM_WARM_POOL == rooms.get("warmPool", 0)
    assert settings.AGENT_CONTROL_URL == "ws://wp-watchparty-agents.watchparty.svc:8001"
    api = next(
        d for d in of_kind(objects, "Deployment") if d["metadata"]["name"] == "wp-watchparty"
    )
    pod_labels = api["spec"]["template"]["metadata"]["labels"]
    assert settings.KUBERNETES_CONTROLPLANE_LABELS.items() <= pod_labels.items()
    turn = values.get("coturn", {})
    if turn.get("enabled", True):
        assert settings.TURN_URLS == [f"turn:{turn['host']}:3478?transport=udp"]


def test_rooms_reach_the_agent_listener_only(rendered):
    """Issue 11 item 10: room agents dial a ClusterIP Service of the agent listener alone; the
    rooms policy lets room pods reach the control plane on that port only, and the control
    plane's policy admits them on it (its API port stays open to everyone else)."""
    _, objects = rendered
    settings = configmap_settings(objects)
    api = next(
        d for d in of_kind(objects, "Deployment") if d["metadata"]["name"] == "wp-watchparty"
    )
    (container,) = api["spec"]["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8000, "agent": settings.AGENT_PORT}
    assert settings.KUBERNETES_CONTROLPLANE_PORT == settings.AGENT_PORT != ports["http"]
    services = {s["metadata"]["name"]: s["spec"] for s in of_kind(objects, "Service")}
    agents = services["wp-watchparty-agents"]
    assert agents["type"] == "ClusterIP"
    assert [(p["port"], p["targetPort"]) for p in agents["ports"]] == [(8001, "agent")]
    assert all(p["targetPort"] != "agent" for p in services["wp-watchparty"]["ports"])
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(objects, "NetworkPolicy")}
    if "wp-watchparty-rooms" in policies:
        (to_api,) = [
            rule
            for rule in policies["wp-watchparty-rooms"]["egress"]
            if any(
                peer.get("podSelector", {}).get("matchLabels", {}).items()
                >= settings.KUBERNETES_CONTROLPLANE_LABELS.items()
                for peer in rule.get("to", [])
            )
        ]
        assert to_api["ports"] == [{"protocol": "TCP", "port": settings.AGENT_PORT}]
    if "wp-watchparty-controlplane" in policies:
        ingress = policies["wp-watchparty-controlplane"]["ingress"]
        from_rooms = [rule for rule in ingress if 8000 not in [p["port"] for p in rule["ports"]]]
        assert from_rooms == [
            {
                "from": [
                    {
                        "podSelector": {
                            "matchLabels": {
                                "app.kubernetes.io/managed-by": "watchparty",
                                "app.kubernetes.io/component": "room",
                                "watchparty.io/deployment": settings.deployment_id,
                            }
                        },
                        "namespaceSelector": {
                            "matchLabels": {
                                "kubernetes.io/metadata.name": settings.KUBERNETES_NAMESPACE
                            }
                        },
                    }
                ],
                "ports": [{"protocol": "TCP", "port": settings.AGENT_PORT}],
            }
        ]
        assert [r["ports"] for r in ingress if r not in from_rooms] == [
            [{"protocol": "TCP", "port": 8000}]
        ]


def test_api_port_admits_the_ingress_controller_alone(rendered):
    """Issue 19 #12: X-Forwarded-For is believed from TRUSTED_PROXY_CIDRS; in a cluster those
    are pod ranges, so the control plane's policy lets only the ingress controller's pods reach
    port 8000 (no other pod can write the header), and the ConfigMap carries the ranges."""
    values, objects = rendered
    settings = configmap_settings(objects)
    expected = (
        values.get("trustedProxyCidrs") or load_values(CHART / "values.yaml")["trustedProxyCidrs"]
    )
    assert settings.TRUST_PROXY_HEADERS is True
    assert [str(n) for n in settings.TRUSTED_PROXY_CIDRS] == expected
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(objects, "NetworkPolicy")}
    if values.get("networkPolicy", {}).get("enabled", True) is False:
        return
    controller = {
        **load_values(CHART / "values.yaml")["networkPolicy"]["ingressController"],
        **values.get("networkPolicy", {}).get("ingressController", {}),
    }
    (api_rule,) = [
        rule
        for rule in policies["wp-watchparty-controlplane"]["ingress"]
        if {"protocol": "TCP", "port": 8000} in rule["ports"]
    ]
    assert api_rule["from"] == [
        {
            "namespaceSelector": {
                "matchLabels": {"kubernetes.io/metadata.name": controller["namespace"]}
            },
            "podSelector": {"matchLabels": controller["podLabels"]},
        },
        *values.get("networkPolicy", {}).get("apiExtraFrom", []),
    ]


def test_no_secret_in_a_configmap(rendered):
    values, objects = rendered
    secret_values = [v for v in values.get("secrets", {}).values() if v and len(v) > 8]
    secret_values += [
        values[s]["url"] for s in ("externalDatabase", "externalRedis") if s in values
    ]
    secret_values += [values[s]["password"] for s in ("postgresql", "redis") if s in values]
    for cm in of_kind(objects, "ConfigMap"):
        text = repr(cm["data"])
        assert not SECRET_KEYS & set(cm["data"]), cm["metadata"]["name"]
        for value in cm["data"].values():
            assert not re.search(r"^static-auth-secret=", value, re.M)
        for secret in secret_values:
            assert secret not in text, cm["metadata"]["name"]
    for _, spec in pod_specs(objects):
        for container in spec["containers"]:
            for env in container.get("env", []):
                if env["name"] in SECRET_KEYS or "PASSWORD" in env["name"]:
                    assert "valueFrom" in env and "value" not in env, env


def test_rooms_namespace_and_turn_modes():
    base = load_values(CHART / "ci" / "default-values.yaml")
    lb = render({**base, "coturn": {**base["coturn"], "mode": "loadBalancer",
                                    "minPort": 50000, "maxPort": 50009}})  # fmt: skip
    (svc,) = [s for s in of_kind(lb, "Service") if s["metadata"]["name"] == "wp-watchparty-coturn"]
    relay = [p["port"] for p in svc["spec"]["ports"] if p["name"].startswith("relay-")]
    assert relay == list(range(50000, 50010))
    host = render(base)
    (turn,) = [d for d in of_kind(host, "Deployment") if d["metadata"]["name"].endswith("coturn")]
    assert turn["spec"]["template"]["spec"]["hostNetwork"] is True
    conf = next(c for c in of_kind(host, "ConfigMap") if c["metadata"]["name"].endswith("coturn"))
    assert "denied-peer-ip=169.254.0.0-169.254.255.255" in conf["data"]["turnserver.conf"]
    assert "no-tcp-relay" in conf["data"]["turnserver.conf"]


def test_a_redis_cluster_is_named_in_values_with_a_plain_broker_for_celery():
    base = load_values(CHART / "ci" / "default-values.yaml")
    broker = "redis://:pw@celery-redis.example.internal:6379/0"
    redis = {"url": "redis://:pw@redis-cluster.example.internal:6379/0", "cluster": True}
    objects = render({**base, "externalRedis": {**redis, "celeryBrokerUrl": broker}})
    (cm,) = [c for c in of_kind(objects, "ConfigMap") if c["metadata"]["name"] == "wp-watchparty"]
    assert cm["data"]["REDIS_CLUSTER"] == "true"
    (secret,) = of_kind(objects, "Secret")
    assert secret["stringData"]["CELERY_BROKER_URL"] == broker
    env = {
        e["name"]: e
        for _, spec in pod_specs(objects)
        for c in spec["containers"]
        for e in c.get("env", [])
    }
    assert env["CELERY_BROKER_URL"]["valueFrom"]["secretKeyRef"]["key"] == "CELERY_BROKER_URL"
    # As the pods get it (ConfigMap and Secret), the settings take it.
    with mock.patch.dict(os.environ, {**cm["data"], **secret["stringData"]}, clear=True):
        settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.REDIS_CLUSTER and settings.celery_broker_url == broker
    plain = configmap_settings(render(base))
    assert not plain.REDIS_CLUSTER
    with pytest.raises(helm.HelmError, match="celeryBrokerUrl is required"):
        render({**base, "externalRedis": redis})


BAD_VALUES = {
    "unknown key": {"controlplane": {"replica": 3}},
    "beat replicas": {"beat": {"replicas": 2}},
    "turn mode": {"coturn": {"mode": "nodePort"}},
    "rooms namespace": {"rooms": {"namespace": "Not_A_Namespace"}},
    "secret through extraEnv": {"extraEnv": {"SECRET_KEY": "x" * 40}},
    "short secret key": {"secrets": {"secretKey": "too-short"}},
    "pull policy": {"image": {"pullPolicy": "Sometimes"}},
    "negative warm pool": {"rooms": {"warmPool": -1}},
    "cluster not a boolean": {"externalRedis": {"cluster": "yes"}},
}


@pytest.mark.parametrize("bad", list(BAD_VALUES.values()), ids=list(BAD_VALUES))
def test_values_outside_the_schema_are_rejected(bad: dict[str, Any]):
    values = load_values(CHART / "ci" / "default-values.yaml")
    for key, override in bad.items():
        values[key] = (
            {**values.get(key, {}), **override} if isinstance(override, dict) else override
        )
    with pytest.raises(helm.HelmError):
        render(values)
    report = helm.lint(str(CHART), values, strict=True)
    assert report["errors"] or any(m["severity"] >= 3 for m in report["messages"])


def test_every_value_is_documented_and_the_readme_table_is_current():
    documented = [key for key, _ in params()]
    assert len(documented) == len(set(documented))
    assert sorted(leaf_keys(load_values(CHART / "values.yaml"))) == sorted(documented)
    readme = (CHART / "README.md").read_text()
    current = readme[readme.index(TABLE_START) : readme.index(TABLE_END) + len(TABLE_END)]
    assert current == values_table(), "regenerate: python -m tests.support.chart"
