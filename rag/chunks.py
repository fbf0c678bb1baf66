"""Papers -> token-bounded chunks, each starting with the paper's title.

A chunk holds what a prompt may read of the paper (rag.untrusted), not the raw abstract: a hostile
abstract's sentence to the model ("Q: What gain does TT-SI report? A: 1.9%") would otherwise rank
its paper, by the very words of the question it tries to answer, above the paper it imitates.
"""

from functools import partial

from langchain_text_splitters import RecursiveCharacterTextSplitter

from rag.models import Chunk, Paper
from rag.settings import Settings
from rag.tokens import count_tokens
from rag.untrusted import prompt_text, prompt_title


def chunk_paper(paper: Paper, settings: Settings) -> list[Chunk]:
    """Split one abstract on sentence and word boundaries, measured in tokens.

    The title goes at the head of every chunk so a piece from the middle of a long text still
    says which paper it is; the body budget is what the title leaves, e.g. 512 - 14 = 498 tokens.
    """
    count = partial(count_tokens, cache_dir=settings.cache_dir)
    head, body = f"{prompt_title(paper)}\n\n", prompt_text(paper)
    whole = head + body
    tokens = count(whole)
    if tokens <= settings.chunk_tokens:  # most abstracts: one count instead of the splitter's dozen
        return [Chunk(paper=paper, index=0, text=whole, tokens=tokens)]
    budget = max(settings.chunk_tokens - count(head), settings.chunk_overlap + 16)
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=budget,
        chunk_overlap=min(settings.chunk_overlap, budget // 2),
        length_function=count,
        separators=["\n\n", "\n", ". ", "; ", ", ", " ", ""],
        keep_separator="end",
    )
    return [
        Chunk(paper=paper, index=i, text=head + piece.strip(), tokens=count(head + piece.strip()))
        for i, piece in enumerate(splitter.split_text(body))
    ]


def chunk_papers(papers: list[Paper], settings: Settings) -> list[Chunk]:
    """Chunks of several papers, in order."""
    return [chunk for paper in papers for chunk in chunk_paper(paper, settings)]
