"""The registries are the extension point: a new retriever and mode, chat provider, or metric is one
function and one entry, and the rest of Paperboy (search, answers, evals, reports) takes it up."""

import json
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_openai import ChatOpenAI

from evals.metrics import ANSWER_METRICS, Metric, Scored
from evals.report import compare
from evals.run import Run
from rag import providers, retrieval
from rag.answer import Asker
from rag.chains import ModelCalls
from rag.citations import without_markers
from rag.cli import cli
from rag.providers import provider_key
from rag.retrieval import MODES, Mode, Retriever, retrieve
from rag.settings import Settings
from rag.store import Store, open_store
from rag.text import content_words
from tests import test_eval
from tests.conftest import HashEmbeddings, ScriptedChat, run_cli
from tests.openai_stub import CHAT_PATH, OpenAIStub

# The eval tests' tiny suite and scripted model, as fixtures here too.
tiny_suite = test_eval.tiny_suite
fake_model = test_eval.fake_model
PAPERS = [
    {"id": "2510.20001", "title": "Sparse Attention Kernels", "abstract": "We make attention 3.1x faster on GPUs."},
    {"id": "2510.20002", "title": "Protein Folding Priors", "abstract": "We fold proteins with backbone priors."},
    {"id": "2510.20003", "title": "Federated Clients at Scale", "abstract": "We train across 512 phones privately."},
]


def title_scores(question: str, store: Store, k: int, paper_ids: list[str] | None) -> dict[str, float]:
    """A new retriever: each chunk scored by how many of the question's words its paper's title has."""
    asked = content_words(question)
    papers = [p for p in store.catalog.papers() if paper_ids is None or p.id in paper_ids]
    ids = store.catalog.chunk_ids([p.id for p in papers])
    shared = {p.id: len(asked & content_words(p.title)) for p in papers}
    scores = {cid: float(shared[cid.split("#")[0]]) for cid in ids if shared[cid.split("#")[0]]}
    return dict(sorted(scores.items(), key=lambda kv: -kv[1])[:k])


TITLE = Retriever(
    search=title_scores,
    leads=lambda top, other: top > other,
    near_best=lambda score, best: score == best,
    strong=lambda score, settings: score >= 2,  # two title words in common, or it is no match
)


@pytest.fixture
def titles(monkeypatch: pytest.MonkeyPatch) -> None:
    """The title retriever and a mode of it alone, registered for this test."""
    monkeypatch.setitem(retrieval.RETRIEVERS, "title", TITLE)
    monkeypatch.setitem(MODES, "titles", Mode(("title",), lambda scores: scores.get("title", 0.0), ("title",)))


@pytest.fixture
def store(tmp_path: Path, fake_embedder: HashEmbeddings) -> Store:
    path = tmp_path / "papers.jsonl"
    path.write_text("\n".join(json.dumps(p) for p in PAPERS), encoding="utf-8")
    assert run_cli("ingest", str(path)).exit_code == 0
    return open_store(Settings())


def test_a_new_retriever_and_mode_rank_papers(titles: None, store: Store) -> None:
    hits = retrieve("protein folding with priors", store, k=3, mode="titles")
    assert [h.chunk.paper.id for h in hits] == ["2510.20002"]
    assert hits[0].scores == {"title": 3.0} and hits[0].score == 3.0 and hits[0].mode == "titles"


def test_the_answer_gates_read_the_new_retrievers_scores(titles: None, store: Store, settings: Settings) -> None:
    chat = ScriptedChat(script=["Attention runs 3.1x faster [1]."])
    asker = Asker(store, ModelCalls(chat, settings.cache_dir), settings)
    # One title word in common: the title retriever finds the paper but calls it no match, so no model call.
    weak = asker.ask("How fast are the kernels?", mode="titles")
    assert weak.abstained and weak.abstain_reason == "no paper matches the question well"
    assert chat.received == []
    strong = asker.ask("How fast are the sparse attention kernels?", mode="titles")
    assert not strong.abstained and [c.paper_id for c in strong.citations] == ["2510.20001"]
    assert "3.1x" in strong.answer


