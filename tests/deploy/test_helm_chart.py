"""charts/watchparty through Helm's own lint and template engine (helm-python-sdk) for every
values file in charts/watchparty/ci, every rendered object validated against the Kubernetes
schemas (kubernetes-validate), and what an admin relies on asserted: RBAC grants only what the
runtime calls, every pod is hardened, beat is one replica, the rooms NetworkPolicy is the
runtime's own and blocks private, link-local and metadata egress, values outside the schema are
rejected, no secret is in a ConfigMap, and the README's values table matches values.yaml.
Issue 23: a first install with no values comes up for development (bundled stores, generated
secrets an upgrade keeps, TURN off until a host is given) while production values keep their
"required" errors, and the API pods' autoscaler, disruption budget, anti-affinity and grace
period fit their drain."""

from __future__ import annotations

import base64
import http.server
import ipaddress
import json
import os
import re
import threading
from pathlib import Path
from typing import Any
from unittest import mock

import kubernetes_validate
import pytest
import yaml

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
    if turn.get("enabled", True) and turn.get("host"):
        assert settings.TURN_URLS == [f"turn:{turn['host']}:3478?transport=udp"]
    else:  # off, or (development) no host given yet
        assert settings.TURN_URLS == []
    assert settings.ENVIRONMENT == values.get("environment", "development")


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
    "environment": {"environment": "staging"},
    "anti-affinity": {"controlplane": {"antiAffinity": "sometimes"}},
    "autoscaling bounds": {"controlplane": {"autoscaling": {"enabled": True, "maxReplicas": 0}}},
    "drain": {"controlplane": {"shutdown": {"drainSeconds": -1}}},
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


# ------------------------------------------------------- issue 23: first install, scale-out


def rendered_with_notes(values: dict[str, Any], **options: Any) -> tuple[list[dict[str, Any]], str]:
    chart = helm.Chart.load(CHART)
    out = chart.render(values, name="wp", namespace="watchparty", **options)
    notes = next(text for path, text in out.items() if path.endswith("NOTES.txt"))
    objects = [
        doc
        for path, text in out.items()
        if not path.endswith("NOTES.txt")
        for doc in yaml.safe_load_all(text)
        if doc
    ]
    return objects, notes


def the_secret(objects: list[dict[str, Any]]) -> dict[str, str]:
    (secret,) = of_kind(objects, "Secret")
    return dict(secret["stringData"])


def test_a_first_install_with_no_values_comes_up_for_development():
    """`helm install wp charts/watchparty` with no values: its own PostgreSQL and Redis, secrets
    generated (long enough for production's rules, too), TURN off until a host is given, the
    control plane in development, and NOTES that say what is not production-ready."""
    objects, notes = rendered_with_notes({}, is_install=True)
    sets = {o["metadata"]["name"] for o in of_kind(objects, "StatefulSet")}
    assert sets == {"wp-watchparty-postgresql", "wp-watchparty-redis"}
    data = the_secret(objects)
    assert len(data["SECRET_KEY"]) >= 32 and len(data["AGENT_SECRET_KEY"]) >= 32
    assert data["SECRET_KEY"] != data["AGENT_SECRET_KEY"]
    assert data["DATABASE_URL"] == (
        f"postgresql+asyncpg://watchparty:{data['POSTGRES_PASSWORD']}"
        "@wp-watchparty-postgresql:5432/watchparty"
    )
    assert data["REDIS_URL"] == f"redis://:{data['REDIS_PASSWORD']}@wp-watchparty-redis:6379/0"
    assert "TURN_SECRET" not in data
    assert not [
        d for d in of_kind(objects, "Deployment") if d["metadata"]["name"].endswith("coturn")
    ]
    settings = configmap_settings(objects)
    assert settings.ENVIRONMENT == "development" and settings.TURN_URLS == []
    (job,) = of_kind(objects, "Job")  # the schema upgrade waits for the bundled database
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,pre-upgrade"
    assert "NOT PRODUCTION-READY" in notes
    for words in ("single-pod PostgreSQL Redis", "secrets it generated", "no TURN server"):
        assert words in notes, words
    # external stores named: the bundled ones are off
    external = {
        "externalDatabase": {"url": "postgresql+asyncpg://u:p@db:5432/wp"},
        "externalRedis": {"url": "redis://r:6379/0"},
    }
    objects, notes = rendered_with_notes(external, is_install=True)
    assert of_kind(objects, "StatefulSet") == []
    assert the_secret(objects)["DATABASE_URL"] == external["externalDatabase"]["url"]
    assert "single-pod" not in notes
    # a TURN host given: coturn runs, with a generated secret
    objects, _ = rendered_with_notes({"coturn": {"host": "turn.example.com"}}, is_install=True)
    assert len(the_secret(objects)["TURN_SECRET"]) >= 32
    assert configmap_settings(objects).TURN_URLS == ["turn:turn.example.com:3478?transport=udp"]


