"""KubernetesRuntime's API calls against a recorded Kubernetes API contract.

No Kubernetes cluster can run here. Instead, a local HTTP server (tests/support/kube_contract.py)
plays the API server from recorded exchanges in tests/runtime/contracts/*.json: each request
must arrive in order with the recorded method, path, query and (a subset of the) body, and gets
the recorded response, shaped as the real API server answers (objects with uid and
resourceVersion, `Status` objects with reasons AlreadyExists / NotFound / Forbidden). Any other
call is a violation and fails the test, as does a recorded call never made. The real
`kubernetes` client does the HTTP, so its serialisation and error handling are what is tested.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client import ApiClient, Configuration

from controlplane.runtime.base import RoomRuntime, RuntimeUnavailable
from controlplane.runtime.kubernetes import KubernetesRuntime
from controlplane.settings import Settings
from tests.support.kube_contract import KubeContractServer, load_contract

CONTRACTS = Path(__file__).parent / "contracts"
ROOM_ID = uuid.UUID("6f1c1a52-3d1e-4c8e-9a43-6d0c2b7e9f10")
CODE = "k7m2p9qx"
NS = "watchparty-rooms"
DEPLOYMENT = "wp-contract"  # the deployment id the recorded contracts carry
POLICY = f"watchparty-rooms-{DEPLOYMENT}"
POD = "wp-room-k7m2p9qx-a19a7aef"
REF = f"{NS}/{POD}"

Played = Callable[[str], AbstractAsyncContextManager[tuple[KubernetesRuntime, KubeContractServer]]]


@pytest.fixture
def played() -> Played:
    @asynccontextmanager
    async def play(name: str) -> AsyncIterator[tuple[KubernetesRuntime, KubeContractServer]]:
        with KubeContractServer(load_contract(CONTRACTS / f"{name}.json")) as server:
            configuration = Configuration(host=server.url)
            settings = Settings(  # type: ignore[call-arg]
                _env_file=None, KUBERNETES_API_TIMEOUT_SECONDS=5, DEPLOYMENT_ID=DEPLOYMENT
            )
            runtime = KubernetesRuntime(settings, api_client=ApiClient(configuration))
            try:
                yield runtime, server
            finally:
                await runtime.aclose()
            server.verify()

    return play


async def start(runtime: KubernetesRuntime) -> str:
    return await runtime.start(
        room_id=ROOM_ID,
        room_code=CODE,
        agent_secret="s3cret-agent-token",
        start_url="https://example.com/",
    )


def test_it_is_a_room_runtime() -> None:
    runtime: Any = KubernetesRuntime(Settings(_env_file=None))  # type: ignore[call-arg]
    assert isinstance(runtime, RoomRuntime)
    assert runtime.name == "kubernetes"


async def test_start_creates_policy_secret_then_pod(played: Played) -> None:
    async with played("start") as (runtime, server):
        assert await start(runtime) == REF
    kinds = [(r.method, r.path.rsplit("/", 1)[-1]) for r in server.received]
    assert kinds == [
        ("POST", "networkpolicies"),
        ("POST", "secrets"),
        ("POST", "pods"),
        ("PATCH", f"{POD}-agent"),
    ]
    policy, secret, pod = (r.body for r in server.received[:3])
    # Everything created carries this deployment's id; the policy selects its pods only.
    assert policy["metadata"]["name"] == POLICY
    for obj in (policy, secret, pod):
        assert obj["metadata"]["labels"]["watchparty.io/deployment"] == DEPLOYMENT
    selector = policy["spec"]["podSelector"]["matchLabels"]
    assert selector["watchparty.io/deployment"] == DEPLOYMENT
    assert selector.items() <= pod["metadata"]["labels"].items()
    # The secret never travels in the Pod spec; the agent reads it from the Secret.
    assert "s3cret-agent-token" not in str(pod)
    env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
    assert "value" not in env["WP_AGENT_SECRET"]


async def test_the_policy_is_ensured_once_per_runtime(played: Played) -> None:
    async with played("start") as (runtime, server):
        await start(runtime)
        assert runtime._policy_ready
    assert sum(r.path.endswith("networkpolicies") for r in server.received) == 1


async def test_conflicts_delete_the_stale_object_and_retry_once(played: Played) -> None:
    async with played("start_conflict") as (runtime, server):
        assert await start(runtime) == REF
    deletes = [r for r in server.received if r.method == "DELETE"]
    assert [r.query for r in deletes] == [{"gracePeriodSeconds": "0"}] * 2


async def test_a_forbidden_start_fails_readably_and_cleans_up(played: Played) -> None:
    async with played("start_forbidden") as (runtime, server):
        with pytest.raises(RuntimeUnavailable, match="RBAC"):
            await start(runtime)
    assert (server.received[-1].method, server.received[-1].path) == (
        "DELETE",
        f"/api/v1/namespaces/{NS}/secrets/{POD}-agent",
    )


async def test_stop_deletes_both_and_404_is_success(played: Played) -> None:
    async with played("stop") as (runtime, _):
        await runtime.stop(runtime_ref=REF)
        await runtime.stop(runtime_ref=REF)  # idempotent: both already gone


async def test_status_maps_pod_states(played: Played) -> None:
    async with played("status") as (runtime, _):
        seen = [await runtime.status(runtime_ref=REF) for _ in range(9)]
    assert [(i.state, i.detail) for i in seen] == [
        ("missing", None),
        ("starting", "scheduling"),
        ("starting", "booting"),
        ("failed", 'ImagePullBackOff: Back-off pulling image "watchparty/browser:dev"'),
        ("running", None),
        ("failed", "OOMKilled: exit code 137"),
        (
            "failed",
            "Evicted: The node was low on resource: memory. "
            "Threshold quantity: 100Mi, available: 60Mi.",
        ),
        ("stopped", "exited"),
        ("stopped", "terminating"),
    ]
    assert all(i.runtime_ref == REF for i in seen)
    assert seen[0].room_id is None
    assert {i.room_id for i in seen[1:]} == {ROOM_ID}


async def test_list_managed_selects_by_label_and_reports_orphan_secrets(played: Played) -> None:
    async with played("list_managed") as (runtime, server):
        infos = await runtime.list_managed()
    selector = (
        "app.kubernetes.io/component=room,app.kubernetes.io/managed-by=watchparty,"
        f"watchparty.io/deployment={DEPLOYMENT}"
    )
    assert [r.query for r in server.received] == [{"labelSelector": selector}] * 2
    assert [(i.runtime_ref, str(i.room_id), i.state) for i in infos] == [
        (REF, str(ROOM_ID), "running"),
        (f"{NS}/wp-room-q3w4e5r6-5d8e2f01", "0c9b8a76-5432-4e10-8f9e-aabbccddeeff", "failed"),
        (f"{NS}/wp-room-zz9988yy-0a1b2c3d", "11111111-2222-4333-8444-555555555555", "stopped"),
    ]
    assert infos[2].detail == "agent secret without a pod"


async def test_another_deployment_asks_for_its_own_rooms_only() -> None:
    """A second deployment in the same namespace sends its own deployment in the selector, so the
    API server never returns the first one's pods and secrets (here: the recorded list, which is
    the first deployment's, is not what it asks for)."""
    with KubeContractServer(load_contract(CONTRACTS / "list_managed.json")) as server:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, KUBERNETES_API_TIMEOUT_SECONDS=5, DEPLOYMENT_ID="other-deployment"
        )
        runtime = KubernetesRuntime(settings, api_client=ApiClient(Configuration(host=server.url)))
        try:
            with pytest.raises(RuntimeUnavailable):
                await runtime.list_managed()
        finally:
            await runtime.aclose()
    assert server.received[0].query == {
        "labelSelector": "app.kubernetes.io/component=room,app.kubernetes.io/managed-by=watchparty,"
        "watchparty.io/deployment=other-deployment"
    }
    assert server.violations


async def test_the_contract_server_rejects_unexpected_calls(played: Played) -> None:
    """Guard for the guard: a call the contract does not expect is reported, not served."""
    with pytest.raises(AssertionError, match="contract violations"):
        async with played("stop") as (runtime, _):
            with pytest.raises(RuntimeUnavailable):
                await runtime.status(runtime_ref=REF)  # GET where a DELETE is recorded
            await runtime.stop(runtime_ref=REF)
            await runtime.stop(runtime_ref=REF)


async def test_an_unreachable_api_is_a_readable_failure() -> None:
    settings = Settings(_env_file=None, KUBERNETES_API_TIMEOUT_SECONDS=1)  # type: ignore[call-arg]
    configuration = Configuration(host="http://127.0.0.1:9")  # discard port: refused
    configuration.retries = False
    runtime = KubernetesRuntime(settings, api_client=ApiClient(configuration))
    try:
        with pytest.raises(RuntimeUnavailable, match="cannot reach the Kubernetes API"):
            await start(runtime)
    finally:
        await runtime.aclose()
