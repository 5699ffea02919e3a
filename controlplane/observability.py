"""Structured logs with a request id, and Prometheus metrics."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from controlplane.realtime.agent_media import AgentMedia

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

_STANDARD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
}


# What must never reach a log line as itself: C0 controls (CR and LF forge lines, ESC drives the
# terminal that tails the log), DEL, C1 controls (NEL is a line break to some readers) and the
# Unicode line and paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(value: str) -> str:
    """`value` with every control character written as an escape (`\\n` -> `\\x0a`), so a
    logged value (a request path, a header, a user's text) is always one line of plain text."""
    return _CONTROL.sub(_escape_char, value)


def _clean(value: Any) -> Any:
    """A logged value made safe: strings escaped, containers walked, numbers and the like kept
    (JSON keeps their type); anything else by its `str`, escaped."""
    if isinstance(value, str):
        return escape_controls(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {escape_controls(str(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean(v) for v in value]
    return escape_controls(str(value))


class StructuredFormatter(logging.Formatter):
    """One line per record: JSON in production, `key=value` pairs for people otherwise.

    The one place logs are written: every value of a record (its message, its `extra` fields,
    the logger's name) has its control characters escaped here, whoever logged it, so no value
    can forge a line or reach a terminal as an escape sequence. A traceback keeps its line
    breaks (in text, each of its lines is indented, so none can pass for a record)."""

    def __init__(self, *, as_json: bool) -> None:
        super().__init__()
        self.as_json = as_json

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": escape_controls(record.name),
            "msg": escape_controls(record.getMessage()),
        }
        if (rid := request_id_var.get()) is not None:
            fields["request_id"] = escape_controls(rid)
        fields.update(
            {
                escape_controls(k): _clean(v)
                for k, v in record.__dict__.items()
                if k not in _STANDARD_ATTRS
            }
        )
        exc = self.formatException(record.exc_info) if record.exc_info else None
        if self.as_json:
            if exc:
                # JSON writes the traceback's line breaks as \n itself; the rest is escaped.
                fields["exc"] = "\n".join(escape_controls(line) for line in exc.split("\n"))
            return json.dumps(fields, default=str)
        ts, level, logger, msg = (fields.pop(k) for k in ("ts", "level", "logger", "msg"))
        head = f"{ts} {level:<7} {logger}: {msg}"
        tail = " ".join(f"{k}={v}" for k, v in fields.items())
        if exc:
            exc = "\n".join("  " + escape_controls(line) for line in exc.split("\n"))
        return f"{head} {tail}".rstrip() + (f"\n{exc}" if exc else "")


def configure_logging(*, level: str, as_json: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(StructuredFormatter(as_json=as_json))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "watchparty_http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "watchparty_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
        )
        # Set when /metrics is scraped (the database is the truth; these are its counts now).
        self.rooms = Gauge(
            "watchparty_rooms",
            "Rooms by status (warm-pool browsers not included)",
            ["status"],
            registry=self.registry,
        )
        self.warm_pool = Gauge(
            "watchparty_warm_pool",
            "Warm-pool browsers: target size, ready, starting",
            ["state"],
            registry=self.registry,
        )
        # Room agents' encoder ladders, from their last heartbeat (set when /metrics is scraped,
        # for the agents connected to this process).
        self.rung_viewers = Gauge(
            "watchparty_agent_rung_viewers",
            "Viewers on each rung of a room's encoder ladder",
            ["room", "rung"],
            registry=self.registry,
        )
        self.rung_keyframes = Gauge(
            "watchparty_agent_rung_keyframes",
            "Keyframes each rung encoded since the agent started",
            ["room", "rung"],
            registry=self.registry,
        )
        self.rung_cpu = Gauge(
            "watchparty_agent_rung_encode_cpu_percent",
            "Scaling and encoding CPU of each rung (% of a core, last heartbeat interval)",
            ["room", "rung"],
            registry=self.registry,
        )
        self.rung_switches = Gauge(
            "watchparty_agent_rung_switches",
            "Viewer moves between rungs since the agent started",
            ["room"],
            registry=self.registry,
        )
        self.viewer_estimate = Gauge(
            "watchparty_agent_viewer_estimate_kbps",
            "Each viewer's bandwidth estimate",
            ["room", "conn"],
            registry=self.registry,
        )
        self.viewer_rung = Gauge(
            "watchparty_agent_viewer_rung_height",
            "The height of the rung each viewer is on",
            ["room", "conn"],
            registry=self.registry,
        )
        self.sockets = Gauge(
            "watchparty_sockets",
            "Open room and agent WebSockets on this API process",
            ["kind"],
            registry=self.registry,
        )
        # Served processes only (controlplane/heap.py), moved in at each scrape: every
        # collection stops the event loop.
        self.gc_pauses = Histogram(
            "watchparty_gc_pause_seconds",
            "Pauses of the garbage collector, which stop every socket of this process",
            ["generation"],
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )


def observe_gc_pauses(metrics: Metrics, pauses: list[tuple[int, float]]) -> None:
    """The collector's pauses since the last scrape (controlplane/heap.py `CollectorPauses`)."""
    for generation, seconds in pauses:
        metrics.gc_pauses.labels(generation=str(generation)).observe(seconds)


def set_agent_media(metrics: Metrics, media: dict[str, AgentMedia]) -> None:
    """The ladder gauges from the agents' last heartbeats: rooms and viewers gone are dropped."""
    gauges = (
        metrics.rung_viewers,
        metrics.rung_keyframes,
        metrics.rung_cpu,
        metrics.rung_switches,
        metrics.viewer_estimate,
        metrics.viewer_rung,
    )
    for gauge in gauges:
        gauge.clear()
    for room, figures in media.items():
        metrics.rung_switches.labels(room=room).set(figures.rung_switches)
        for r in figures.rungs:
            metrics.rung_viewers.labels(room=room, rung=r.rung).set(r.viewers)
            metrics.rung_keyframes.labels(room=room, rung=r.rung).set(r.keyframes)
            metrics.rung_cpu.labels(room=room, rung=r.rung).set(r.encode_cpu_percent)
        for v in figures.viewers:
            metrics.viewer_estimate.labels(room=room, conn=v.conn).set(v.estimate_kbps)
            metrics.viewer_rung.labels(room=room, conn=v.conn).set(v.rung_height)


class RequestContextMiddleware:
    """Gives each request an id (echoed as `X-Request-ID`), logs it, and records metrics."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.log = logging.getLogger("controlplane.http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex
        token = request_id_var.set(rid)
        started = time.perf_counter()
        status_code = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", rid.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            self.metrics.requests.labels(scope["method"], path, str(status_code)).inc()
            self.metrics.latency.labels(scope["method"], path).observe(elapsed)
            self.log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status_code,
                    "ms": round(elapsed * 1000, 1),
                },
            )
            request_id_var.reset(token)
