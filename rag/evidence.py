"""Retrieved papers -> the few sentences that bear on the question, numbered as sources.

A 1.5B model reads ~100 prompt tokens/s on 2 cores (108 on the native build, README Performance):
three whole abstracts (~1,000 tokens) cost ~10 s before the first word, three or four evidence
sentences (~150 tokens) under 2 s. Short context is also what keeps it from grabbing the wrong number.
"""

import re

import numpy as np

from rag.grounding import SCALE, UNIT
from rag.models import Hit, Source
from rag.naming import named_in, names_of
from rag.providers import Embedder
from rag.text import content_words
from rag.untrusted import prompt_sentences

# A measured figure, not any digit: "5.75x", "51%", "7 seconds", "0.611", "107K", "1.2 million"; not
# "3D" or "GPT-4".
_FIGURE = re.compile(
    rf"\d+(?:\.\d+)?\s*(?:{UNIT})"
    rf"|\d+\.\d+|\d{{1,3}}(?:,\d{{3}})+|\b\d+(?:{SCALE})"
)
# A question asked so that only a number answers it: "by how much", "how often", "what share" (a
# "what" measure may be qualified and come a few words on: "what speedup ratio").
_BY_HOW_MUCH = r"\bhow (much|often)\b|\bby (what|how)\b"
_AMOUNTS = "fraction|share|percentage|ratio|factor|speedup"
_WHAT_MEASURE = r"\bwhat (?:[\w-]+ ){{0,3}}?({measures})s?\b"
_AMOUNT_QUESTION = re.compile(f"{_BY_HOW_MUCH}|{_WHAT_MEASURE.format(measures=_AMOUNTS)}", re.I)
# Any figure question: also those a word may answer ("how well": "it outperforms"; "how fast": "in
# real time"), and measures such as "what success rate", "what is the average score".
_FIGURE_QUESTION = re.compile(
    f"{_BY_HOW_MUCH}|{_WHAT_MEASURE.format(measures=_AMOUNTS + '|rate|score|value|accuracy|number')}"
    r"|\bhow (many|fast|quickly|soon|slow|large|big|small|long|short|well|accurate|high|low)\b"
    r"|\b(speed-?up|ratio|percent|times faster)\b",
    re.I,
)
# "How many workers" asks for a count: a number that counts something ("256 worker nodes",
# "15.7M parameters"), which a percentage or a ratio never is.
_COUNT_QUESTION = re.compile(r"\bhow many\b(?!\s+(times|more|fewer|less)\b)", re.I)
_COUNT = re.compile(r"\b\d+(?:[.,]\d+)*\s?[KMB]?\s+[A-Za-z]")
# "Which benchmark is bigger, A or B?", "Which needs fewer steps, A or B?": a choice of size or speed is
# settled by each paper's figure. ("Which is cheaper to adopt" often is not: "one line of code".)
_WHICH_MORE = re.compile(
    r"^\s*which(?! papers\b| of\b)\b.*\b(?:bigger|larger|smaller|faster|slower|longer|shorter|more|fewer|less)\b", re.I
)


def _overlap(question: set[str], sentence: str) -> float:
    return len(question & content_words(sentence)) / max(len(question), 1)


def asks_for_a_figure(question: str) -> bool:
    """How much, how many, how fast, what ratio ...: the answer is a number."""
    return bool(_FIGURE_QUESTION.search(question))


def asks_for_an_amount(question: str) -> bool:
    """By how much, how often, what share ...: an answer without a number answers nothing."""
    return bool(_AMOUNT_QUESTION.search(question))


def _answer_shape(question: str) -> re.Pattern[str] | None:
    """The pattern a sentence holding the answer's number matches, if the question asks for one."""
    if _COUNT_QUESTION.search(question):
        return _COUNT
    return _FIGURE if asks_for_a_figure(question) or _WHICH_MORE.search(question) else None


def _scores(question: str, sentences: list[str], embedder: Embedder) -> np.ndarray:
    """Meaning (cosine) plus shared words: numbers and rare names are what embeddings blur.

    When the question asks for a figure, sentences that hold one of its kind get a lift: "GVGEN
    generates in about 7 seconds" shares few words with "How fast is GVGEN?" but is the answer,
    while "10% of the crawled data" is no answer to "How many machines?".
    """
    vectors = np.array(embedder.documents([question, *sentences]))
    cosine = vectors[1:] @ vectors[0]
    words = content_words(question)
    shape = _answer_shape(question)
    return cosine + np.array([0.5 * _overlap(words, s) + 0.5 * bool(shape and shape.search(s)) for s in sentences])


def about_another(sentence: str, own_names: list[str], other_names: list[str]) -> bool:
    """True for a figure a paper (named by own_names) states about another (named by other_names), not itself.

    "As shown in [1], RAE reaches 2.84 FID", a table row of a rival's figures, an erratum that
    "corrects" another paper's accuracy: the other paper's own abstract says what it reaches. Of the
    76,908 sentences of the real Daily Papers abstracts, 15 name another paper of their day with a
    figure, most of them by an all-capitals name that is also a word ("ARE", "SCALE"), which named_in
    does not read in lower case.
    """
    if not _FIGURE.search(sentence):
        return False
    return not any(named_in(n, sentence) for n in own_names) and any(named_in(n, sentence) for n in other_names)


def select_evidence(question: str, hits: list[Hit], embedder: Embedder, per_paper: list[int]) -> list[Source]:
    """The best sentences of each hit's abstract, in reading order: per_paper[i] of them for hit i.

    Sentences come through rag.untrusted (markup removed, sentences addressed to the model dropped),
    without those stating another hit's figures (about_another); a hit with no sentence left has
    nothing to show and is left out.
    """
    names = [names_of(hit.chunk.paper) for hit in hits]  # once per paper, not once per sentence
    plan: list[tuple[Hit, list[str], int]] = []
    for i, (hit, n) in enumerate(zip(hits, per_paper, strict=False)):
        others = [name for j, theirs in enumerate(names) if j != i for name in theirs]
        sentences = [s for s in prompt_sentences(hit.chunk.paper) if not about_another(s, names[i], others)]
        plan.append((hit, sentences, n))
    flat = [s for _, sentences, _ in plan for s in sentences]
    if not flat:
        return []
    scores = iter(_scores(question, flat, embedder).tolist())
    sources: list[Source] = []
    for hit, sentences, n in plan:
        ranked = [next(scores) for _ in sentences]
        keep = sorted(sorted(range(len(sentences)), key=lambda i: -ranked[i])[:n])
        if not keep:
            continue
        sources.append(
            Source(
                number=len(sources) + 1,
                paper=hit.chunk.paper,
                text=" ".join(sentences[i] for i in keep),
                score=hit.score,
                evidence_score=max(ranked[i] for i in keep),
            )
        )
    return sources
