"""Model providers by name. A new provider is one function and one dict entry."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NamedTuple

import openai
from langchain_core.embeddings import Embeddings
from pydantic import SecretStr

from rag.embeddings import MiniLMEmbeddings
from rag.errors import MissingKeyError, ProviderError
from rag.settings import Settings


@contextmanager
def provider_errors(what: str) -> Iterator[None]:
    """Turn client exceptions into one ProviderError; the API key never reaches the message."""
    try:
        yield
    except openai.AuthenticationError as ex:
        raise ProviderError(
            f"{what}: the endpoint refused the API key (HTTP {ex.status_code}); check OPENAI_API_KEY."
        ) from None
    except openai.APIStatusError as ex:
        raise ProviderError(f"{what}: the endpoint answered HTTP {ex.status_code}: {ex.message}") from None
    except (openai.APIConnectionError, openai.APITimeoutError) as ex:
        raise ProviderError(
            f"{what}: cannot reach the endpoint ({type(ex).__name__}); check OPENAI_BASE_URL and that the "
            "server is up, or unset OPENAI_API_KEY to use the local model."
        ) from None


class Embedder(NamedTuple):
    """An embedding model and the id that names its vectors (and so its collection)."""

    model_id: str
    embeddings: Embeddings

    def documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts to store."""
        with provider_errors(f"Embedding with {self.model_id}"):
            return self.embeddings.embed_documents(texts)

    def query(self, text: str) -> list[float]:
        """Embed a search query."""
        with provider_errors(f"Embedding with {self.model_id}"):
            return self.embeddings.embed_query(text)


def api_key(settings: Settings) -> SecretStr:
    """The OpenAI key, or an error naming the variable to set."""
    if settings.openai_api_key is None or not settings.openai_api_key.get_secret_value():
        raise MissingKeyError("This needs OPENAI_API_KEY; set it in the environment or .env.")
    return settings.openai_api_key


def local_embedder(settings: Settings) -> Embedder:
    """MiniLM int8 from PyPI: no key, no network."""
    return Embedder(MiniLMEmbeddings.model_id, MiniLMEmbeddings(batch_size=settings.embed_batch_size))


def openai_embedder(settings: Settings) -> Embedder:
    """OpenAI embeddings, or any compatible server at OPENAI_BASE_URL."""
    from langchain_openai import OpenAIEmbeddings

    model = settings.openai_embedding_model
    embeddings = OpenAIEmbeddings(
        model=model,
        api_key=api_key(settings),
        base_url=settings.openai_base_url,
        # Compatible servers (vLLM, Ollama) take text, not tiktoken ids; chunks are far under 8k tokens.
        check_embedding_ctx_length=False,
        max_retries=3,
        request_timeout=60,
    )
    return Embedder(f"openai-{model}", embeddings)


EMBED: dict[str, Callable[[Settings], Embedder]] = {"local": local_embedder, "openai": openai_embedder}


def get_embedder(settings: Settings) -> Embedder:
    """The embedding model the settings name."""
    return EMBED[settings.embedding_provider](settings)
