"""Model providers by name, as llm's get_model(name): a new provider is one function and one dict entry.

A provider is a function of the settings that builds its client, reading its own key variable with
provider_key (OPENAI_API_KEY for OpenAI); an embedding provider also says, without building
anything, the id that names its vectors (EmbeddingProvider). PAPERBOY_CHAT_PROVIDER and
PAPERBOY_EMBEDDING_PROVIDER name one; unset, the chat provider is openai when OPENAI_API_KEY is set,
else local.

Everything heavy (the openai SDK and LangChain's chat models, ~0.6 s of imports; httpx2; MiniLM)
loads inside the functions, so the settings can check a provider's name against CHAT and EMBED at
once, and `search` and the store, which only embed, never load a chat client.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol

from pydantic import SecretStr

from rag.errors import MissingKeyError, ProviderError, SettingsError
from rag.local_model import QWEN_CODER_1_5B, model_file, model_name_for
from rag.settings import Settings, shown_url

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

# What LangChain and the SDK raise for a well-formed but empty stream or embeddings list.
_EMPTY_REPLIES = {"No generation chunks were returned", "No embedding data received"}
# Key-shaped strings a server may echo back in an error body ("Received API Key = sk-...").
_KEY_LIKE = re.compile(r"\b(sk|key|tok)[-_][A-Za-z0-9_-]{8,}", re.I)


def _redacted(message: str, secret: SecretStr | None) -> str:
    if secret is not None and secret.get_secret_value():
        message = message.replace(secret.get_secret_value(), "***")
    return _KEY_LIKE.sub("***", message)


@contextmanager
def provider_errors(what: str, secret: SecretStr | None = None, local: bool = False) -> Iterator[None]:
    """Turn client exceptions into one ProviderError; the API key never reaches the message.

    For the local model the advice is about the local model service, not about OPENAI_BASE_URL.
    """
    try:
        yield
    except Exception as ex:
        error = _provider_error(ex, what, secret, local)
        if error is None:
            raise
        raise error from None


def _provider_error(ex: Exception, what: str, secret: SecretStr | None, local: bool) -> ProviderError | None:
    """The one-line ProviderError for a client exception, or None when it is not the client's."""
    import httpx2
    import openai  # only once something failed: embedding locally never loads the SDK

    if isinstance(ex, openai.AuthenticationError):
        return ProviderError(f"{what}: the endpoint refused the API key (HTTP {ex.status_code}); check OPENAI_API_KEY.")
    if isinstance(ex, openai.APIStatusError):
        return ProviderError(f"{what}: the endpoint answered HTTP {ex.status_code}: {_redacted(ex.message, secret)}")
    if isinstance(ex, openai.APITimeoutError | httpx2.TimeoutException):  # the latter: silent mid-stream
        if local:
            return ProviderError(
                f"{what}: the local model did not answer in time; other work may hold it (see `paperboy "
                "model status`), so try again when it is done, or restart it with `paperboy model stop`."
            )
        return ProviderError(
            f"{what}: the endpoint was silent for longer than PAPERBOY_REQUEST_TIMEOUT allows; check "
            "OPENAI_BASE_URL and that the server is up, or raise PAPERBOY_REQUEST_TIMEOUT for a slow one."
        )
    if isinstance(ex, openai.APIConnectionError):
        if isinstance(ex.__cause__, ProviderError):  # the local model service could not start
            return ex.__cause__
        if local:
            return ProviderError(
                f"{what}: the local model service stopped answering; run the command again to restart it, "
                "or see `paperboy model status`."
            )
        return ProviderError(
            f"{what}: cannot reach the endpoint ({type(ex).__name__}); check OPENAI_BASE_URL and that the "
            "server is up, or unset OPENAI_API_KEY to use the local model."
        )
    if isinstance(ex, openai.APIError):  # e.g. an error event in the middle of a streamed answer
        return ProviderError(f"{what}: the endpoint failed mid-answer: {_redacted(ex.message, secret)}")
    # A 200 that is not an OpenAI API reply: broken JSON, or a stream or list with nothing in it.
    if isinstance(ex, json.JSONDecodeError) or (isinstance(ex, ValueError) and str(ex) in _EMPTY_REPLIES):
        where = "the local model service" if local else "the endpoint"
        hint = "see `paperboy model status`" if local else "check that OPENAI_BASE_URL is an OpenAI-compatible API"
        return ProviderError(f"{what}: {where} answered something that is not an API reply ({ex}); {hint}.")
    return None


