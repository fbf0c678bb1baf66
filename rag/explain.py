"""Paper -> a checked plain-language explainer, cached by paper text, prompt version and model."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from rag.catalog import Catalog
from rag.grounding import unsupported_numbers
from rag.models import Explainer, Paper
from rag.naming import method_name
from rag.prompts import Prompt, load_prompt
from rag.text import finished_part, split_sentences, words
from rag.untrusted import prompt_text, prompt_title

if TYPE_CHECKING:  # LangChain loads only to write one: `paperboy daily` checks the cache without it (2.4 s)
    from langchain_core.messages import BaseMessage

    from rag.chains import ModelCalls

EXPLAIN_PROMPT_VERSION = 4
MIN_WORDS = 60
MAX_WORDS = 150
# The TL;DR is the paragraph's opening sentence; past this it is no longer a line to skim.
MAX_TLDR_WORDS = 35
# A phrase of this many words found word for word in the abstract is copied; past the share, the
# paragraph is the abstract's wording, not plain language (4 of 45 first tries on the sample day).
COPIED_RUN_WORDS = 6
MAX_COPIED_SHARE = 0.5
# ~100 words of explainer is ~120 tokens; at ~27 tokens/s every token over that costs time, so the
# cap sits above the longest useful reply and an unfinished last sentence is dropped.
MAX_REPLY_TOKENS = 240
# A "TL;DR:" or "Explainer:" label the model may add out of habit, plain or in bold.
_LABEL = re.compile(r"^[\W_]*(?:tl\W?dr|explainer)[*_\s]*:[*_\s]*", re.I)
_LIST_ITEM = re.compile(r"^\s*([-*\u2022]|\d+[.)])\s", re.M)


def parse_reply(reply: str) -> tuple[str, str]:
    """(TL;DR, paragraph): the reply without labels, and its opening sentence, which is the TL;DR.

    Asking for a separate TL;DR line cost ~30 generated tokens a paper (~1.1 s on 2 cores) for a
    sentence that said what the paragraph's opening says anyway.
    """
    lines = [_LABEL.sub("", line).strip() for line in reply.strip().splitlines()]
    paragraph = trim_to_length(_drop_unfinished("\n".join(line for line in lines if line)))
    return next(iter(split_sentences(paragraph)), ""), paragraph


def _drop_unfinished(paragraph: str) -> str:
    """Without a last sentence that the token cap cut off, unless that leaves too few words."""
    finished = finished_part(paragraph)
    return finished if len(finished.split()) >= MIN_WORDS else paragraph


def trim_to_length(paragraph: str) -> str:
    """Whole leading sentences up to MAX_WORDS: the small model runs long (~200 words) and its
    retries run long too, while its opening sentences already say what the paper did and found."""
    if len(paragraph.split()) <= MAX_WORDS:
        return paragraph
    kept: list[str] = []
    for sentence in split_sentences(paragraph):
        if len(" ".join([*kept, sentence]).split()) > MAX_WORDS:
            break
        kept.append(sentence)
    trimmed = " ".join(kept)
    return trimmed if len(trimmed.split()) >= MIN_WORDS else paragraph


def copied_share(paragraph: str, abstract: str) -> float:
    """The share of the paragraph's six-word runs that appear word for word in the abstract."""

    def runs(text: str) -> set[tuple[str, ...]]:
        tokens = words(text.lower())  # "5.75x" and "SwinV2-MoE" are one word
        return {tuple(tokens[i : i + COPIED_RUN_WORDS]) for i in range(len(tokens) - COPIED_RUN_WORDS + 1)}

    own = runs(paragraph)
    return len(own & runs(abstract)) / len(own) if own else 0.0