PRODUCTION_REQUIRES = {
    "secrets.secretKey": "secrets.secretKey is required",
    "secrets.agentSecretKey": "secrets.agentSecretKey is required",
    "secrets.turnSecret": "secrets.turnSecret is required",
    "externalDatabase.url": "externalDatabase.url is required",
    "externalRedis.url": "externalRedis.url is required",
    "coturn.host": "coturn.host is required",
}


@pytest.mark.parametrize("missing", list(PRODUCTION_REQUIRES), ids=list(PRODUCTION_REQUIRES))
def test_production_values_keep_their_required_errors(missing: str):
    """environment: production generates nothing and bundles nothing: each value it needs,
    left out, is refused with an error that names it."""
    values = load_values(CHART / "ci" / "default-values.yaml")
    assert values["environment"] == "production"
    render(values)  # complete: renders
    section, key = missing.split(".")
    del values[section][key]
    with pytest.raises(helm.HelmError, match=PRODUCTION_REQUIRES[missing]):
        render(values)


class _FakeKubeApi:
    """Just enough of a Kubernetes API server for Helm's `lookup` of one Secret: discovery, and
    the Secret (404 until one is stored)."""

    def __init__(self) -> None:
        self.secret: dict[str, Any] | None = None
        self.lookups = 0
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                body: dict[str, Any] | None = {
                    "/version": {"major": "1", "minor": "30", "gitVersion": "v1.30.0"},
                    "/api": {"kind": "APIVersions", "versions": ["v1"]},
                    "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": []},
                    "/api/v1": {
                        "kind": "APIResourceList",
                        "groupVersion": "v1",
                        "resources": [
                            {
                                "name": "secrets",
                                "singularName": "secret",
                                "namespaced": True,
                                "kind": "Secret",
                                "verbs": ["get", "list"],
                            },
                        ],
                    },
                }.get(path)
                if path == "/api/v1/namespaces/watchparty/secrets/wp-watchparty-secrets":
                    api.lookups += 1
                    body = api.secret
                elif path.endswith("/secrets"):  # Helm's release records: none yet
                    body = {"kind": "SecretList", "apiVersion": "v1", "metadata": {}, "items": []}
                status = 200 if body is not None else 404
                if body is None:
                    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                            "reason": "NotFound", "code": 404}  # fmt: skip
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def store(self, string_data: dict[str, str]) -> None:
        data = {k: base64.b64encode(v.encode()).decode() for k, v in string_data.items()}
        meta = {"name": "wp-watchparty-secrets", "namespace": "watchparty"}
        self.secret = {"apiVersion": "v1", "kind": "Secret", "data": data, "metadata": meta}


