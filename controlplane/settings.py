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

    @field_validator("CORS_ORIGINS", mode="before")
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
