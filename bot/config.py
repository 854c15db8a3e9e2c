"""Settings from the environment (prefix SUPPORTBOT_) and an optional `.env` file."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# A configured secret key shorter than this is refused: every encryption key derives from it.
MIN_SECRET_CHARS = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SUPPORTBOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Path("./data")
    # Empty means "a SQLite file in the data dir"; otherwise sqlite:///relative or sqlite:////absolute.
    database_url: str = ""
    # Empty means "generate one on first run into <data_dir>/secret.key (mode 0600)"; otherwise
    # at least MIN_SECRET_CHARS characters.
    secret_key: str = ""
    flows_dir: Path = PROJECT_ROOT / "flows"
    content_dir: Path = PROJECT_ROOT / "content"
    default_locale: str = "en-GB"
    # A welcome in several languages, the first one the conversation's until they choose
    # ("cy,en-GB": Welsh first, as the Welsh Language Standards expect in Wales). Empty: only
    # the default locale's (or the one the channel hints at).
    welcome_locales: str = ""
    timezone: str = "Europe/London"
    # Pacing: how long a channel waits before each further step (seconds).
    pace_base: float = Field(default=0.6, ge=0)
    pace_per_char: float = Field(default=0.012, ge=0)
    pace_max: float = Field(default=3.0, ge=0)
    # Longest message the bot will read; longer ones get a kind request for something shorter.
    max_text_chars: int = Field(default=6000, ge=100)
    log_level: str = "INFO"
    # Conversations and their evidence are erased this many days after the last activity.
    retention_days: int = Field(default=90, ge=1)
    # Processed event ids are kept this long to recognise a redelivered event.
    inbox_days: int = Field(default=7, ge=1)

    # --- Telegram ---
    telegram_bot_token: str = Field(
        default="",
        validation_alias=AliasChoices("TELEGRAM_BOT_TOKEN", "SUPPORTBOT_TELEGRAM_BOT_TOKEN"),
    )
    # The Bot API server's root (e.g. http://127.0.0.1:8081 for a self-hosted one).
    telegram_api_base_url: str = Field(
        default="https://api.telegram.org",
        validation_alias=AliasChoices("TELEGRAM_API_BASE_URL", "SUPPORTBOT_TELEGRAM_API_BASE_URL"),
    )
    webhook_url: str = ""  # set: webhook mode at this public URL; empty: long polling
    webhook_secret: str = ""  # empty: derived from the secret key
    telegram_pace: bool = True
    telegram_global_rate: float = Field(default=30.0, gt=0)  # messages per second, whole bot
    telegram_chat_rate: float = Field(default=1.0, gt=0)  # messages per second, one chat
    telegram_chat_burst: int = Field(default=4, ge=1)
    # Bot API calls through the lean keep-alive transport; false: python-telegram-bot's httpx one.
    telegram_lean_transport: bool = True

    # --- web server ---
    host: str = "127.0.0.1"
    port: int = 8080

    # The address people reach this server at (used in the embed snippet); default http://host:port.
    public_url: str = ""
    # Pages allowed to open the widget's WebSocket, comma-separated origins
    # (e.g. "https://www.example.police.uk,https://help.example.org"). This server's own origin
    # is always allowed.
    allowed_origins: str = ""
    # Who may put this server's own pages in a frame (CSP frame-ancestors).
    frame_ancestors: str = "'none'"
    # Largest WebSocket message accepted (files arrive in chunks of 256 KiB).
    ws_max_bytes: int = Field(default=320 * 1024, ge=64 * 1024)
    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (comma-separated
    # addresses or networks, e.g. "127.0.0.1" for a proxy on this machine; "*" trusts anyone).
    # Empty: none, every client is its connecting address. Behind a proxy, set it, or every
    # person shares the proxy's address (and its limits).
    trusted_proxies: str = ""
    # Abuse limits per client address (IPv6: /64). Each widget session can open at most one
    # case, so the first also bounds open cases and urgent notifications per address.
    web_sessions_per_address: int = Field(default=20, ge=1)  # new widget sessions per window
    web_sessions_window_minutes: int = Field(default=60, ge=1)
    # Widget sockets opened per address per minute (reconnects too); beyond it, refused (403).
    web_connections_per_minute: int = Field(default=120, ge=10)
    web_upload_mb_per_address: int = Field(default=48, ge=21)  # files being received at once
    web_upload_chunk_seconds: float = Field(default=20.0, gt=0)  # longest wait between chunks
    # Slow or idle HTTP clients: request headers must arrive within this many seconds, and an
    # idle keep-alive connection is closed after http_keep_alive_seconds.
    http_header_seconds: float = Field(default=10.0, gt=0)
    http_keep_alive_seconds: int = Field(default=5, ge=1)
    # Connections (and WebSockets) open at once, whole server; beyond it new requests get 503.
    max_connections: int = Field(default=4096, ge=10)

    # --- moderator console ---
    # A Telegram chat (e.g. a private group of moderators) told when an urgent case arrives.
    moderators_chat_id: int | None = None
    console_idle_minutes: int = Field(default=30, ge=1)  # a session ends after this long unused
    console_absolute_hours: int = Field(default=12, ge=1)  # and this long after sign-in
    signin_max_failures: int = Field(default=5, ge=1)  # per email, within the window
    signin_max_failures_per_ip: int = Field(default=20, ge=1)  # per client address (IPv6: /64)
    signin_window_minutes: int = Field(default=15, ge=1)

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: str) -> str:
        if value and len(value.strip()) < MIN_SECRET_CHARS:
            raise ValueError(f"must be at least {MIN_SECRET_CHARS} characters")
        return value

    def forwarded_allow_ips(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    def own_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def origins(self) -> list[str]:
        """The origins the widget may be used from."""
        parts = urlsplit(self.own_url())
        own = f"{parts.scheme}://{parts.netloc}"
        extra = [o.strip().rstrip("/") for o in self.allowed_origins.split(",") if o.strip()]
        local = [f"http://127.0.0.1:{self.port}", f"http://localhost:{self.port}"]
        return list(dict.fromkeys([own, *extra, *(local if not self.public_url else [])]))

    def database_path(self) -> Path:
        url = self.database_url
        if not url:
            return self.data_dir / "supportbot.db"
        prefix = "sqlite:///"
        if not url.startswith(prefix):
            raise ValueError(
                "SUPPORTBOT_DATABASE_URL must start with sqlite:/// (the only backend so far)"
            )
        return Path(url[len(prefix) :])