def test_generated_secrets_are_kept_across_upgrades():
    """The first install generates the secrets; every upgrade reads them back from the
    release's Secret (Helm's own `lookup`, against an API server that holds it), so signing keys
    and the bundled stores' passwords never change under existing data. The Secret outlives
    `helm uninstall` (resource-policy keep)."""
    kube = _FakeKubeApi()
    config = helm.Config(kube_apiserver=kube.url, namespace="watchparty")
    try:
        chart = helm.Chart.load(CHART)

        def secret_of(**options: Any) -> dict[str, Any]:
            out = config.render(chart, {}, name="wp", namespace="watchparty", **options)
            (secret,) = [
                doc
                for path, text in out.items()
                if path.endswith("secret.yaml")
                for doc in yaml.safe_load_all(text)
                if doc
            ]
            return dict(secret)

        first = secret_of(is_install=True)
        assert first["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        kube.store(first["stringData"])
        upgraded = secret_of(is_upgrade=True)
        assert kube.lookups >= 2
        assert upgraded["stringData"] == first["stringData"]
        # a value given explicitly still wins over the kept one
        given = "g" * 40
        out = config.render(
            chart, {"secrets": {"secretKey": given}}, name="wp", namespace="watchparty",
            is_upgrade=True,
        )  # fmt: skip
        text = next(t for p, t in out.items() if p.endswith("secret.yaml"))
        data = yaml.safe_load(text)["stringData"]
        assert data["SECRET_KEY"] == given
        assert data["AGENT_SECRET_KEY"] == first["stringData"]["AGENT_SECRET_KEY"]
    finally:
        config.close()
        kube.server.shutdown()
        kube.server.server_close()


def api_deployment(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return next(
        d for d in of_kind(objects, "Deployment") if d["metadata"]["name"] == "wp-watchparty"
    )


def test_api_pods_drain_within_their_grace_period_and_spread(rendered):
    """Issue 23: the API pods' termination grace period fits the drain (preStop, the sockets'
    move over SHUTDOWN_DRAIN_SECONDS, and the bounded steps of stopping), a rolling update
    starts a new pod before an old one drains, a PodDisruptionBudget bounds voluntary
    disruptions, and the pods prefer (or, `hard`, require) different nodes."""
    values, objects = rendered
    c = values.get("controlplane", {})
    shutdown = {
        **load_values(CHART / "values.yaml")["controlplane"]["shutdown"],
        **c.get("shutdown", {}),
    }
    settings = configmap_settings(objects)
    assert settings.SHUTDOWN_DRAIN_SECONDS == shutdown["drainSeconds"]
    assert settings.SHUTDOWN_TIMEOUT_SECONDS == shutdown["timeoutSeconds"]
    api = api_deployment(objects)
    spec = api["spec"]["template"]["spec"]
    grace = spec["terminationGracePeriodSeconds"]
    # the drain, its wait for the sockets, uvicorn's graceful wait and one step, after preStop
    needed = shutdown["preStopSeconds"] + shutdown["drainSeconds"] + 3 * shutdown["timeoutSeconds"]
    assert grace > needed
    (container,) = spec["containers"]
    assert container["lifecycle"]["preStop"]["exec"]["command"] == [
        "sleep", str(shutdown["preStopSeconds"])
    ]  # fmt: skip
    assert api["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    (pdb,) = of_kind(objects, "PodDisruptionBudget")
    assert (
        pdb["spec"]["selector"]["matchLabels"].items()
        <= api["spec"]["template"]["metadata"]["labels"].items()
    )
    anti = spec["affinity"]["podAntiAffinity"]
    if c.get("antiAffinity") == "hard":
        (term,) = anti["requiredDuringSchedulingIgnoredDuringExecution"]
    else:
        (preferred,) = anti["preferredDuringSchedulingIgnoredDuringExecution"]
        term = preferred["podAffinityTerm"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"] == pdb["spec"]["selector"]["matchLabels"]
    hpas = of_kind(objects, "HorizontalPodAutoscaler")
    if c.get("autoscaling", {}).get("enabled"):
        (hpa,) = hpas
        assert "replicas" not in api["spec"]  # the autoscaler owns the count
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1", "kind": "Deployment", "name": "wp-watchparty"
        }  # fmt: skip
        assert hpa["spec"]["minReplicas"] == c["autoscaling"]["minReplicas"]
        (metric,) = hpa["spec"]["metrics"]
        assert metric["resource"]["name"] == "cpu"
    else:
        assert hpas == []
        assert api["spec"]["replicas"] == c.get("replicas", 2)