def is_local(client: object) -> bool:
    """True for a chat client of the machine's local model service."""
    from rag.model_service import SERVICE_URL

    return getattr(client, "openai_api_base", None) == SERVICE_URL


def client_secret(client: object) -> SecretStr | None:
    """The API key a LangChain OpenAI client holds, so errors can be scrubbed of it."""
    secret = getattr(client, "openai_api_key", None)
    return secret if isinstance(secret, SecretStr) else None


class TextEmbeddings(Protocol):
    """An embedding model as Paperboy uses it: LangChain's Embeddings interface, which OpenAIEmbeddings
    implements and MiniLMEmbeddings follows without importing LangChain."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Vectors of texts to store."""
        ...

    def embed_query(self, text: str) -> list[float]:
        """The vector of a search query."""
        ...


class Embedder(NamedTuple):
    """An embedding model and the id that names its vectors (and so its collection)."""

    model_id: str
    embeddings: TextEmbeddings

    def documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts to store."""
        with provider_errors(f"Embedding with {self.model_id}", client_secret(self.embeddings)):
            return self.embeddings.embed_documents(texts)

    def query(self, text: str) -> list[float]:
        """Embed a search query."""
        with provider_errors(f"Embedding with {self.model_id}", client_secret(self.embeddings)):
            return self.embeddings.embed_query(text)


def provider_key(settings: Settings, variable: str) -> SecretStr:
    """A provider's API key, read from its own variable (environment or .env), or an error naming it."""
    key = settings.secret(variable)
    if key is None or not key.get_secret_value():
        raise MissingKeyError(f"This needs {variable}; set it in the environment or .env.")
    return key


# The local model's id, which names its vectors' collection.
MINILM_ID = "all-MiniLM-L6-v2-int8"


def local_embeddings(settings: Settings) -> TextEmbeddings:
    """MiniLM int8 from PyPI: no key, no network. The model starts loading in the background now."""
    from rag.embeddings import MiniLMEmbeddings

    embeddings = MiniLMEmbeddings(batch_size=settings.embed_batch_size)
    embeddings.start_loading()
    return embeddings


def openai_embeddings(settings: Settings) -> TextEmbeddings:
    """OpenAI embeddings, or any compatible server at PAPERBOY_EMBEDDING_BASE_URL or OPENAI_BASE_URL."""
    from langchain_openai import OpenAIEmbeddings

    from rag.endpoint import endpoint_client, endpoint_timeout

    # A server of one's own (PAPERBOY_EMBEDDING_BASE_URL) takes any key; OpenAI's needs the real one.
    own_server = settings.embedding_base_url and not settings.secret("OPENAI_API_KEY")
    base_url = settings.embedding_base_url or settings.openai_base_url
    return OpenAIEmbeddings(
        model=settings.openai_embedding_model,
        api_key=SecretStr("unused") if own_server else provider_key(settings, "OPENAI_API_KEY"),
        base_url=base_url,
        # Compatible servers (vLLM, Ollama) take text, not tiktoken ids; chunks are far under 8k tokens.
        check_embedding_ctx_length=False,
        max_retries=3,
        http_client=endpoint_client(base_url),
        request_timeout=endpoint_timeout(settings),
    )


class EmbeddingProvider(NamedTuple):
    """The id that names a provider's vectors, known without loading anything (so `paperboy stats`
    imports neither LangChain nor ONNX Runtime), and the function that builds its model."""

    model_id: Callable[[Settings], str]
    embeddings: Callable[[Settings], TextEmbeddings]


EMBED: dict[str, EmbeddingProvider] = {
    "local": EmbeddingProvider(lambda _: MINILM_ID, local_embeddings),
    "openai": EmbeddingProvider(lambda settings: f"openai-{settings.openai_embedding_model}", openai_embeddings),
}


