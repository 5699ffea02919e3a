"""All configuration, read once from the environment (and an optional `.env`).

With no configuration at all the product runs embedded: SQLite under `DATA_DIR`, in-process bus,
session store and rate limits, rooms as local processes. `DATABASE_URL` and `REDIS_URL` switch to
PostgreSQL and Redis.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, IPvAnyNetwork, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SECRET = "change-me"
# Secrets anyone can read in this repository or its history: a token signed with one is forgeable.
KNOWN_DEFAULT_SECRETS = frozenset({DEFAULT_SECRET, ""})
SECRET_NAMES = ("SECRET_KEY", "AGENT_SECRET_KEY", "PROFILE_SECRET_KEY")


def is_loopback_host(host: str) -> bool:
    """Whether binding `host` keeps the server reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name or a wildcard ("0.0.0.0", "::", ""): take it as reachable


class InsecureSettingsError(RuntimeError):
    """Raised when production mode is asked to start with default or empty secrets."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_ignore_empty=True, extra="ignore")

    ENVIRONMENT: Literal["development", "production", "test"] = "development"
    DATA_DIR: Path = Path("data")
    PUBLIC_URL: str = "http://localhost:8000"
    CORS_ORIGINS: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://localhost:5173"]
    )
    LOG_LEVEL: str = "INFO"
    # A stopping API process waits this long for open requests and sockets to finish (then
    # cancels them), and at most this long for each step of its own shutdown after that
    # (background tasks, the hub, the runtime, Redis, the database), so a dependency that hangs
    # (Redis cut off) cannot keep it up.
    SHUTDOWN_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0)
    # On SIGTERM an API process first moves its room and agent sockets to the others (a rolling
    # upgrade): it stops accepting, closes them with 1012 "service restart" spread over this
    # long (so the others are not hit by every client at once), then waits at most
    # SHUTDOWN_TIMEOUT_SECONDS for them to be gone before stopping (controlplane/draining.py).
    SHUTDOWN_DRAIN_SECONDS: float = Field(default=5.0, ge=0)
    # Largest HTTP request body any route accepts (a larger one is refused with 413 before it
    # is read); no route takes more than a few KiB.
    MAX_REQUEST_BODY_BYTES: int = Field(default=65536, ge=1024)
    LOG_JSON: bool = False
    # The built web app (`npm run build` in frontend/); unset: this checkout's frontend/dist.
    WEB_DIR: Path | None = None

    # Storage
    DATABASE_URL: str | None = None
    REDIS_URL: str | None = None
    # REDIS_URL names one node of a Redis Cluster (>= 7): keys and shard channels are spread
    # over its masters by room (docs/architecture.md, "Redis Cluster").
    REDIS_CLUSTER: bool = False
    # Celery's broker (the worker's and beat's queue, and e-mail jobs): REDIS_URL when unset.
    # Celery speaks to one Redis only, so with REDIS_CLUSTER it must be set to a plain Redis.
    CELERY_BROKER_URL: str | None = None

    # Secrets
    SECRET_KEY: str = DEFAULT_SECRET
    AGENT_SECRET_KEY: str = DEFAULT_SECRET
    # Wraps the data key of every saved browser profile (HKDF-derived; rooms/profile_crypto.py).
    # Changing it makes every saved profile unreadable (refused, the rooms start clean).
    PROFILE_SECRET_KEY: str = DEFAULT_SECRET

    # Accounts and sessions
    ACCESS_TOKEN_MINUTES: int = Field(default=15, ge=1)
    REFRESH_TOKEN_DAYS: int = Field(default=7, ge=1)
    RESET_TOKEN_MINUTES: int = Field(default=60, ge=1)
    PASSWORD_MIN_LENGTH: int = Field(default=8, ge=6)
    # Argon2id cost of a stored password (pwdlib's recommended 64 MiB, 3 passes by default).
    # Production refuses less than OWASP's floor (19 MiB, 2 passes); the test suite sets the
    # least Argon2 allows, since its hundreds of sign-ups and sign-ins would otherwise spend
    # minutes hashing (0.2 s of CPU each).
    PASSWORD_HASH_MEMORY_KIB: int = Field(default=65536, ge=32)
    PASSWORD_HASH_TIME_COST: int = Field(default=3, ge=1)
    RATE_LIMIT_LOGIN_PER_MINUTE: int = Field(default=10, ge=1)
    RATE_LIMIT_REGISTER_PER_HOUR: int = Field(default=20, ge=1)
    RATE_LIMIT_FORGOT_PER_HOUR: int = Field(default=5, ge=1)
    RATE_LIMIT_REFRESH_PER_MINUTE: int = Field(default=30, ge=1)
    RATE_LIMIT_IP_MULTIPLIER: int = Field(default=5, ge=1)
    # Wrong room codes (any route or socket that takes a code) per user per minute; over it
    # every lookup is refused until the minute ends.
    RATE_LIMIT_ROOM_CODE_MISSES_PER_MINUTE: int = Field(default=20, ge=1)
    TRUST_PROXY_HEADERS: bool = False
    # Proxies in front of the API that each append to X-Forwarded-For (with TRUST_PROXY_HEADERS):
    # the client is the entry the outermost of them appended, never one the client wrote.
    TRUST_PROXY_HOPS: int = Field(default=1, ge=1, le=10)
    # The proxies' own addresses (CIDRs, comma or JSON list): X-Forwarded-For is believed only
    # when the connection comes from one of them; any other peer is the client, whatever it sends.
    TRUSTED_PROXY_CIDRS: Annotated[list[IPvAnyNetwork], NoDecode] = Field(
        default_factory=lambda: [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1")]
    )
    # When set, GET /metrics answers only `Authorization: Bearer <METRICS_TOKEN>` (unset: open).
    METRICS_TOKEN: str | None = Field(default=None, min_length=16)

    # E-mail
    SMTP_HOST: str | None = None
    SMTP_PORT: int = 587
    SMTP_USER: str | None = None
    SMTP_PASSWORD: str | None = None
    SMTP_TLS: Literal["none", "starttls", "ssl"] = "starttls"
    SMTP_FROM: str = "Watch Party <no-reply@localhost>"

    # Rooms
    # "none": an API-only deployment (staging, API tests): rooms fail at once with that reason.
    ROOM_RUNTIME: Literal["local", "docker", "kubernetes", "none"] = "local"
    ALLOW_LOCAL_RUNTIME_IN_PRODUCTION: bool = False
    ROOM_MAX_PARTICIPANTS: int = Field(default=10, ge=1)
    ROOM_MAX_PARTICIPANTS_CAP: int = Field(default=50, ge=1)
    # Viewer peers one room agent serves at most (unset: ROOM_MAX_PARTICIPANTS_CAP + 5).
    ROOM_AGENT_MAX_VIEWERS: int | None = Field(default=None, ge=1)
    ROOM_CREATES_PER_HOUR: int = Field(default=5, ge=1)
    ROOM_MAX_LIVE: int = Field(default=20, ge=1)
    ROOM_IDLE_MINUTES: int = Field(default=10, ge=1)
    ROOM_MAX_HOURS: float = Field(default=4, gt=0)
    ROOM_ALLOW_PRIVATE_URLS: bool = False
    # The room browser every runtime starts (passed to the agent as WP_* variables).
    # Tells this deployment's rooms from another's on a shared host or engine (default: derived
    # from the database URL), so one deployment's orphan sweep never touches another's rooms.
    DEPLOYMENT_ID: str | None = Field(default=None, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")
    # The agent channel's own listener: `/internal/agents/ws` is answered there and nowhere else,
    # and nothing else is answered there, so rooms' networks can admit this port alone.
    # 0: any free port, which `watchparty serve` picks (and puts in AGENT_CONTROL_URL when unset).
    AGENT_PORT: int = Field(default=8001, ge=0, le=65535)
    # Where room agents dial the agent channel: the AGENT_PORT listener as seen from the rooms.
    AGENT_CONTROL_URL: str = "ws://127.0.0.1:8001"
    ROOM_WIDTH: int = Field(default=1280, ge=320, le=3840)
    ROOM_HEIGHT: int = Field(default=720, ge=240, le=2160)
    ROOM_FPS: int = Field(default=30, ge=5, le=60)
    ROOM_CODEC: Literal["h264", "vp8"] = "h264"
    ROOM_BITRATE_KBPS: int = Field(default=3000, ge=300, le=50000)
    # Encoder trade-off of the room stream (the agent's WP_QUALITY; docs/performance.md).
    ROOM_QUALITY: Literal["latency", "balanced", "quality"] = "latency"
    # How viewers' browsers time the room's video (the agent's WP_VIDEO_PLAYOUT,
    # roomagent/media/playout.py): "auto" shows frames at once while the room is silent and keeps
    # lip sync while it sounds; "synced" always keeps lip sync; "immediate" never does.
    ROOM_VIDEO_PLAYOUT: Literal["auto", "synced", "immediate"] = "auto"
    # The encoder ladder below the room's own stream (the agent's WP_LADDER,
    # roomagent/media/ladder.py): `HEIGHTp[@FPS]:KBPS` rungs, best first, comma-separated. Each
    # viewer gets the rung its bandwidth allows; "" = one rung (everyone gets the top stream).
    ROOM_LADDER: Annotated[
        str, Field(pattern=r"^(\s*\d{2,4}p(@\d{1,2})?\s*:\s*\d{2,6}\s*(,|$))*$")
    ] = "480p:1000,360p:450,360p@15:250"
    ROOM_START_TIMEOUT_SECONDS: float = Field(default=60, gt=0)
    # Browsers kept started and waiting, handed to new rooms so they are live in about a second.
    ROOM_WARM_POOL: int = Field(default=0, ge=0, le=100)
    ROOM_HEARTBEAT_TIMEOUT_SECONDS: float = Field(default=120, gt=0)
    ROOM_MAX_AGE_WARNING_SECONDS: float = Field(default=60, ge=0)
    # "Keep my browser profile" (issue 22): the largest profile kept (its JSON: cookies and local
    # storage), and how often a running room saves it (and once more when it ends).
    PROFILE_MAX_BYTES: int = Field(default=2 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    PROFILE_SAVE_INTERVAL_SECONDS: float = Field(default=180, ge=5)
    REAPER_INTERVAL_SECONDS: float = Field(default=60, gt=0)
    # When the holder releases the remote it goes back to the host (else to nobody).
    ROOM_RELEASE_TO_HOST: bool = False
    # Seconds a user's last socket may be gone before `presence.left` (a reload stays quiet).
    ROOM_PRESENCE_GRACE_SECONDS: float = Field(default=3.0, ge=0)
    ROOM_WS_AUTH_TIMEOUT_SECONDS: float = Field(default=5.0, gt=0)
    ROOM_WS_MAX_FRAME_BYTES: int = Field(default=65536, ge=1024)
    # What one socket may have waiting to be sent, and how long one send may make no progress,
    # before the socket is closed (1013) as too slow: a peer that stops reading pins no memory.
    ROOM_WS_OUTBOX_MAX_MESSAGES: int = Field(default=4096, ge=16)
    ROOM_WS_OUTBOX_MAX_BYTES: int = Field(default=1 << 20, ge=65536)
    ROOM_WS_STALL_SECONDS: float = Field(default=5.0, gt=0)
    # Room sockets one user may hold in one room at once (tabs, devices); more close with 4429.
    ROOM_MAX_SOCKETS_PER_USER: int = Field(default=5, ge=1)
    # How often an open room socket re-checks its session and user (it is also closed when its
    # token expires without an `auth` frame bringing a fresh one).
    ROOM_WS_AUTH_RECHECK_SECONDS: float = Field(default=30.0, gt=0)
    # How often a room's agent is told the room's present sockets (`peers.sync`) to drop the
    # peers of any other (on every agent (re)connect too, in `auth.ok`).
    ROOM_AGENT_PEER_SYNC_SECONDS: float = Field(default=30.0, gt=0)
    # voice.state/voice.leave (one coalescer) and chat.typing from one socket: at most one
    # broadcast per interval (the latest wins).
    ROOM_WS_STATE_UPDATE_INTERVAL_SECONDS: float = Field(default=0.25, ge=0)
    ROOM_CHAT_MAX_CHARS: int = Field(default=2000, ge=1)
    ROOM_CHAT_RATE_COUNT: int = Field(default=10, ge=1)
    ROOM_CHAT_RATE_SECONDS: int = Field(default=5, ge=1)
    ROOM_RECENT_CHAT: int = Field(default=50, ge=0, le=500)
    # Watching together (issue 21): reactions per user per window, the queue's length, and how
    # long a member's burst of media commands is gathered into one chat line.
    ROOM_REACTION_RATE_COUNT: int = Field(default=5, ge=1)
    ROOM_REACTION_RATE_SECONDS: int = Field(default=3, ge=1)
    ROOM_QUEUE_MAX: int = Field(default=50, ge=1, le=1000)
    ROOM_MEDIA_LINE_COALESCE_SECONDS: float = Field(default=2.0, ge=0)
    # Issue 22: tabs the room's browser holds at most (the agent's WP_MAX_TABS): the holder's
    # `tabs.open` past it is refused with `too_many_tabs`, a page's new window is closed.
    ROOM_MAX_TABS: int = Field(default=5, ge=1, le=20)
    # Clipboard and files (issue 22): the most text one paste or copy carries (UTF-8 bytes; at
    # most the wire's CLIPBOARD_HARD_MAX_BYTES, which keeps it inside one 64 KiB frame), and the
    # most the files the holder hands one file chooser may weigh together (they are written to
    # the room's temp dir, a tmpfs of ROOM_TMP_MB in containers).
    ROOM_CLIPBOARD_MAX_BYTES: int = Field(default=8192, ge=1, le=16_384)
    ROOM_FILE_MAX_BYTES: int = Field(default=10 * 1024 * 1024, ge=1, le=256 * 1024 * 1024)

    # WebRTC: ICE servers handed to viewers and agents. TURN credentials are the TURN REST kind
    # (coturn `use-auth-secret` / `static-auth-secret` = TURN_SECRET), valid TURN_TTL_SECONDS.
    STUN_URLS: Annotated[list[str], NoDecode] = Field(default_factory=list)
    TURN_URLS: Annotated[list[str], NoDecode] = Field(default_factory=list)
    TURN_SECRET: str | None = None
    TURN_TTL_SECONDS: int = Field(default=3600, ge=60)
    # Viewers whose network drops UDP reach TURN over TCP: each `turn:` (UDP) server in TURN_URLS
    # is handed out with its `?transport=tcp` twin (coturn listens on TCP at the same port), and
    # with a TLS port (coturn with a certificate) `turns:HOST:TURN_TLS_PORT?transport=tcp` too.
    TURN_TCP: bool = True
    TURN_TLS_PORT: int | None = Field(default=None, ge=1, le=65535)

    # Room containers and pods (docker and kubernetes runtimes): the image and per-room limits.
    ROOM_IMAGE: str = "watchparty/browser:dev"  # the browser image (browser-image/)
    ROOM_CPU_LIMIT: float = Field(default=2.0, gt=0)  # CPU cores a room may use
    # Memory a room may use; tmpfs (/tmp, /dev/shm) contents count against it on Kubernetes.
    ROOM_MEMORY_LIMIT_MB: int = Field(default=2048, ge=256)
    ROOM_SHM_MB: int = Field(default=1024, ge=64)  # size of /dev/shm (Chromium needs a big one)
    ROOM_TMP_MB: int = Field(default=512, ge=64)  # size of the /tmp tmpfs (home, profile, X)

    # Docker runtime (ROOM_RUNTIME=docker). The engine is the one `docker` would use (DOCKER_HOST,
    # DOCKER_TLS_VERIFY, DOCKER_CERT_PATH are read by the docker SDK). See docs/deployment.md.
    # The dedicated bridge network every room container joins (created if missing).
    DOCKER_NETWORK: str = "watchparty-rooms"
    # Its Linux bridge interface: the egress rules match traffic by it (at most 15 characters).
    DOCKER_BRIDGE_NAME: str = Field(default="wp-rooms0", pattern=r"^[A-Za-z0-9_.-]{1,15}$")
    # Its IPv4 subnet; the first address is the gateway, i.e. the host as rooms see it.
    DOCKER_SUBNET: str = "10.213.0.0/22"
    # Block room egress to private, loopback, link-local and metadata ranges and to the host
    # itself with iptables rules (needs root/CAP_NET_ADMIN in the host's network namespace).
    DOCKER_EGRESS_FIREWALL: bool = True
    # Extra destinations rooms may reach despite the block: `IP`, `CIDR`, `IP:PORT` or
    # `CIDR:PORT` (tcp and udp), comma list or JSON list, e.g. a TURN server on a private address.
    DOCKER_EGRESS_ALLOW: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # DNS servers for rooms (comma list); unset: the host's /etc/resolv.conf servers, as Docker
    # does. Port 53 on them stays reachable.
    DOCKER_DNS: Annotated[list[str], NoDecode] = Field(default_factory=list)
    DOCKER_IPTABLES: str = "iptables"  # the iptables binary Docker itself uses (nft or legacy)
    DOCKER_PIDS_LIMIT: int = Field(default=512, ge=64)  # processes/threads per room container
    DOCKER_OCI_RUNTIME: str | None = None  # e.g. `runsc` for gVisor (unset: the engine default)
    DOCKER_API_TIMEOUT_SECONDS: float = Field(default=30.0, gt=0)  # per Docker API call

    # Kubernetes runtime (ROOM_RUNTIME=kubernetes). See docs/deployment.md for the RBAC it needs.
    # Namespace the room pods and secrets live in.
    KUBERNETES_NAMESPACE: str = "watchparty-rooms"
    # Path of a kubeconfig file; unset: in-cluster service account, else $KUBECONFIG/~/.kube/config.
    KUBERNETES_KUBECONFIG: str | None = None
    KUBERNETES_CONTEXT: str | None = None  # kubeconfig context (unset: the current one)
    KUBERNETES_API_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0)  # per API call
    # Guaranteed share per room pod (the limits are ROOM_CPU_LIMIT / ROOM_MEMORY_LIMIT_MB).
    KUBERNETES_CPU_REQUEST: float = Field(default=0.5, gt=0)
    KUBERNETES_MEMORY_REQUEST_MB: int = Field(default=1024, ge=64)
    KUBERNETES_IMAGE_PULL_POLICY: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    # Names of image pull secrets in KUBERNETES_NAMESPACE (comma list or JSON list).
    KUBERNETES_IMAGE_PULL_SECRETS: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # RuntimeClass for room pods, e.g. `gvisor` or `kata` for a sandbox (unset: the default).
    KUBERNETES_RUNTIME_CLASS: str | None = None
    # Node labels room pods must match, JSON object, e.g. {"watchparty.io/rooms": "true"}.
    KUBERNETES_NODE_SELECTOR: dict[str, str] = Field(default_factory=dict)
    # Tolerations for room pods, JSON list of Kubernetes toleration objects.
    KUBERNETES_TOLERATIONS: list[dict[str, str | int]] = Field(default_factory=list)
    # Labels of the control plane's pods (room pods may reach them on the agent port only), JSON.
    KUBERNETES_CONTROLPLANE_LABELS: dict[str, str] = Field(
        default_factory=lambda: {
            "app.kubernetes.io/name": "watchparty",
            "app.kubernetes.io/component": "controlplane",
        }
    )
    # Namespace of the control plane's pods (unset: KUBERNETES_NAMESPACE).
    KUBERNETES_CONTROLPLANE_NAMESPACE: str | None = None
    # Their agent listener's container port (AGENT_PORT there): the one port room pods may reach.
    KUBERNETES_CONTROLPLANE_PORT: int = Field(default=8001, ge=1, le=65535)
    # Labels of in-cluster TURN (coturn) pods room pods may exchange media with, JSON (unset: none).
    KUBERNETES_TURN_LABELS: dict[str, str] = Field(default_factory=dict)
    KUBERNETES_TURN_NAMESPACE: str | None = None  # their namespace (unset: KUBERNETES_NAMESPACE)
    # Extra private CIDRs room pods may reach despite the egress block (e.g. a TURN server on a
    # private address, node-local DNS), comma list or JSON list.
    KUBERNETES_EGRESS_ALLOW_CIDRS: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # The cluster's own pod, service and node ranges (IPv4 and IPv6), comma list or JSON list:
    # room pods may never reach them. Private and unique-local ranges are always blocked; this
    # covers clusters whose ranges are public (global IPv6 is common for dual-stack pods/nodes).
    KUBERNETES_CLUSTER_CIDRS: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Create/replace the rooms NetworkPolicy before the first room starts (off when the Helm chart
    # or an admin manages it; rooms are never started without it when on).
    KUBERNETES_MANAGE_NETWORK_POLICY: bool = True

    @field_validator(
        "CORS_ORIGINS",
        "STUN_URLS",
        "TURN_URLS",
        "KUBERNETES_IMAGE_PULL_SECRETS",
        "KUBERNETES_EGRESS_ALLOW_CIDRS",
        "KUBERNETES_CLUSTER_CIDRS",
        "DOCKER_EGRESS_ALLOW",
        "DOCKER_DNS",
        mode="before",
    )
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("TRUSTED_PROXY_CIDRS", mode="before")
    @classmethod
    def _proxy_cidrs(cls, value: object) -> object:
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("TRUSTED_PROXY_CIDRS")
    @classmethod
    def _plain_proxy_cidrs(cls, value: list[Any]) -> list[Any]:
        # Peers are compared as plain IPv4 (an IPv4-mapped peer is unmapped first): a range
        # written IPv4-mapped would never match, so it is refused rather than silently dead.
        for net in value:
            if isinstance(net, ipaddress.IPv6Network) and net.subnet_of(
                ipaddress.IPv6Network("::ffff:0:0/96")
            ):
                raise ValueError(f"write {net} as a plain IPv4 range")
        return value

    @field_validator("PUBLIC_URL")
    @classmethod
    def _public_url(cls, value: str) -> str:
        # It names the WebSocket origin in the web app's CSP: anything but one http(s) origin
        # (a list, userinfo, spaces) would widen that policy or break it.
        parts = urlsplit(value)
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.username is not None
            or any(c in value for c in " ,;'\"\t\n")
        ):
            raise ValueError("PUBLIC_URL must be one http(s) URL, e.g. https://watch.example.org")
        return value

    @field_validator("KUBERNETES_CLUSTER_CIDRS")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        nets = [ipaddress.ip_network(c, strict=False) for c in value]
        if any(n.prefixlen == 0 for n in nets):
            raise ValueError("a cluster range cannot be the whole address space")
        return [str(n) for n in nets]

    @model_validator(mode="after")
    def _cluster_needs_a_plain_broker(self) -> Settings:
        # (REDIS_CLUSTER says what REDIS_URL is; without REDIS_URL there is no Redis at all.)
        if self.REDIS_CLUSTER and self.REDIS_URL and not self.CELERY_BROKER_URL:
            raise ValueError(
                "REDIS_CLUSTER=true needs CELERY_BROKER_URL: Celery's broker must be a plain "
                "Redis (redis://host:6379/0), it does not speak the cluster protocol"
            )
        return self

    @property
    def celery_broker_url(self) -> str:
        """Celery's broker: CELERY_BROKER_URL, else REDIS_URL; in-memory without either."""
        return self.CELERY_BROKER_URL or self.REDIS_URL or "memory://"

    @cached_property
    def database_url(self) -> str:
        if self.DATABASE_URL:
            return self.DATABASE_URL
        return f"sqlite+aiosqlite:///{(self.DATA_DIR / 'watchparty.db').resolve()}"

    @property
    def deployment_id(self) -> str:
        if self.DEPLOYMENT_ID:
            return self.DEPLOYMENT_ID
        return hashlib.sha256(self.database_url.encode()).hexdigest()[:12]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def mode(self) -> str:
        """A one-line description of how this deployment stores things, for logs and `doctor`."""
        db = "sqlite" if self.is_sqlite else "postgresql"
        bus = "in-process"
        if self.REDIS_URL:
            bus = "redis-cluster" if self.REDIS_CLUSTER else "redis"
        return f"database={db} bus={bus} runtime={self.ROOM_RUNTIME}"

    def unset_secrets(self) -> list[str]:
        """The secrets nobody configured (so a generated one may stand in for them)."""
        return [name for name in SECRET_NAMES if name not in self.model_fields_set]

    def known_default_secrets(self) -> list[str]:
        """The secrets whose value is public (a token signed with them is forgeable)."""
        return [name for name in SECRET_NAMES if getattr(self, name) in KNOWN_DEFAULT_SECRETS]

    def bind_refusal(self, host: str) -> str | None:
        """Why serving on `host` is refused (None: it is not): a public default secret is only
        acceptable where nobody else can reach the server."""
        names = self.known_default_secrets()
        if not names or is_loopback_host(host):
            return None
        return (
            f"refusing to serve on {host}: {', '.join(names)} is a published default, so anyone "
            "could sign tokens; set it (openssl rand -hex 32) or unset it to have one generated"
        )

    def insecure_reasons(self) -> list[str]:
        """What makes this configuration unfit for production (empty when it is fit)."""
        reasons = []
        for name in SECRET_NAMES:
            value = getattr(self, name)
            if not value or value == DEFAULT_SECRET or len(value) < 32:
                reasons.append(f"{name} is the default or shorter than 32 characters")
        if self.ROOM_RUNTIME == "local" and not self.ALLOW_LOCAL_RUNTIME_IN_PRODUCTION:
            reasons.append(
                "ROOM_RUNTIME=local runs browsers without isolation; "
                "set ALLOW_LOCAL_RUNTIME_IN_PRODUCTION=true to accept that"
            )
        if self.PASSWORD_HASH_MEMORY_KIB < 19456 or self.PASSWORD_HASH_TIME_COST < 2:
            reasons.append(
                "PASSWORD_HASH_MEMORY_KIB/PASSWORD_HASH_TIME_COST are below OWASP's Argon2id "
                "floor (19456 KiB, 2 passes)"
            )
        if not self.SMTP_HOST:
            reasons.append("SMTP_HOST is unset: password-reset links could not be sent to anyone")
        if self.SMTP_HOST and self.SMTP_PASSWORD == DEFAULT_SECRET:
            reasons.append("SMTP_PASSWORD is the default")
        return reasons

    def check_production(self) -> None:
        if self.ENVIRONMENT == "production" and (reasons := self.insecure_reasons()):
            raise InsecureSettingsError("refusing to start in production: " + "; ".join(reasons))

    @property
    def web_dir(self) -> Path:
        return self.WEB_DIR or Path(__file__).resolve().parents[1] / "frontend" / "dist"
