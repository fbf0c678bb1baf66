"""HTTP to an OpenAI-compatible endpoint (OPENAI_BASE_URL): a timeout is final, redirects are followed,
HTTP(S)_PROXY and NO_PROXY are honoured."""

import urllib.request

import httpx2

from rag.providers import OPENAI_DEFAULT_URL
from rag.settings import Settings

# A host that does not take the connection is down; waiting longer only delays the message.
_CONNECT_TIMEOUT_S = 5.0


class EndpointTransport(httpx2.HTTPTransport):
    """HTTP to an OpenAI-compatible endpoint where a timeout is final.

    The SDK retries a timeout like a 429 or a 5xx, so a silent server cost 4 x the timeout before one
    line. An OpenAI error raised here is passed on without a retry; status codes are still retried.
    """

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            return super().handle_request(request)
        except httpx2.TimeoutException:
            import openai

            raise openai.APITimeoutError(request=request) from None


def endpoint_client(base_url: str | None) -> httpx2.Client:
    """The HTTP client for an endpoint (OPENAI_BASE_URL, or PAPERBOY_EMBEDDING_BASE_URL for embeddings;
    None is OpenAI's): redirects followed and HTTP(S)_PROXY / NO_PROXY honoured for that host, as the
    SDK's own client does.

    The proxy goes into the one EndpointTransport: left to httpx2, a proxy from the environment gets a
    transport of its own, whose timeouts the SDK retries.
    """
    url = httpx2.URL(base_url or OPENAI_DEFAULT_URL)
    proxy = None if urllib.request.proxy_bypass(url.host) else urllib.request.getproxies().get(url.scheme)
    return httpx2.Client(transport=EndpointTransport(proxy=proxy), follow_redirects=True, trust_env=False)


def endpoint_timeout(settings: Settings) -> httpx2.Timeout:
    """Connect in 5 s; then no silence longer than request_timeout (the SDK sends it with each request)."""
    return httpx2.Timeout(settings.request_timeout, connect=_CONNECT_TIMEOUT_S)