def _registered(registry: Mapping[str, object], name: str, variable: str) -> str:
    if name not in registry:
        raise SettingsError(f"Bad setting: {variable}: unknown provider {name!r}; known: {', '.join(registry)}")
    return name


def _embedding_provider(settings: Settings) -> EmbeddingProvider:
    return EMBED[_registered(EMBED, settings.embedding_provider, "PAPERBOY_EMBEDDING_PROVIDER")]


def embedding_model_id(settings: Settings) -> str:
    """The id of the embedding model the settings name, without loading it."""
    return _embedding_provider(settings).model_id(settings)


def get_embedder(settings: Settings) -> Embedder:
    """The embedding model the settings name."""
    provider = _embedding_provider(settings)
    return Embedder(provider.model_id(settings), provider.embeddings(settings))


# Deterministic answers: the same question over the same papers gives the same answer and eval runs compare.
_TEMPERATURE = 0.0
DEFAULT_OPENAI_CHAT_MODEL = "gpt-4o-mini"
# Where the SDK sends requests when OPENAI_BASE_URL is unset.
OPENAI_DEFAULT_URL = "https://api.openai.com/v1"
LOCAL = "local"


def local_chat(settings: Settings) -> BaseChatModel:
    """The packaged model on the machine's llama.cpp service on loopback, through the same client as
    OpenAI. Nothing starts here: the first request starts the service, or finds it running."""
    import httpx2
    from langchain_openai import ChatOpenAI

    from rag.model_service import SERVICE_URL, ServiceTransport

    return ChatOpenAI(
        base_url=SERVICE_URL,
        http_client=httpx2.Client(transport=ServiceTransport(settings)),
        api_key=SecretStr("local"),
        model=model_name_for(model_file(settings)),
        temperature=_TEMPERATURE,
        max_retries=0,
        timeout=300,
    )


def openai_chat(settings: Settings) -> BaseChatModel:
    """OpenAI, or any compatible server at OPENAI_BASE_URL (vLLM, Ollama, llama.cpp)."""
    from langchain_openai import ChatOpenAI

    from rag.endpoint import endpoint_client, endpoint_timeout

    return ChatOpenAI(
        base_url=settings.openai_base_url,
        api_key=provider_key(settings, "OPENAI_API_KEY"),
        model=settings.chat_model or DEFAULT_OPENAI_CHAT_MODEL,
        temperature=_TEMPERATURE,
        # The openai client retries 429 and 5xx with exponential backoff (0.5 s, 1 s, 2 s ...), not timeouts.
        max_retries=3,
        http_client=endpoint_client(settings.openai_base_url),
        timeout=endpoint_timeout(settings),
    )


CHAT: dict[str, Callable[[Settings], BaseChatModel]] = {LOCAL: local_chat, "openai": openai_chat}


def chat_provider(settings: Settings) -> str:
    """PAPERBOY_CHAT_PROVIDER; unset, openai when OPENAI_API_KEY is set, else local."""
    if settings.chat_provider:
        return _registered(CHAT, settings.chat_provider, "PAPERBOY_CHAT_PROVIDER")
    return "openai" if settings.secret("OPENAI_API_KEY") else LOCAL


def get_chat(settings: Settings) -> BaseChatModel:
    """The chat model of the provider the settings name."""
    return CHAT[chat_provider(settings)](settings)


def chat_model_name(llm: BaseChatModel) -> str:
    """The model name an answer records."""
    return str(getattr(llm, "model_name", None) or type(llm).__name__)


def chat_endpoint(settings: Settings) -> tuple[str, str]:
    """The chat model's name and where it is served; never the key. The local model is described from the
    settings alone; another provider's client is built (no request is made) and asked."""
    if chat_provider(settings) == LOCAL:
        model = settings.local_model_path or Path(QWEN_CODER_1_5B.file_name)
        return model_name_for(model), "local llama.cpp server on 127.0.0.1 (offline)"
    llm = get_chat(settings)
    return chat_model_name(llm), shown_url(getattr(llm, "openai_api_base", None) or OPENAI_DEFAULT_URL)
