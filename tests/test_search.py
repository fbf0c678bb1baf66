"""Search over the real sample day with the real local embeddings."""

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

# Paraphrases that share few words with the title they should find.
PARAPHRASES = {
    "placing sponsored ads inside text written by a chatbot": "Position Auctions in AI-Generated Content",
    "making long videos in real time with an autoregressive model": "Rolling Forcing",
    "which weights to average when combining several fine-tuned networks": "Merging Models with Fisher",
    "splitting a huge sparse expert model across many GPUs efficiently": "Tutel",
    "numerical precision problems in softmax when models suddenly generalise": "Grokking at the Edge",
    "advertisers bidding automatically under spending limits across channels": "Multi-channel Autobidding",
}


@pytest.mark.parametrize("query", sorted(PARAPHRASES))
def test_paraphrased_query_finds_the_obvious_paper_in_top_3(query: str, sample_store: Path) -> None:
    result = run_cli("search", query, "-k", "3", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["query"] == query
    assert any(r["title"].startswith(PARAPHRASES[query]) for r in payload["results"])


def test_search_json_contract_and_order(sample_store: Path) -> None:
    payload = json.loads(run_cli("search", "diffusion distillation", "-k", "5", "--json").output)
    results = payload["results"]
    assert len(results) == 5
    assert all(set(r) == {"paper_id", "title", "score", "text"} for r in results)
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    assert len({r["paper_id"] for r in results}) == 5
    assert all(r["text"].startswith(r["title"]) for r in results)


def test_search_filters_by_day(sample_store: Path) -> None:
    assert json.loads(run_cli("search", "diffusion", "--date", "2025-10-30", "--json").output)["results"] == []
    assert json.loads(run_cli("search", "diffusion", "--date", "2025-10-31", "--json").output)["results"]


def test_search_before_ingest_says_what_to_do() -> None:
    result = run_cli("search", "anything")
    assert result.exit_code == 1
    assert "paperboy ingest" in result.output


def test_stats_reports_the_sample_day(sample_store: Path) -> None:
    stats = json.loads(run_cli("stats", "--json").output)
    assert stats["papers"] == 45
    assert stats["chunks"] >= 45
    assert stats["days"] == ["2025-10-31"]
    assert stats["embedding_model"] == "all-MiniLM-L6-v2-int8"
    assert stats["store"].endswith("chroma")


def test_search_uses_the_configured_retrieval_mode(sample_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    query = "diffusion distillation"
    bm25 = json.loads(run_cli("search", query, "--mode", "bm25", "--json").output)["results"]
    hybrid = json.loads(run_cli("search", query, "--json").output)["results"]
    assert [r["score"] for r in bm25] != [r["score"] for r in hybrid]  # BM25 scores are not fused shares
    monkeypatch.setenv("PAPERBOY_RETRIEVAL_MODE", "bm25")
    assert json.loads(run_cli("search", query, "--json").output)["results"] == bm25
    assert json.loads(run_cli("search", query, "--mode", "hybrid", "--json").output)["results"] == hybrid