def test_mode_choices_are_derived_from_the_registry() -> None:
    search = next(p for p in cli.commands["search"].params if p.name == "mode")
    assert list(search.type.choices) == list(MODES)  # type: ignore[attr-defined]
    assert typing.get_args(Settings.model_fields["retrieval_mode"].annotation) == tuple(MODES)
    evals = next(p for p in cli.commands["eval"].params if p.name == "pipeline")
    assert list(evals.type.choices) == ["default", "dense", "bm25", "naive"]  # type: ignore[attr-defined]


@pytest.fixture
def stub_provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIStub]:
    """A new chat provider, "stub": an OpenAI-compatible server on loopback with its own key variable."""
    server = OpenAIStub().start()

    def stub_chat(settings: Settings) -> BaseChatModel:
        return ChatOpenAI(base_url=server.base_url, api_key=provider_key(settings, "STUB_API_KEY"), model="stub-model")

    monkeypatch.setitem(providers.CHAT, "stub", stub_chat)
    try:
        yield server
    finally:
        server.stop()


def test_a_new_chat_provider_is_chosen_by_name_with_its_own_key(
    stub_provider: OpenAIStub, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = "Sparse Attention Kernels make attention 3.1x faster on GPUs [1]."
    stub_provider.answer = answer
    monkeypatch.setenv("PAPERBOY_CHAT_PROVIDER", "stub")
    question = "How much faster do sparse attention kernels make attention?"
    missing = run_cli("ask", question)
    assert missing.exit_code == 1 and "This needs STUB_API_KEY" in missing.output
    (tmp_path / ".env").write_text("STUB_API_KEY=sk-stub-0123456789\n")  # read like every setting
    result = run_cli("ask", question, "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["model"] == "stub-model" and payload["answer"] == answer
    [request] = stub_provider.requests_to(CHAT_PATH)
    assert request.headers["authorization"] == "Bearer sk-stub-0123456789"
    stats = json.loads(run_cli("stats", "--json").output)
    assert (stats["chat_model"], stats["chat_endpoint"]) == ("stub-model", stub_provider.base_url)


def test_an_unknown_provider_stops_at_once_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERBOY_CHAT_PROVIDER", "cohere")
    result = run_cli("papers")
    assert result.exit_code == 1
    assert "PAPERBOY_CHAT_PROVIDER" in result.output and "known: local, openai" in result.output


def answer_words(scored: Scored) -> float | None:
    """A new metric: how many words an answer takes (abstentions have none to count)."""
    return None if scored.answer.abstained else float(len(without_markers(scored.answer.answer).split()))


@pytest.fixture
def wordy() -> Iterator[Metric]:
    """answer_words registered for this test: lower is better, not a 0..1 share."""
    metric = Metric("answer_words", answer_words, higher_is_better=False, is_share=False)
    ANSWER_METRICS.append(metric)
    try:
        yield metric
    finally:
        ANSWER_METRICS.remove(metric)


def test_a_new_metric_is_scored_reported_and_gated(
    wordy: Metric, tiny_suite: Path, fake_model: ScriptedChat, tmp_path: Path
) -> None:
    result = run_cli(
        "eval", str(tiny_suite), "--out", str(tmp_path / "run"), "--json", "--fail-under", "answer_words=5"
    )
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    words = {
        c["id"]: None if c["abstained"] else float(len(without_markers(c["answer"]).split())) for c in run["cases"]
    }
    assert {c["id"]: c["metrics"]["answer_words"] for c in run["cases"]} == words
    assert words["unans-1"] is None and run["aggregate"]["answer_words"] == (words["fact-1"] + words["fact-2"]) / 2
    assert result.exit_code == 1
    assert f"answer_words = {run['aggregate']['answer_words']} is above the bar 5.0" in result.output
    # Ten more words a case is worse: a regression by the relative tolerance, since it is no share.
    before = run["aggregate"]["answer_words"]
    longer = run | {"aggregate": run["aggregate"] | {"answer_words": before + 10}}
    comparison = compare(Run.model_validate(longer), Run.model_validate(run))
    assert comparison["answer_words"] == {"now": before + 10, "before": before, "change": 10.0, "regression": True}
    assert f"| answer_words | {before:.3f} |" in (tmp_path / "run" / "report.md").read_text()
