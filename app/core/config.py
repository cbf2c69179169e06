"""Settings, read once from the environment (and an optional `.env`), as SPEC §3 names them."""

import base64
import binascii
import ipaddress
import secrets
import uuid
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any, Self

from limits import parse as parse_limit
from pydantic import (
    AnyHttpUrl,
    BeforeValidator,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SECRET_LENGTH = 32
TICKET_SEED_BYTES = 32
BROKER_SCHEMES = ("kafka://", "redis://", "rediss://")
# Few connections a process: on the hot event of `make bench-sales` (two processes, 2 cores) 30
# made 172 registrations/s, 8 made 320 — fewer transactions at once wait less for the event loop
# while holding the event's row (bench/README.md).
DEFAULT_DATABASE_POOL_SIZE = 8
PositiveSeconds = Annotated[int, Field(ge=1)]
# Empty in the environment (the default) means "not set": local mode in development.
OptionalUrl = Annotated[AnyHttpUrl | None, BeforeValidator(lambda value: value or None)]


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class LogFormat(StrEnum):
    CONSOLE = "console"
    JSON = "json"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    database_url: str = "sqlite+aiosqlite:///./events_face.db"
    database_pool_size: int = Field(default=DEFAULT_DATABASE_POOL_SIZE, ge=1, le=1000)
    jwt_secret_key: SecretStr | None = None
    jwt_issuer: str = "events-face"
    environment: Environment = Environment.DEVELOPMENT
    access_token_ttl_seconds: PositiveSeconds = 900
    refresh_token_ttl_seconds: PositiveSeconds = 604800

    events_provider_url: OptionalUrl = None
    events_provider_token: SecretStr = SecretStr("")
    notifications_url: OptionalUrl = None
    notifications_token: SecretStr = SecretStr("")
    notifications_owner_id: str = ""

    sync_interval_seconds: int = Field(default=300, ge=0)
    outbox_relay_enabled: bool = True
    outbox_poll_interval_seconds: float = Field(default=1.0, gt=0)
    outbox_max_attempts: int = Field(default=20, ge=1)
    outbox_batch_size: int = Field(default=100, ge=1, le=1000)
    outbox_concurrency: int = Field(default=10, ge=1, le=100)
    outbox_lease_seconds: float = Field(default=30.0, gt=0)
    outbox_retry_base_seconds: float = Field(default=1.0, gt=0)
    notifications_timeout_seconds: float = Field(default=5.0, gt=0)
    event_retention_days: int = Field(default=7, ge=0)

    registration_hold_seconds: PositiveSeconds = 1800
    waitlist_offer_seconds: PositiveSeconds = 86400
    code_resend_interval_seconds: PositiveSeconds = 60
    registrations_per_user_per_event: int = Field(default=5, ge=1)
    hold_sweep_interval_seconds: float = Field(default=5.0, gt=0)
    catalogue_cache_bytes: int = Field(default=8 * 1024 * 1024, ge=0)
    catalogue_version_refresh_seconds: float = Field(default=0.5, ge=0, le=1)

    broker_url: str = ""
    provider_events_topic: str = Field(default="events-provider.events", min_length=1)
    stream_reclaim_idle_seconds: float = Field(default=30.0, gt=0)
    stream_session_timeout_seconds: float = Field(default=10.0, ge=1, le=300)

    redis_url: str = ""
    rate_limit_auth: str = "10/minute"
    trusted_proxies: str = ""
    shutdown_drain_seconds: float = Field(default=5.0, ge=0)
    log_format: LogFormat = LogFormat.CONSOLE
    log_level: str = "INFO"
    # Traces over OTLP/HTTP (app/core/tracing.py); empty: no tracing at all.
    otel_exporter_otlp_endpoint: OptionalUrl = None

    ticket_signing_key: SecretStr = SecretStr("")
    public_base_url: OptionalUrl = None
    reminders_before_seconds: str = "86400"
    reminder_interval_seconds: float = Field(default=30.0, gt=0)

    _generated_secret: bool = PrivateAttr(default=False)

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "must be an async SQLAlchemy URL: sqlite+aiosqlite:///… or postgresql+asyncpg://…"
            )
        return value

    @field_validator("broker_url")
    @classmethod
    def _broker_scheme(cls, value: str) -> str:
        if value and not value.startswith(BROKER_SCHEMES):
            raise ValueError(f"must start with one of {', '.join(BROKER_SCHEMES)} (or be empty)")
        return value

    @field_validator("rate_limit_auth")
    @classmethod
    def _rate_limit_syntax(cls, value: str) -> str:
        try:
            parse_limit(value)
        except ValueError:
            raise ValueError('must look like "10/minute" (per second|minute|hour|day)') from None
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        for part in filter(None, (part.strip() for part in value.split(","))):
            ipaddress.ip_network(part)
        return value

    @field_validator("ticket_signing_key")
    @classmethod
    def _ticket_keys_are_seeds(cls, value: SecretStr) -> SecretStr:
        for seed in _listed(value.get_secret_value()):
            if len(_base64url_bytes(seed)) != TICKET_SEED_BYTES:
                raise ValueError(
                    f"each key must be the base64url of a {TICKET_SEED_BYTES}-byte Ed25519 seed"
                )
        return value

    @field_validator("reminders_before_seconds")
    @classmethod
    def _reminder_offsets(cls, value: str) -> str:
        for offset in _listed(value):
            if not offset.isdigit() or int(offset) < 1:
                raise ValueError('must be whole seconds, comma-separated (like "86400,7200")')
        return value

    @field_validator("notifications_owner_id")
    @classmethod
    def _owner_id_is_uuid(cls, value: str) -> str:
        if value:
            uuid.UUID(value)
        return value

    @model_validator(mode="after")
    def _secret_key_policy(self) -> Self:
        secret = self.jwt_secret_key.get_secret_value() if self.jwt_secret_key else ""
        if not secret:
            if self.environment is not Environment.DEVELOPMENT:
                raise ValueError(
                    "JWT_SECRET_KEY is required unless ENVIRONMENT=development "
                    "(make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
                )
            self.jwt_secret_key = SecretStr(secrets.token_urlsafe(MIN_SECRET_LENGTH))
            self._generated_secret = True
        elif self.environment is Environment.PRODUCTION and len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"JWT_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters in production"
            )
        return self

    @model_validator(mode="after")
    def _local_mode_only_in_development(self) -> Self:
        missing = [
            name.upper()
            for name in ("events_provider_url", "notifications_url")
            if getattr(self, name) is None
        ]
        if missing and self.environment is not Environment.DEVELOPMENT:
            raise ValueError(
                f"{' and '.join(missing)} must be set unless ENVIRONMENT=development "
                "(where empty means local mode: generated events, notices in the log)"
            )
        return self

    @model_validator(mode="after")
    def _ticket_key_in_production(self) -> Self:
        if self.environment is Environment.PRODUCTION and not self.ticket_signing_seeds:
            raise ValueError(
                "TICKET_SIGNING_KEY is required in production (make one with: python -c "
                "'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())')"
            )
        return self

    @property
    def ticket_signing_seeds(self) -> list[bytes]:
        """The ticket keys' seeds: the first signs, every one verifies (rotation)."""
        return [
            _base64url_bytes(seed) for seed in _listed(self.ticket_signing_key.get_secret_value())
        ]

    @property
    def public_base(self) -> str | None:
        """PUBLIC_BASE_URL without its trailing slash, for links; None when not set."""
        return str(self.public_base_url).rstrip("/") if self.public_base_url else None

    @property
    def reminder_offsets(self) -> list[int]:
        """How long before an event each reminder goes out, in seconds, longest first."""
        return sorted(
            {int(offset) for offset in _listed(self.reminders_before_seconds)}, reverse=True
        )

    @property
    def uses_generated_secret(self) -> bool:
        return self._generated_secret

    @property
    def secret_key(self) -> str:
        assert self.jwt_secret_key is not None
        return self.jwt_secret_key.get_secret_value()


def _listed(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _base64url_bytes(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, binascii.Error):
        return b""


class ConfigurationError(Exception):
    """Raised with one line that names the offending variable."""


def describe_validation_error(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        variable = "_".join(str(part) for part in item["loc"]).upper()
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{variable}: {message}" if variable else message)
    return "invalid configuration: " + "; ".join(problems)


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise ConfigurationError(describe_validation_error(error)) from None


@lru_cache
def settings_from_environment() -> Settings:
    """The process's settings, read once (Alembic's env.py and `app.main:app` use them)."""
    return load_settings()
