"""Optional LLM judge: the configured model checks each answer sentence against its cited sources."""

from rag.chains import ModelCalls
from rag.citations import without_markers
from rag.models import Answer
from rag.prompts import load_prompt, says_yes
from rag.text import split_sentences


def judge_answer(answer: Answer, calls: ModelCalls) -> float | None:
    """Share of the answer's sentences the judge finds supported by the cited sources; None if nothing to judge."""
    cited = {c.paper_id for c in answer.citations}
    evidence = "\n".join(f"{s.paper.title}: {s.text}" for s in answer.sources if s.paper.id in cited)
    claims = split_sentences(without_markers(answer.answer))
    if answer.abstained or not evidence or not claims:
        return None
    prompt = load_prompt("judge")
    verdicts = [says_yes(calls.run(prompt, {"sources": evidence, "claim": claim}, 3)) for claim in claims]
    return sum(verdicts) / len(verdicts)
