"""Token-aware chunking: abstracts stay whole, long text splits with overlap, the title leads each chunk."""

import itertools

from rag.chunks import chunk_paper
from rag.models import Paper
from rag.settings import Settings
from rag.tokens import count_tokens


def paper(abstract: str) -> Paper:
    return Paper(id="2510.00001", title="A Title", abstract=abstract, source="jsonl")


def test_ordinary_abstract_is_one_chunk(settings: Settings) -> None:
    abstract = "We study a problem. " * 60  # ~300 tokens, a typical abstract
    chunks = chunk_paper(paper(abstract), settings)
    assert len(chunks) == 1
    assert chunks[0].text == "A Title\n\n" + abstract.strip()
    assert chunks[0].id == f"2510.00001#{chunks[0].paper.content_hash[:8]}.0"
    changed = chunk_paper(paper(abstract + " One more sentence."), settings)
    assert changed[0].id != chunks[0].id  # a changed text never overwrites the vectors of the old one


def test_long_text_splits_under_budget_with_overlap(settings: Settings) -> None:
    sentences = [f"Sentence number {i} reports result {i * 7}." for i in range(400)]
    chunks = chunk_paper(paper(" ".join(sentences)), settings)
    assert len(chunks) > 3
    assert all(c.tokens <= settings.chunk_tokens for c in chunks)
    assert all(c.text.startswith("A Title\n\n") for c in chunks)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    # Consecutive chunks share text: the last sentence of one opens the next.
    for left, right in itertools.pairwise(chunks):
        last_sentence = left.text.rsplit("Sentence", 1)[1]
        assert "Sentence" + last_sentence in right.text
    # Nothing is lost: every sentence is in some chunk.
    joined = " ".join(c.text for c in chunks)
    assert all(s in joined for s in sentences)


def test_token_count_is_tiktoken_cl100k(settings: Settings) -> None:
    assert count_tokens("hello world", settings.cache_dir) == 2
