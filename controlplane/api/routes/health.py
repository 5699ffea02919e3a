"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
import hmac

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from controlplane.api.deps import Ctx, HubDep, draining
from controlplane.api.errors import ApiError
from controlplane.observability import Metrics, observe_gc_pauses, set_agent_media
from controlplane.rooms import service, warm_pool

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "A dependency is unreachable"}})
async def readyz(ctx: Ctx, request: Request) -> JSONResponse:
    if draining(request):  # stopping: take no new clients (a load balancer stops sending them)
        stopping = {"status": "draining", "code": "draining", "detail": "this process is stopping"}
        return JSONResponse(stopping, status_code=503)
    checks: dict[str, str] = {}

    async def database() -> None:
        async with ctx.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def redis() -> None:
        assert ctx.redis is not None
        await ctx.redis.ping()

    probes = {"database": database}
    if ctx.redis is not None:
        probes["redis"] = redis
    for name, probe in probes.items():
        try:
            await asyncio.wait_for(probe(), timeout=3)
            checks[name] = "ok"
        except Exception as exc:
            checks[name] = f"unreachable: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    body = {"status": "ok" if ok else "unavailable", "checks": checks}
    if not ok:
        body["code"] = "dependency_unreachable"
        body["detail"] = ", ".join(k for k, v in checks.items() if v != "ok") + " unreachable"
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}},
            "description": "Prometheus text format",
        },
        401: {"description": "METRICS_TOKEN is set and the request does not carry it"},
    },
)
async def metrics(request: Request, ctx: Ctx, hub: HubDep) -> Response:
    """With METRICS_TOKEN set, only `Authorization: Bearer <METRICS_TOKEN>` is answered (rooms
    and the pages they show can reach the API's port)."""
    token = ctx.settings.METRICS_TOKEN
    if token:
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise ApiError(
                401, "not_authenticated", "Metrics need their token", {"WWW-Authenticate": "Bearer"}
            )
    m: Metrics = request.app.state.metrics
    async with ctx.sessionmaker() as session:
        for status, n in (await service.room_counts(session=session)).items():
            m.rooms.labels(status=status).set(n)
    for state, n in (await warm_pool.size(ctx=ctx)).items():
        m.warm_pool.labels(state=state).set(n)
    rooms, agents = hub.open_sockets()
    m.sockets.labels(kind="room").set(len(rooms))
    m.sockets.labels(kind="agent").set(len(agents))
    set_agent_media(m, hub.agent_media())
    observe_gc_pauses(m, request.app.state.gc_pauses.drain())
    return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)
