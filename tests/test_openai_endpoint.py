"""The OpenAI-compatible path, end to end through the CLI, against a scripted stub server on loopback."""

import io
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from click.testing import Result
from langchain_openai import ChatOpenAI

from rag import providers
from rag.cli import WaitNotice
from rag.providers import chat_provider, get_chat, get_embedder, openai_chat
from rag.settings import Settings
from tests.conftest import HashEmbeddings, fake_library_env, run_cli
from tests.openai_stub import (
    CHAT_PATH,
    EMBED_DIM,
    EMBED_PATH,
    OpenAIStub,
    Reply,
    free_port,
    mid_stream_error,
    rate_limited,
    silent,
)

KEY = "sk-test-paperboy-0123456789abcdef"
PAPERS = [
    {
        "id": "2511.00001",
        "title": "Sparse Retrieval Heads for Long-Context Reasoning",
        "abstract": "Routing only a few retrieval heads over the full context cuts memory use by 3.2x.",
        "authors": ["Mei Lin"],
        "listed_on": "2025-10-31",
        "url": "https://arxiv.org/abs/2511.00001",
    },
    {
        "id": "2511.00002",
        "title": "Calibrated Self-Critique for Code Agents",
        "abstract": "A held-out verifier calibrates self-critique of code agents on unit tests.",
        "authors": ["Ada Okafor"],
        "listed_on": "2025-10-31",
        "url": "https://arxiv.org/abs/2511.00002",
    },
    {
        "id": "2511.00003",
        "title": "Diffusion Policies for Household Grasping",
        "abstract": "A diffusion policy grasps household objects from a single camera view.",
        "authors": ["Tomás Ribeiro"],
        "listed_on": "2025-10-31",
        "url": "https://arxiv.org/abs/2511.00003",
    },
]
QUESTION = "How much do sparse retrieval heads cut memory use in long-context reasoning?"
# It names the paper in words, as every answer must: one that does not gets the title put in.
STUB_ANSWER = (
    "In Sparse Retrieval Heads for Long-Context Reasoning, routing only a few retrieval heads cuts memory use "
    "by 3.2x [1]."
)


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    """A fresh stub server per test, stopped (port closed) at teardown."""
    server = OpenAIStub().start()
    try:
        yield server
    finally:
        server.stop()


def write_corpus(path: Path) -> Path:
    """PAPERS as a JSONL file."""
    path.write_text("".join(json.dumps(p) + "\n" for p in PAPERS))
    return path


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """Three short papers as JSONL; only the first states a figure."""
    return write_corpus(tmp_path / "papers.jsonl")


def use_endpoint(monkeypatch: pytest.MonkeyPatch, base_url: str) -> None:
    """Point Paperboy at an OpenAI-compatible endpoint, as a user would with env vars."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", base_url)
    monkeypatch.setenv("PAPERBOY_CHAT_MODEL", "stub-model")


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Connection errors carry no retry-after header; shrink the SDK's 0.5 s, 1 s, 2 s backoff to ms."""
    monkeypatch.setattr("openai._base_client.INITIAL_RETRY_DELAY", 0.001)


@pytest.fixture(scope="module")
def ingested_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus ingested once with the local fake embeddings (no endpoint involved); tests copy it."""
    data_dir = tmp_path_factory.mktemp("ingested")
    corpus = write_corpus(data_dir.parent / "ingested-papers.jsonl")
    # Module scope runs before the autouse env_setup, so the host's settings are hidden here too.
    with fake_library_env(data_dir):
        result = run_cli("ingest", str(corpus))
    assert result.exit_code == 0, result.output
    return data_dir


@pytest.fixture
def ingested(ingested_dir: Path, env_setup: Path, fake_embedder: HashEmbeddings) -> Path:
    """A private copy of the ingested corpus as this test's data dir; queries embed with the fake too."""
    shutil.copytree(ingested_dir, env_setup)
    return env_setup


def ask_json(question: str = QUESTION) -> Result:
    """`paperboy ask QUESTION --json`."""
    return run_cli("ask", question, "--json")


