"""The textbook chain, as a baseline: dense top-4 whole abstracts stuffed into one prompt, no checks.

Evals run it beside the real pipeline so users see what evidence selection, checked citations
and abstention buy.
"""

import time

from evals.pipelines import NAIVE_MODE
from rag.chains import ModelCalls
from rag.citations import marker, markers
from rag.models import Answer, Citation, Source, Timings
from rag.prompts import finds_no_answer, load_prompt
from rag.retrieval import retrieve
from rag.store import Store

NAIVE_K = 4


def naive_answer(question: str, store: Store, calls: ModelCalls) -> Answer:
    """Retrieve, stuff, generate: citations are whatever markers name a source."""
    started = time.perf_counter()
    spent = calls.usage.model_copy()
    hits = retrieve(question, store, NAIVE_K, mode=NAIVE_MODE)
    sources = [
        Source(number=i, paper=h.chunk.paper, text=h.chunk.paper.abstract, score=h.score, evidence_score=h.score)
        for i, h in enumerate(hits, start=1)
    ]
    retrieved_ms = int((time.perf_counter() - started) * 1000)
    blocks = "\n\n".join(f"{marker([s.number])} {s.paper.title}\n{s.text}" for s in sources)
    prompt = load_prompt("naive")
    reply = calls.run(prompt, {"sources": blocks, "question": question}, 200)
    by_number = {s.number: s for s in sources}
    cited = [by_number[n] for n in dict.fromkeys(markers(reply)) if n in by_number]
    total_ms = int((time.perf_counter() - started) * 1000)
    return Answer(
        question=question,
        standalone_question=question,
        answer=reply,
        abstained=finds_no_answer(reply),
        kind="single",
        citations=[Citation(number=s.number, paper_id=s.paper.id, title=s.paper.title, url=s.paper.url) for s in cited],
        sources=sources,
        model=calls.model,
        prompt=prompt.id,
        timings=Timings(
            retrieve_ms=retrieved_ms, generate_ms=total_ms - retrieved_ms, total_ms=total_ms, first_token_ms=total_ms
        ),
        usage=calls.usage_since(spent),
    )
