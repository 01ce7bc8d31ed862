"""One typed settings object, read from ``POSTIZ_*`` environment variables.

``Settings.from_env(environ)`` takes any mapping, so tests pass a dict instead of patching
``os.environ``. Every problem names the variable it came from.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from postiz_pipelines.errors import ConfigError

PREFIX = "POSTIZ_"
# fields also read from a variable outside the prefix (Supabase's own names)
ALIASES = {
    "supabase_url": "NEXT_PUBLIC_SUPABASE_URL",
    "supabase_service_role_key": "SUPABASE_SERVICE_ROLE_KEY",
}


class Settings(BaseModel):
    """Validated configuration. Field ``x`` is read from ``POSTIZ_X``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    data_dir: Path = Field(default=Path(".data"), description="Local data folder")
    database_url: str = Field(default="", description="SQLAlchemy URL of the app database")
    # PostgreSQL connections one process may hold: pool + overflow. Every run process and
    # worker has its own pool, so processes x (pool + overflow) plus Dagster's own must stay
    # under the server's max_connections (see docs/ARCHITECTURE.md, capacity model)
    db_pool_size: int = Field(default=10, ge=1, le=500)
    db_max_overflow: int = Field(default=20, ge=0, le=500)
    media_dir: Path | None = Field(default=None, description="Where uploaded media is stored")

    worker_concurrency: int = Field(default=3, ge=1, le=200)
    worker_poll_interval: int = Field(default=5000, ge=50, le=3_600_000, description="ms")
    worker_rate_limit_delay: int = Field(default=1000, ge=0, le=3_600_000, description="ms")
    worker_api_key: SecretStr | None = None
    batch_api_key: SecretStr | None = None
    encryption_key: SecretStr | None = Field(
        default=None, description="kid:base64-32-bytes[,kid:key...]; the first key seals"
    )

    max_retries: int = Field(default=3, ge=0, le=20)
    retry_base_seconds: float = Field(default=60.0, gt=0, le=86_400)
    lease_seconds: int = Field(default=300, ge=10, le=86_400)
    lookahead_seconds: int = Field(default=180, ge=0, le=3_600)
    claim_batch_size: int = Field(default=500, ge=1, le=10_000)
    publish_window_seconds: int = Field(
        default=600, ge=30, le=3_600, description="one publish run per partition per window"
    )
    window_grace_seconds: int = Field(
        default=30, ge=0, le=600, description="after its window, for calls still in flight"
    )
    run_max_windows: int = Field(
        default=6,
        ge=1,
        le=1_000,
        description="consecutive windows one publish run may serve before a new run takes over",
    )
    run_poll_interval: int = Field(
        default=1000, ge=50, le=60_000, description="ms between a window run's looks at the queue"
    )
    sandbox_url: str | None = Field(
        default=None, description="Point every provider at this sandbox base URL"
    )
    http_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    public_url: str | None = Field(
        default=None, description="This deployment's public base URL (signed media links)"
    )
    media_link_seconds: int = Field(default=24 * 3600, ge=60, le=7 * 86400)
    media_link_key: SecretStr | None = Field(
        default=None,
        min_length=32,
        description="the secret that signs media links (32+ characters), apart from the "
        "encryption keys so rotating those keeps published links working; unset: a key file "
        "in the data dir",
    )
    # OAuth clients, for platforms whose tokens are refreshed with the app's credentials
    x_client_id: str | None = None
    x_client_secret: SecretStr | None = None
    linkedin_client_id: str | None = None
    linkedin_client_secret: SecretStr | None = None
    linkedin_api_version: str = Field(
        default="202610",
        pattern=r"^\d{6}$",
        description="LinkedIn-Version header (YYYYMM); LinkedIn retires each after ~1 year",
    )
    meta_graph_api_version: str = Field(
        default="v24.0",
        pattern=r"^v\d{1,2}\.\d$",
        description="Graph API version of every Facebook and Instagram call (vNN.N); Meta "
        "retires each about two years after release (Threads has its own API, v1.0)",
    )
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    youtube_client_id: str | None = None
    youtube_client_secret: SecretStr | None = None
    youtube_daily_quota: int = Field(
        default=10_000, ge=1, le=10_000_000, description="the Google project's daily units"
    )
    tiktok_client_key: str | None = None
    tiktok_client_secret: SecretStr | None = None
    pinterest_client_id: str | None = None
    pinterest_client_secret: SecretStr | None = None
    reddit_client_id: str | None = None
    reddit_client_secret: SecretStr | None = None
    reddit_user_agent: str = Field(
        default="python:postiz-pipelines:0.1 (self-hosted scheduler)",
        min_length=10,
        description="Reddit refuses generic agents: <platform>:<app id>:<version> (by /u/name)",
    )
    # connect flows (core/accounts/connect): OAuth clients of the platforms not above
    meta_app_id: str | None = Field(
        default=None, description="Facebook Login (Facebook, Instagram)"
    )
    threads_client_id: str | None = None
    threads_client_secret: SecretStr | None = None
    discord_client_id: str | None = None
    discord_client_secret: SecretStr | None = None
    discord_bot_token: SecretStr | None = Field(
        default=None, description="the app's bot, added to a guild by the bot-install flow"
    )
    oauth_return_url: str | None = Field(
        default=None,
        description="where the OAuth callback redirects the browser once an account is stored "
        "(unset: the callback answers JSON)",
    )
    oauth_allow_shared_accounts: bool = Field(
        default=False,
        description="allow connecting an account already connected in another workspace",
    )
    oauth_state_seconds: int = Field(default=600, ge=60, le=3600, description="state lifetime")
    webhook_allow_private: bool = Field(
        default=False, description="allow webhooks to private addresses"
    )
    api_write_limit: int = Field(
        default=120, ge=1, le=1_000_000, description="writes per user per window (API)"
    )
    api_write_window_seconds: float = Field(default=60.0, gt=0, le=86_400)
    alert_webhook_url: SecretStr | None = Field(default=None, description="POSTed on new alerts")
    # incoming platform webhooks (POST /api/postiz/webhooks/{platform}); unset: refused
    meta_app_secret: SecretStr | None = Field(
        default=None,
        description="Meta app secret: X-Hub-Signature-256 (Facebook, Instagram, Threads)",
    )
    meta_webhook_verify_token: SecretStr | None = Field(
        default=None, description="the verify token of Meta's hub.challenge subscription GET"
    )
    slack_signing_secret: SecretStr | None = Field(default=None, description="Slack v0 signing")
    x_consumer_secret: SecretStr | None = Field(
        default=None, description="X app consumer secret: Account Activity CRC and signatures"
    )
    telegram_webhook_secret: SecretStr | None = Field(
        default=None, description="X-Telegram-Bot-Api-Secret-Token set with setWebhook"
    )
    discord_public_key: str | None = Field(
        default=None, pattern=r"^[0-9a-fA-F]{64}$", description="Discord app Ed25519 key (hex)"
    )
    inbound_webhook_max_age_seconds: int = Field(
        default=86_400,
        ge=60,
        le=7 * 86_400,
        description="oldest event accepted, and how long replays are remembered",
    )
    log_format: str = Field(
        default="auto",
        pattern=r"^(auto|json|console)$",
        description="json lines, readable console lines, or auto (json unless a terminal)",
    )
    log_level: str = Field(
        default="INFO", pattern=r"^(?i:debug|info|warning|error|critical)$", description="level"
    )
    held_job_grace_seconds: int = Field(
        default=24 * 3600,
        ge=0,
        le=30 * 86_400,
        description="a held job late by less than this is published on reconnect, else "
        "dead-lettered missed_while_disconnected",
    )
    held_job_alarm_seconds: int = Field(
        default=24 * 3600,
        ge=60,
        le=30 * 86_400,
        description="the held-jobs asset check fails once a job has been held this long",
    )
    breaker_threshold: int = Field(default=5, ge=1, le=100_000, description="failures in a row")
    breaker_cooldown_seconds: float = Field(default=60.0, gt=0, le=86_400)

    # media: limits at upload, preparation bounds, and where the bytes live
    media_max_image_pixels: int = Field(
        default=50_000_000,
        ge=1,
        le=1_000_000_000,
        description="refuse images with more pixels (read from the header, before decoding)",
    )
    media_transcode_seconds: float = Field(
        default=600.0, gt=0, le=86_400, description="wall-time bound of one video transcode"
    )
    media_transcode_threads: int = Field(default=2, ge=1, le=64)
    media_storage: str = Field(
        default="local", pattern="^(local|supabase|s3)$", description="local | supabase | s3"
    )
    supabase_url: str | None = Field(
        default=None, description="Supabase project URL (also read from NEXT_PUBLIC_SUPABASE_URL)"
    )
    supabase_service_role_key: SecretStr | None = Field(
        default=None, description="also read from SUPABASE_SERVICE_ROLE_KEY"
    )
    supabase_bucket: str = Field(default="media", pattern=r"^[a-z0-9][a-z0-9._-]{1,62}$")
    s3_bucket: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    s3_endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint (R2, MinIO); AWS when unset"
    )
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must start with sqlite:// or postgresql://")
        return value

    @field_validator(
        "sandbox_url", "public_url", "supabase_url", "s3_endpoint_url", "oauth_return_url"
    )
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/") if value else value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and validate the ``POSTIZ_*`` variables of ``environ`` (default: os.environ)."""
        env = os.environ if environ is None else environ
        names = {f"{PREFIX}{name.upper()}": name for name in cls.model_fields}
        values: dict[str, Any] = {}
        for var, field in names.items():
            raw = env.get(var)
            if (raw is None or raw.strip() == "") and field in ALIASES:
                raw = env.get(ALIASES[field])  # the names the seed's deployments already use
            if raw is not None and raw.strip() != "":
                values[field] = raw.strip()
        try:
            return cls(**values)
        except ValidationError as exc:
            problems = []
            for err in exc.errors():
                field = str(err["loc"][0]) if err["loc"] else "?"
                var = f"{PREFIX}{field.upper()}"
                shown = (
                    "<secret>"
                    if ("key" in field or "secret" in field or "token" in field)
                    else repr(values.get(field))
                )
                problems.append(f"{var}={shown}: {err['msg']}")
            raise ConfigError("invalid settings: " + "; ".join(problems)) from None

    def provider_options(self) -> dict[str, dict[str, Any]]:
        """Constructor options per platform (OAuth clients for token refresh)."""
        from postiz_pipelines.crypto import Secret

        out: dict[str, dict[str, Any]] = {
            "linkedin": {"api_version": self.linkedin_api_version},
            "facebook": {"api_version": self.meta_graph_api_version},
            "instagram": {"api_version": self.meta_graph_api_version},
            "youtube": {"daily_quota": self.youtube_daily_quota},
            "reddit": {"user_agent": self.reddit_user_agent},
        }
        for platform in ("x", "linkedin", "slack", "youtube", "pinterest", "reddit"):
            client_id = getattr(self, f"{platform}_client_id")
            secret = getattr(self, f"{platform}_client_secret")
            if client_id:
                out.setdefault(platform, {}).update(
                    client_id=client_id,
                    client_secret=Secret(secret.get_secret_value()) if secret else None,
                )
        if self.tiktok_client_key:
            secret = self.tiktok_client_secret
            out["tiktok"] = {
                "client_key": self.tiktok_client_key,
                "client_secret": Secret(secret.get_secret_value()) if secret else None,
            }
        return out

    def missing_oauth_settings(self) -> dict[str, list[str]]:
        """Per platform whose tokens are refreshed with the app's OAuth client, the variables
        of that client that are not set (X needs only the id: a public client)."""
        needs = {
            "x": [("x_client_id", "POSTIZ_X_CLIENT_ID")],
            "tiktok": [
                ("tiktok_client_key", "POSTIZ_TIKTOK_CLIENT_KEY"),
                ("tiktok_client_secret", "POSTIZ_TIKTOK_CLIENT_SECRET"),
            ],
        }
        for platform in ("linkedin", "slack", "youtube", "pinterest", "reddit"):
            needs[platform] = [
                (f"{platform}_client_id", f"POSTIZ_{platform.upper()}_CLIENT_ID"),
                (f"{platform}_client_secret", f"POSTIZ_{platform.upper()}_CLIENT_SECRET"),
            ]
        out = {}
        for platform, fields in needs.items():
            missing = [var for name, var in fields if not getattr(self, name)]
            if missing:
                out[platform] = missing
        return out

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'postiz.db').resolve()}"

    @property
    def resolved_media_dir(self) -> Path:
        return (self.media_dir or self.data_dir / "media").resolve()