def assert_one_line_error(result: Result) -> str:
    """Exit 1 with a single `Error: ...` line and no traceback; returns that line."""
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error:"), result.output
    assert "Traceback" not in result.output
    return lines[0]


def test_stub_speaks_the_sdk_formats(stub: OpenAIStub) -> None:
    """The stub's JSON, SSE (with the usage chunk) and base64 embeddings parse in the real SDK."""
    stub.answer = "Two words [1]."
    client = openai.OpenAI(base_url=stub.base_url, api_key=KEY, max_retries=0)
    messages = [{"role": "user", "content": "hi"}]
    whole = client.chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
    assert whole.choices[0].message.content == "Two words [1]."
    stream = client.chat.completions.create(
        model="m",
        messages=messages,  # type: ignore[arg-type]
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Two words [1]."
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    vectors = client.embeddings.create(model="e", input=["a", "b"])
    assert [len(d.embedding) for d in vectors.data] == [EMBED_DIM, EMBED_DIM]


def test_ask_answers_through_the_endpoint(ingested: Path, stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch) -> None:
    """ask --json streams from the endpoint: its text, its model name, the right citation, the key sent."""
    use_endpoint(monkeypatch, stub.base_url)
    stub.answer = STUB_ANSWER
    result = ask_json()
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["answer"] == STUB_ANSWER
    assert answer["abstained"] is False
    assert answer["model"] == "stub-model"
    assert [c["paper_id"] for c in answer["citations"]] == ["2511.00001"]
    assert answer["citations"][0]["title"] == PAPERS[0]["title"]
    assert answer["citations"][0]["url"] == PAPERS[0]["url"]

    (request,) = stub.requests_to(CHAT_PATH)
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.body["model"] == "stub-model"
    assert request.body["stream"] is True
    assert request.body["temperature"] == 0.0
    # langchain-openai sends the reply cap as max_completion_tokens; older servers read max_tokens.
    assert request.body.get("max_completion_tokens", request.body.get("max_tokens")) == 120
    prompt = "\n".join(str(m["content"]) for m in request.body["messages"])
    assert [m["role"] for m in request.body["messages"]] == ["system", "user"]
    assert '<source id="1">' in prompt
    assert "3.2x" in prompt and QUESTION in prompt
    assert not stub.requests_to(EMBED_PATH)


def test_ask_streams_the_endpoint_text_without_json(
    ingested: Path, stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --json the streamed words are printed once, followed by the citation line."""
    use_endpoint(monkeypatch, stub.base_url)
    stub.answer = STUB_ANSWER
    result = run_cli("ask", QUESTION)
    assert result.exit_code == 0, result.output
    assert result.output.count(STUB_ANSWER) == 1
    assert f"[1] {PAPERS[0]['title']} <{PAPERS[0]['url']}>" in result.output


def test_list_question_checks_each_candidate_on_the_endpoint(
    ingested: Path, stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """'Which papers ...' asks the endpoint one short yes/no per candidate and lists those it accepts; an
    endpoint that sends no token probabilities has only the candidates near the best judged."""
    use_endpoint(monkeypatch, stub.base_url)
    stub.answer = "Yes."
    result = ask_json("Which papers study code agents?")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    requests = stub.requests_to(CHAT_PATH)
    assert requests
    assert len(answer["citations"]) == len(requests)
    assert answer["citations"][0]["paper_id"] == "2511.00002"
    assert answer["answer"].startswith(f"{len(requests)} paper")
    for request in requests:
        assert request.body.get("max_completion_tokens", request.body.get("max_tokens")) == 1
        assert request.body["logprobs"] is True
        assert "Does this paper study code agents?" in request.body["messages"][-1]["content"]


def test_list_question_reads_the_endpoint_token_probabilities(
    ingested: Path, stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With logprobs, every retrieved paper is judged, and the probability of yes decides, not the word."""
    use_endpoint(monkeypatch, stub.base_url)
    stub.answer = "Yes"
    sure = {"Calibrated Self-Critique for Code Agents": 0.99, "Diffusion Policies for Household Grasping": 0.97}
    stub.yes_probability = lambda body: next((p for t, p in sure.items() if t in str(body["messages"])), 0.6)
    answer = json.loads(ask_json("Which papers study code agents?").output)
    judged = stub.requests_to(CHAT_PATH)
    assert len(judged) == len(PAPERS)  # every paper of the library, not only those near the best
    # Every reply's word is "Yes", but the sparse-heads paper's yes is unsure (0.6): not listed.
    assert [c["paper_id"] for c in answer["citations"]] == ["2511.00002", "2511.00003"]


def test_ask_retries_after_a_rate_limit(ingested: Path, stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 429 with retry-after-ms is retried; the answer still comes back."""
    use_endpoint(monkeypatch, stub.base_url)
    stub.answer = STUB_ANSWER
    stub.script(CHAT_PATH, rate_limited(10))
    result = ask_json()
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["answer"] == STUB_ANSWER
    assert len(stub.requests_to(CHAT_PATH)) == 2


def test_ask_with_a_dead_endpoint_is_one_line(
    ingested: Path, monkeypatch: pytest.MonkeyPatch, fast_backoff: None
) -> None:
    """Nothing listening at OPENAI_BASE_URL: exit 1, one `Error:` line that names OPENAI_BASE_URL."""
    use_endpoint(monkeypatch, f"http://127.0.0.1:{free_port()}/v1")
    line = assert_one_line_error(ask_json())
    assert "OPENAI_BASE_URL" in line
    assert "cannot reach" in line


@pytest.mark.parametrize("mid_stream", [False, True], ids=["before-the-first-word", "after-the-first-words"])
def test_a_silent_endpoint_is_one_line_after_one_try(
    ingested: Path, stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch, mid_stream: bool
) -> None:
    """A server that takes the request and then says nothing fails once, with no retry of the silence."""
    use_endpoint(monkeypatch, stub.base_url)
    monkeypatch.setenv("PAPERBOY_REQUEST_TIMEOUT", "0.5")
    stub.answer = STUB_ANSWER
    stub.always(CHAT_PATH, silent(3, mid_stream))
    line = assert_one_line_error(ask_json())
    assert "PAPERBOY_REQUEST_TIMEOUT" in line and "stub-model" in line
    assert len(stub.requests_to(CHAT_PATH)) == 1


def test_a_silent_endpoint_behind_a_proxy_is_one_line_after_one_try(
    ingested: Path, stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY is honoured, and a silence through the proxy is not retried either (httpx2 would give a
    proxy a transport of its own, whose timeouts the SDK retries)."""
    use_endpoint(monkeypatch, "http://endpoint.invalid/v1")  # reached only through the proxy
    monkeypatch.setenv("HTTP_PROXY", stub.base_url.removesuffix("/v1"))
    monkeypatch.setenv("PAPERBOY_REQUEST_TIMEOUT", "0.5")
    stub.always(CHAT_PATH, silent(3))
    line = assert_one_line_error(ask_json())
    assert "PAPERBOY_REQUEST_TIMEOUT" in line
    assert len(stub.requests_to(CHAT_PATH)) == 1


def test_a_slow_answer_that_keeps_talking_is_not_cut_off(
    ingested: Path, stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--json still streams from the endpoint, so the timeout bounds each silence, not the whole answer."""
    use_endpoint(monkeypatch, stub.base_url)
    monkeypatch.setenv("PAPERBOY_REQUEST_TIMEOUT", "1")
    stub.answer = STUB_ANSWER
    stub.script(CHAT_PATH, silent(0.6, mid_stream=True))  # 0.6 s quiet after the first words
    result = ask_json()
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["answer"] == STUB_ANSWER
    assert stub.requests_to(CHAT_PATH)[0].body["stream"] is True


def test_ask_gives_up_on_repeated_500(ingested: Path, stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch) -> None:
    """500 on every try: the bounded retries run out, then one line naming HTTP 500."""
    use_endpoint(monkeypatch, stub.base_url)
    stub.always(CHAT_PATH, Reply(500, {"retry-after-ms": "5"}, "The server had an error"))
    line = assert_one_line_error(ask_json())
    assert "HTTP 500" in line
    assert "stub-model" in line
    max_retries = openai_chat(Settings()).max_retries
    assert isinstance(max_retries, int) and max_retries > 0
    assert len(stub.requests_to(CHAT_PATH)) == max_retries + 1


def test_ask_with_a_refused_key_never_shows_it(
    ingested: Path, stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """401: one line about the key, not retried, and the key itself appears nowhere, even if echoed."""
    use_endpoint(monkeypatch, stub.base_url)
    # Some servers echo the key they refused; the message must not pass it on.
    stub.always(CHAT_PATH, Reply(401, message=f"Incorrect API key provided: {KEY}"))
    result = ask_json()
    line = assert_one_line_error(result)
    assert "OPENAI_API_KEY" in line
    assert "key" in line.lower()
    for text in (result.output, result.stdout, result.stderr):
        assert KEY not in text
    assert len(stub.requests_to(CHAT_PATH)) == 1


def test_ask_with_an_error_mid_stream_is_one_line(
    ingested: Path, stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stream starts, then the server sends `data: {"error": ...}`: one `Error:` line, no traceback.

    OpenAI, vLLM and llama.cpp all report a generation that fails after the 200 headers this way; the
    SDK raises a bare openai.APIError for it, neither a status error nor a connection error.
    """
    use_endpoint(monkeypatch, stub.base_url)
    stub.answer = STUB_ANSWER
    stub.script(CHAT_PATH, mid_stream_error("The server had an error while processing your request."))
    line = assert_one_line_error(ask_json())
    assert "stub-model" in line
    assert "The server had an error" in line


def test_ask_never_shows_the_key_an_endpoint_echoes(
    ingested: Path, stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 403 whose body quotes the key (as a proxy refusing a token may) keeps it out of the output.

    provider_errors promises "the API key never reaches the message"; only the 401 branch drops the body.
    """
    use_endpoint(monkeypatch, stub.base_url)
    stub.always(CHAT_PATH, Reply(403, message=f"Invalid proxy token. Received API Key = {KEY}"))
    result = ask_json()
    line = assert_one_line_error(result)
    assert "HTTP 403" in line
    for text in (result.output, result.stdout, result.stderr):
        assert KEY not in text


def test_get_chat_picks_openai_when_a_key_is_set(stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch) -> None:
    """OPENAI_API_KEY set: the OpenAI provider, at OPENAI_BASE_URL, with PAPERBOY_CHAT_MODEL."""
    use_endpoint(monkeypatch, stub.base_url)
    settings = Settings()
    assert chat_provider(settings) == "openai"
    llm = get_chat(settings)
    assert isinstance(llm, ChatOpenAI)
    assert llm.model_name == "stub-model"
    assert llm.openai_api_base == stub.base_url
    assert llm.openai_api_key is not None and llm.openai_api_key.get_secret_value() == KEY
    assert not stub.requests


def test_get_chat_defaults_model_on_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    """A key without PAPERBOY_CHAT_MODEL means gpt-4o-mini; no request is made to build it."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    assert get_chat(Settings()).model_name == providers.DEFAULT_OPENAI_CHAT_MODEL  # type: ignore[attr-defined]


@pytest.mark.parametrize("key", [None, ""])
def test_get_chat_picks_local_without_a_key(key: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """No key (or an empty one): the local provider; its server is not started here."""
    if key is not None:
        monkeypatch.setenv("OPENAI_API_KEY", key)
    settings = Settings()
    assert chat_provider(settings) == "local"
    sentinel = object()
    monkeypatch.setitem(providers.CHAT, "local", lambda s: sentinel)
    assert get_chat(settings) is sentinel


def use_endpoint_embeddings(monkeypatch: pytest.MonkeyPatch, base_url: str) -> None:
    """Embed through the endpoint too."""
    use_endpoint(monkeypatch, base_url)
    monkeypatch.setenv("PAPERBOY_EMBEDDING_PROVIDER", "openai")


def test_ingest_embeds_through_the_endpoint(corpus: Path, stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch) -> None:
    """ingest sends every chunk to /v1/embeddings; stats names the endpoint's model; search works with it."""
    use_endpoint_embeddings(monkeypatch, stub.base_url)
    result = run_cli("ingest", str(corpus), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["new"] == len(PAPERS)

    requests = stub.requests_to(EMBED_PATH)
    assert requests
    assert all(r.body["model"] == "text-embedding-3-small" for r in requests)
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in requests)
    sent = [text for r in requests for text in r.body["input"]]
    assert all(isinstance(t, str) for t in sent)  # text, not tiktoken ids: compatible servers need text
    assert len(sent) == report["chunks"]
    assert any("3.2x" in t for t in sent)

    stats = run_cli("stats", "--json")
    assert stats.exit_code == 0, stats.output
    data = json.loads(stats.output)
    assert data["embedding_model"] == "openai-text-embedding-3-small"
    assert data["papers"] == len(PAPERS)
    assert data["chunks"] == report["chunks"]

    search = run_cli("search", "retrieval heads memory", "--json", "--mode", "dense")
    assert search.exit_code == 0, search.output
    assert json.loads(search.output)["results"]
    assert len(stub.requests_to(EMBED_PATH)) == len(requests) + 1


def test_an_embedding_server_of_its_own_needs_no_key_and_answers_stay_local(
    corpus: Path, stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PAPERBOY_EMBEDDING_BASE_URL (a TEI or vLLM server for a big archive) takes the embeddings only."""
    monkeypatch.setenv("PAPERBOY_EMBEDDING_PROVIDER", "openai")
    monkeypatch.setenv("PAPERBOY_EMBEDDING_BASE_URL", stub.base_url)
    monkeypatch.setenv("PAPERBOY_OPENAI_EMBEDDING_MODEL", "BAAI/bge-small-en-v1.5")

    result = run_cli("ingest", str(corpus), "--json")

    assert result.exit_code == 0, result.output
    requests = stub.requests_to(EMBED_PATH)
    assert len([t for r in requests for t in r.body["input"]]) == json.loads(result.output)["chunks"]
    assert all(r.body["model"] == "BAAI/bge-small-en-v1.5" for r in requests)
    stats = json.loads(run_cli("stats", "--json").output)
    assert stats["embedding_model"] == "openai-BAAI/bge-small-en-v1.5"
    assert stats["chat_endpoint"].startswith("local")  # no OPENAI_API_KEY: answers stay on the local model


def test_an_embedding_server_of_its_own_is_reached_through_its_own_proxy_setting(
    corpus: Path, stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY is judged for PAPERBOY_EMBEDDING_BASE_URL's host, not for OPENAI_BASE_URL's (here unset:
    OpenAI's https URL, which an http proxy does not serve)."""
    monkeypatch.setenv("PAPERBOY_EMBEDDING_PROVIDER", "openai")
    monkeypatch.setenv("PAPERBOY_EMBEDDING_BASE_URL", "http://embeddings.invalid/v1")  # only through the proxy
    monkeypatch.setenv("HTTP_PROXY", stub.base_url.removesuffix("/v1"))

    result = run_cli("ingest", str(corpus), "--json")

    assert result.exit_code == 0, result.output
    assert len(stub.requests_to(EMBED_PATH)) >= 1


def test_ingest_retries_embeddings_after_a_rate_limit(
    corpus: Path, stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 429 on /v1/embeddings is retried; every paper still goes in."""
    use_endpoint_embeddings(monkeypatch, stub.base_url)
    stub.script(EMBED_PATH, rate_limited(10))
    result = run_cli("ingest", str(corpus), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["new"] == len(PAPERS)
    first, retry, *_ = stub.requests_to(EMBED_PATH)
    assert first.body["input"] == retry.body["input"]


def test_ask_with_failing_query_embeddings_is_one_line(
    corpus: Path, stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Embeddings on the endpoint: a 500 while embedding the question is one line naming the embedder."""
    use_endpoint_embeddings(monkeypatch, stub.base_url)
    assert run_cli("ingest", str(corpus)).exit_code == 0
    stub.always(EMBED_PATH, Reply(500, {"retry-after-ms": "5"}, "The server had an error"))
    line = assert_one_line_error(ask_json())
    assert "Embedding with openai-text-embedding-3-small" in line
    assert "HTTP 500" in line
    assert not stub.requests_to(CHAT_PATH)


def test_openai_embedder_vectors_have_the_endpoint_size(stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch) -> None:
    """The base64 vectors the SDK asks for decode to the stub's fixed size."""
    use_endpoint_embeddings(monkeypatch, stub.base_url)
    embedder = get_embedder(Settings())
    vectors = embedder.documents(["one text", "another text"])
    assert [len(v) for v in vectors] == [EMBED_DIM, EMBED_DIM]
    assert len(embedder.query("a query")) == EMBED_DIM


def test_ingest_with_a_dead_endpoint_writes_nothing(
    corpus: Path, monkeypatch: pytest.MonkeyPatch, fast_backoff: None
) -> None:
    """Embedding endpoint down: exit 1, the error names the problem, and no paper or chunk is stored."""
    use_endpoint_embeddings(monkeypatch, f"http://127.0.0.1:{free_port()}/v1")
    result = run_cli("ingest", str(corpus))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    assert "cannot reach the endpoint" in errors[0]
    assert "OPENAI_BASE_URL" in errors[0]
    assert "openai-text-embedding-3-small" in errors[0]

    papers = run_cli("papers", "--json")
    assert papers.exit_code == 0, papers.output
    assert json.loads(papers.output) == []
    stats = json.loads(run_cli("stats", "--json").output)
    assert (stats["papers"], stats["chunks"]) == (0, 0)


def test_ingest_with_a_refused_key_never_shows_it(
    corpus: Path, stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """401 from /v1/embeddings: exit 1, a message about the key, the key nowhere in the output."""
    use_endpoint_embeddings(monkeypatch, stub.base_url)
    stub.always(EMBED_PATH, Reply(401, message=f"Incorrect API key provided: {KEY}"))
    result = run_cli("ingest", str(corpus))
    assert result.exit_code == 1, result.output
    assert "OPENAI_API_KEY" in result.stderr
    for text in (result.output, result.stdout, result.stderr):
        assert KEY not in text
    assert json.loads(run_cli("papers", "--json").output) == []


@pytest.mark.parametrize(
    ("path", "raw", "command"),
    [
        (CHAT_PATH, b"{not json", ("ask",)),
        (CHAT_PATH, b"data: {not json\n\n", ("ask",)),
        (CHAT_PATH, b"data: [DONE]\n\n", ("ask",)),  # a stream that ends before any chunk
        (EMBED_PATH, b"{not json", ("ingest",)),
        (EMBED_PATH, b'{"object": "list", "data": []}', ("ingest",)),
    ],
    ids=["chat-invalid-json", "chat-broken-stream", "chat-empty-stream", "embed-invalid-json", "embed-no-vectors"],
)
def test_an_endpoint_answering_garbage_is_one_line(
    path: str,
    raw: bytes,
    command: tuple[str, ...],
    corpus: Path,
    ingested: Path,
    stub: OpenAIStub,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 200 whose body is not what the API promises: one line naming the model, exit 1, store untouched."""
    if path == EMBED_PATH:
        use_endpoint_embeddings(monkeypatch, stub.base_url)
    else:
        use_endpoint(monkeypatch, stub.base_url)
    stub.always(path, Reply(raw=raw))
    result = ask_json() if command == ("ask",) else run_cli("ingest", str(corpus))
    line = assert_one_line_error(result) if command == ("ask",) else _ingest_error(result)
    assert ("stub-model" if path == CHAT_PATH else "Embedding with") in line
    assert "answered" in line


def _ingest_error(result: Result) -> str:
    """ingest reports each failed file on its own line, then a summary; returns the file's line."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    return errors[0]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_wait_is_counted_on_a_terminal_and_cleared_when_the_words_come() -> None:
    terminal, pipe = _Terminal(), io.StringIO()
    for out in (terminal, pipe):
        with WaitNotice("stub-model", out, every_s=0.02):
            time.sleep(0.2)
    assert "\rWaiting for stub-model: " in terminal.getvalue()
    assert terminal.getvalue().endswith("\r\033[K")  # the answer starts on a clean line
    assert pipe.getvalue() == ""
    quick = _Terminal()
    with WaitNotice("stub-model", quick, every_s=10):
        pass
    assert quick.getvalue() == ""  # a quick answer shows nothing
