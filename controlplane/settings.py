"""All configuration, read once from the environment (and an optional `.env`).

With no configuration at all the product runs embedded: SQLite under `DATA_DIR`, in-process bus,
session store and rate limits, rooms as local processes. `DATABASE_URL` and `REDIS_URL` switch to
PostgreSQL and Redis.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SECRET = "change-me"


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
    LOG_JSON: bool = False

    # Storage
    DATABASE_URL: str | None = None
    REDIS_URL: str | None = None

    # Secrets
    SECRET_KEY: str = DEFAULT_SECRET
    AGENT_SECRET_KEY: str = DEFAULT_SECRET

    # Accounts and sessions
    ACCESS_TOKEN_MINUTES: int = Field(default=15, ge=1)
    REFRESH_TOKEN_DAYS: int = Field(default=7, ge=1)
    RESET_TOKEN_MINUTES: int = Field(default=60, ge=1)
    PASSWORD_MIN_LENGTH: int = Field(default=8, ge=6)
    RATE_LIMIT_LOGIN_PER_MINUTE: int = Field(default=10, ge=1)
    RATE_LIMIT_REGISTER_PER_HOUR: int = Field(default=20, ge=1)
    RATE_LIMIT_FORGOT_PER_HOUR: int = Field(default=5, ge=1)
    RATE_LIMIT_REFRESH_PER_MINUTE: int = Field(default=30, ge=1)
    RATE_LIMIT_IP_MULTIPLIER: int = Field(default=5, ge=1)
    TRUST_PROXY_HEADERS: bool = False

    # E-mail
    SMTP_HOST: str | None = None
    SMTP_PORT: int = 587
    SMTP_USER: str | None = None
    SMTP_PASSWORD: str | None = None
    SMTP_TLS: Literal["none", "starttls", "ssl"] = "starttls"
    SMTP_FROM: str = "Watch Party <no-reply@localhost>"

    # Rooms
    ROOM_RUNTIME: Literal["local", "docker", "kubernetes"] = "local"
    ALLOW_LOCAL_RUNTIME_IN_PRODUCTION: bool = False
    ROOM_MAX_PARTICIPANTS: int = Field(default=10, ge=1)
    ROOM_MAX_PARTICIPANTS_CAP: int = Field(default=50, ge=1)
    ROOM_CREATES_PER_HOUR: int = Field(default=5, ge=1)
    ROOM_MAX_LIVE: int = Field(default=20, ge=1)
    ROOM_IDLE_MINUTES: int = Field(default=10, ge=1)
    ROOM_MAX_HOURS: float = Field(default=4, gt=0)
    ROOM_ALLOW_PRIVATE_URLS: bool = False
    # The room browser every runtime starts (passed to the agent as WP_* variables).
    AGENT_CONTROL_URL: str = "ws://127.0.0.1:8000"  # where room agents dial the agent channel
    ROOM_WIDTH: int = Field(default=1280, ge=320, le=3840)
    ROOM_HEIGHT: int = Field(default=720, ge=240, le=2160)
    ROOM_FPS: int = Field(default=30, ge=5, le=60)
    ROOM_CODEC: Literal["h264", "vp8"] = "h264"
    ROOM_BITRATE_KBPS: int = Field(default=3000, ge=300, le=50000)
    ROOM_START_TIMEOUT_SECONDS: float = Field(default=60, gt=0)
    # When the holder releases the remote it goes back to the host (else to nobody).
    ROOM_RELEASE_TO_HOST: bool = False
    # Seconds a user's last socket may be gone before `presence.left` (a reload stays quiet).
    ROOM_PRESENCE_GRACE_SECONDS: float = Field(default=3.0, ge=0)
    ROOM_WS_AUTH_TIMEOUT_SECONDS: float = Field(default=5.0, gt=0)
    ROOM_WS_MAX_FRAME_BYTES: int = Field(default=65536, ge=1024)
    ROOM_CHAT_MAX_CHARS: int = Field(default=2000, ge=1)
    ROOM_CHAT_RATE_COUNT: int = Field(default=10, ge=1)
    ROOM_CHAT_RATE_SECONDS: int = Field(default=5, ge=1)
    ROOM_RECENT_CHAT: int = Field(default=50, ge=0, le=500)

    # WebRTC: ICE servers handed to viewers and agents. TURN credentials are the TURN REST kind
    # (coturn `use-auth-secret` / `static-auth-secret` = TURN_SECRET), valid TURN_TTL_SECONDS.
    STUN_URLS: Annotated[list[str], NoDecode] = Field(default_factory=list)
    TURN_URLS: Annotated[list[str], NoDecode] = Field(default_factory=list)
    TURN_SECRET: str | None = None
    TURN_TTL_SECONDS: int = Field(default=3600, ge=60)

    @field_validator("CORS_ORIGINS", "STUN_URLS", "TURN_URLS", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @cached_property
    def database_url(self) -> str:
        if self.DATABASE_URL:
            return self.DATABASE_URL
        return f"sqlite+aiosqlite:///{(self.DATA_DIR / 'watchparty.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def mode(self) -> str:
        """A one-line description of how this deployment stores things, for logs and `doctor`."""
        db = "sqlite" if self.is_sqlite else "postgresql"
        bus = "redis" if self.REDIS_URL else "in-process"
        return f"database={db} bus={bus} runtime={self.ROOM_RUNTIME}"

    def insecure_reasons(self) -> list[str]:
        """What makes this configuration unfit for production (empty when it is fit)."""
        reasons = []
        for name in ("SECRET_KEY", "AGENT_SECRET_KEY"):
            value = getattr(self, name)
            if not value or value == DEFAULT_SECRET or len(value) < 32:
                reasons.append(f"{name} is the default or shorter than 32 characters")
        if self.ROOM_RUNTIME == "local" and not self.ALLOW_LOCAL_RUNTIME_IN_PRODUCTION:
            reasons.append(
                "ROOM_RUNTIME=local runs browsers without isolation; "
                "set ALLOW_LOCAL_RUNTIME_IN_PRODUCTION=true to accept that"
            )
        if self.SMTP_HOST and self.SMTP_PASSWORD == DEFAULT_SECRET:
            reasons.append("SMTP_PASSWORD is the default")
        return reasons

    def check_production(self) -> None:
        if self.ENVIRONMENT == "production" and (reasons := self.insecure_reasons()):
            raise InsecureSettingsError("refusing to start in production: " + "; ".join(reasons))
