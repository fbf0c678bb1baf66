"""HTTP to an OpenAI-compatible endpoint (OPENAI_BASE_URL): a timeout is final, redirects are followed."""

import httpx

from rag.settings import Settings

# A host that does not take the connection is down; waiting longer only delays the message.
_CONNECT_TIMEOUT_S = 5.0


class EndpointTransport(httpx.HTTPTransport):
    """HTTP to an OpenAI-compatible endpoint where a timeout is final.

    The SDK retries a timeout like a 429 or a 5xx, so a silent server cost 4 x the timeout before one
    line. An OpenAI error raised here is passed on without a retry; status codes are still retried.
    """

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return super().handle_request(request)
        except httpx.TimeoutException:
            import openai

            raise openai.APITimeoutError(request=request) from None


def endpoint_client() -> httpx.Client:
    """The HTTP client for OPENAI_BASE_URL: redirects followed, as the SDK's own client does."""
    return httpx.Client(transport=EndpointTransport(), follow_redirects=True)


def endpoint_timeout(settings: Settings) -> httpx.Timeout:
    """Connect in 5 s; then no silence longer than request_timeout (the SDK sends it with each request)."""
    return httpx.Timeout(settings.request_timeout, connect=_CONNECT_TIMEOUT_S)