def explainer_problems(tldr: str, paragraph: str, paper: Paper) -> list[str]:
    """Every check the explainer fails: length, one paragraph, a short opening sentence (the TL;DR),
    its own words, the method named, no number the abstract lacks."""
    problems = []
    words = len(paragraph.split())
    if not MIN_WORDS <= words <= MAX_WORDS:
        problems.append(f"the explainer has {words} words; it must have {MIN_WORDS} to {MAX_WORDS}")
    if "\n" in paragraph or _LIST_ITEM.search(paragraph):
        problems.append("the explainer must be one paragraph, not several lines or a list")
    if len(tldr.split()) > MAX_TLDR_WORDS:
        problems.append(f"the first sentence has {len(tldr.split())} words; it must have at most {MAX_TLDR_WORDS}")
    copied = copied_share(paragraph, paper.abstract)
    if copied > MAX_COPIED_SHARE:
        problems.append(f"{copied:.0%} of the explainer's six-word phrases are copied from the abstract")
    # A reader who meets "SlimFlow" elsewhere should know this is the paragraph about it.
    name = method_name(paper)
    if name and name.lower() not in paragraph.lower():
        problems.append(f"the explainer never names the method, {name}")
    numbers = unsupported_numbers(paragraph, paper.text)
    if numbers:
        problems.append(f"it gives numbers the abstract does not: {', '.join(numbers)}")
    return problems


def retry_turn(problem: str, paper: Paper) -> list[BaseMessage]:
    """The turn added for the second try: the first try's problem named, the first try not shown.

    Shown its own reply and asked to fix it, the 1.5B model copied it word for word (3 of 3 flagged
    papers on the sample day); told only what went wrong, it wrote a new reply that passed. Told
    that the method's name was missing, it left GVGEN out again; asked to say it in the first
    sentence, it did. Given the opening words ("Flex is"), it copied the abstract from there.
    """
    from langchain_core.messages import HumanMessage

    name = method_name(paper)
    naming = f" Say the name {name} in the first sentence." if name else ""
    return [
        HumanMessage(
            f"A first try at this had a problem: {problem}. Avoid it: write one paragraph of eight short "
            "sentences in your own simple words, not the abstract's: at most 12 words per sentence, words a "
            f"teenager knows.{naming}"
        )
    ]


def explain_prompt() -> Prompt:
    """The prompt explainers are written with, and cached under."""
    return load_prompt("explain", EXPLAIN_PROMPT_VERSION)


def cached_explainer(paper: Paper, catalog: Catalog, model: str) -> Explainer | None:
    """The paper's explainer from the catalog, by its cache key: paper text, prompt version, model."""
    return catalog.explainer(paper, explain_prompt().id, model)


def explain_paper(paper: Paper, calls: ModelCalls, catalog: Catalog, refresh: bool = False) -> Explainer:
    """The cached explainer, or a new one: generated, checked, regenerated once with the problem named."""
    prompt = explain_prompt()
    if not refresh and (hit := cached_explainer(paper, catalog, calls.model)):
        return hit
    started = time.perf_counter()
    variables = {"title": prompt_title(paper), "abstract": prompt_text(paper)}

    def checked(reply: str) -> tuple[str, str, list[str]]:
        tldr, paragraph = parse_reply(reply)
        return tldr, paragraph, explainer_problems(tldr, paragraph, paper)

    attempts = [checked(calls.run(prompt, variables, MAX_REPLY_TOKENS))]
    if problems := attempts[0][2]:
        retry = retry_turn("; ".join(problems), paper)
        attempts.append(checked(calls.run(prompt, variables, MAX_REPLY_TOKENS, follow_up=retry)))
    tldr, paragraph, problems = min(attempts, key=lambda attempt: len(attempt[2]))
    explainer = Explainer(
        paper_id=paper.id,
        title=paper.title,
        tldr=tldr,
        explainer=" ".join(paragraph.split()),
        flagged=bool(problems),
        flag_reason="; ".join(problems) or None,
        model=calls.model,
        prompt_version=prompt.id,
        content_hash=paper.content_hash,
        attempts=len(attempts),
        seconds=round(time.perf_counter() - started, 2),
    )
    catalog.save_explainer(explainer)
    return explainer


def explain_papers(
    papers: list[Paper],
    calls: ModelCalls,
    catalog: Catalog,
    refresh: bool = False,
    progress: Callable[[list[Explainer]], None] | None = None,
) -> list[Explainer]:
    """Explain papers one by one; each is saved as it is done, so an interrupted run resumes there."""
    done: list[Explainer] = []
    for paper in papers:
        done.append(explain_paper(paper, calls, catalog, refresh))
        if progress:
            progress(done)
    return done
