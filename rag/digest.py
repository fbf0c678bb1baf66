"""The day in one page: papers clustered into named topics, each with its explainer, as Markdown or HTML."""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, Field

from rag.catalog import Catalog
from rag.errors import IndexNotFoundError
from rag.markup import counted, render
from rag.models import STRICT, Explainer, Paper
from rag.prompts import load_prompt
from rag.text import STOP_WORDS, words
from rag.untrusted import prompt_title

if TYPE_CHECKING:  # the app's cards render with this module before the store or a model is loaded
    from rag.chains import ModelCalls
    from rag.store import Store

MAX_TOPICS = 8
# A name of 2-5 words is 4-10 tokens; the cap stops an essay, not a name.
TOPIC_MAX_TOKENS = 12
MAX_NAME_WORDS = 8
FALLBACK_NAME = "Other papers"
_ITERATIONS = 50
_PREFIX = re.compile(r"^(?:the\s+)?(?:common\s+)?(?:topic|name)(?:\s+name)?\s*[:\uff1a]\W*", re.I)
_EDGE = "\"'`*_#.,;:!? \t-\u2013\u2014\u201c\u201d\u2018\u2019\u00ab\u00bb"
# Titles' filler words beyond the stop words: "Towards ...", "... via ...", "Using ..." name no topic.
_TITLE_FILLER = STOP_WORDS | {"into", "over", "than", "toward", "towards", "under", "using", "via", "vs", "without"}


class Topic(BaseModel):
    """A group of similar papers under a short name."""

    model_config = STRICT

    name: str = Field(description="A few plain words naming what the papers share")
    papers: list[Paper] = Field(description="The topic's papers, most upvoted first")
    explainers: dict[str, Explainer] = Field(description="Explainer of each paper, keyed by paper id")


class Digest(BaseModel):
    """One day's papers, grouped into topics, largest topic first."""

    model_config = STRICT

    day: date | None = Field(description="The listing day; None for every paper in the catalog")
    topics: list[Topic] = Field(description="Topics, largest first; every paper is in exactly one")
    model: str | None = Field(
        default=None, description="Chat model that named the topics and wrote the explainers; None in a draft"
    )
    order: str = Field(default="most upvoted first", description="How papers are ordered within a topic, in words")


# Clustering. Hand-written spherical k-means in numpy, kept over scikit-learn's KMeans: on the sample
# day (45 papers, k = 5) it takes 0.9 ms against KMeans' 22 ms (n_init=10) after a 4.6 s import on a
# busy 2-core VM, with scipy (~50 MB) to install, and KMeans is Euclidean, not cosine.


def topic_count(n: int) -> int:
    """Default number of topics for n papers: round(sqrt(n / 2)) in 1..8, e.g. 45 papers -> 5."""
    return max(1, min(round(math.sqrt(n / 2)), MAX_TOPICS, n))


def _unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _seed_centres(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++: each next centre is drawn with odds proportional to its squared distance from the chosen."""
    chosen = [int(rng.integers(len(x)))]
    for _ in range(1, k):
        # Between unit vectors the squared distance is 2 * (1 - cos), so 1 - cos gives the same odds.
        far = np.clip(1.0 - (x @ x[chosen].T).max(axis=1), 0.0, None)
        far[chosen] = 0.0
        if far.sum() <= 1e-12:  # duplicates only: every point already sits on a centre
            chosen.append(int(rng.choice(np.setdiff1d(np.arange(len(x)), chosen))))
        else:
            chosen.append(int(rng.choice(len(x), p=far / far.sum())))
    return x[chosen]


def _assign(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Nearest centre of each point; an empty cluster takes the worst-fitting point of a cluster that can spare one."""
    sims = x @ centres.T
    labels = sims.argmax(axis=1)
    for empty in range(len(centres)):
        if (labels == empty).any():
            continue
        fit = sims[np.arange(len(x)), labels]
        spare = np.bincount(labels, minlength=len(centres))[labels] > 1
        labels[int(np.argmin(np.where(spare, fit, np.inf)))] = empty
    return labels


def _centres(x: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    return _unit_rows(np.stack([x[labels == c].mean(axis=0) for c in range(k)]))


def cluster(vectors: dict[str, list[float]], k: int | None = None, seed: int = 0) -> list[list[str]]:
    """Spherical k-means (cosine) with k-means++ seeding: clusters of ids, none empty, largest first."""
    if k is not None and k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    ids = sorted(vectors)  # the same input in any order gives the same clusters
    if not ids:
        return []
    x = _unit_rows(np.asarray([vectors[i] for i in ids], dtype=np.float64))
    k = min(k or topic_count(len(ids)), len(ids))
    labels = _assign(x, _seed_centres(x, k, np.random.default_rng(seed)))
    for _ in range(_ITERATIONS):
        moved = _assign(x, _centres(x, labels, k))
        if np.array_equal(moved, labels):
            break
        labels = moved
    groups = [[ids[i] for i in np.flatnonzero(labels == c)] for c in range(k)]
    return sorted((g for g in groups if g), key=lambda g: (-len(g), g[0]))


# Naming.


def clean_topic_name(reply: str) -> str:
    """The name in a model's reply: its first line without quotes, a "Topic:" label or end punctuation."""
    line = next((line for line in reply.splitlines() if line.strip()), "")
    name = _PREFIX.sub("", line.strip(_EDGE)).strip(_EDGE)
    return " ".join(name.split())


def _title_words(title: str) -> list[str]:
    return [w for w in words(title) if w.lower() not in _TITLE_FILLER and not w.isdigit()]


def distinctive_words(titles: list[str], corpus: list[str], count: int = 2) -> list[str]:
    """The words that most set these titles apart from the corpus's (TF-IDF), as first spelled; ties by order."""
    seen_in = Counter(w for title in corpus for w in {w.lower() for w in _title_words(title)})
    counts: Counter[str] = Counter()
    spelling: dict[str, str] = {}
    for word in (w for title in titles for w in _title_words(title)):
        counts[word.lower()] += 1
        spelling.setdefault(word.lower(), word)
    # Smoothed IDF, e.g. a word in 3 of 8 titles: log(9 / 4) + 1 = 1.81; in all 8: log(9 / 9) + 1 = 1.
    score = {w: n * (math.log((1 + len(corpus)) / (1 + seen_in[w])) + 1) for w, n in counts.items()}
    ranked = sorted(score, key=lambda w: -score[w])  # stable: equal scores keep first-seen order
    return [spelling[w] for w in ranked[:count]]


def fallback_topic_name(papers: list[Paper], day_papers: list[Paper] | None = None) -> str:
    """A name without a model: the two most distinctive title words of these papers among the day's."""
    corpus = [p.title for p in day_papers or papers]
    words = distinctive_words([p.title for p in papers], corpus)
    return " ".join(w if any(c.isupper() for c in w) else w.capitalize() for w in words) or FALLBACK_NAME


def topic_key(papers: list[Paper]) -> str:
    """What a topic's name depends on: exactly which papers, with which text, it groups."""
    members = sorted(f"{p.id}:{p.content_hash}" for p in papers)
    return hashlib.sha256("\n".join(members).encode()).hexdigest()


def name_topic(
    papers: list[Paper], calls: ModelCalls, day_papers: list[Paper] | None = None, catalog: Catalog | None = None
) -> str:
    """A 2-5 word name for what these papers share, from one model call; title words if the reply is unusable.

    With a catalog the name is stored, and read back for the same papers, prompt and model: the day's
    clusters come out the same each time, so a second page or digest of the day names them at once.
    """
    prompt = load_prompt("topic")
    key = topic_key(papers)
    stored = catalog.topic_name(key, prompt.id, calls.model) if catalog else None
    if stored:
        return stored
    titles = "\n".join(f"- {prompt_title(p)}" for p in papers)
    name = clean_topic_name(calls.run(prompt, {"titles": titles}, TOPIC_MAX_TOKENS))
    if not name or len(name.split()) > MAX_NAME_WORDS:
        return fallback_topic_name(papers, day_papers)
    if catalog:
        catalog.save_topic_name(key, prompt.id, calls.model, name)
    return name


# Building.


def _rank(paper: Paper) -> tuple[int, str]:
    return -paper.upvotes, paper.title.lower()


def _no_papers_error(store: Store, day: date | None) -> IndexNotFoundError:
    days = ", ".join(d.isoformat() for d in store.catalog.days()[:5])
    where = f"listed on {day.isoformat()}" if day else "in the library"
    hint = f"Days with papers: {days}." if days else "Add some with `paperboy fetch` or `paperboy ingest`."
    return IndexNotFoundError(f"No papers {where}. {hint}")


def paper_vectors(store: Store, papers: list[Paper]) -> dict[str, list[float]]:
    """Vectors from the index; a paper it lacks (indexed with another embedding model) is embedded now."""
    vectors = store.index.paper_vectors(store.catalog.chunk_ids([p.id for p in papers]))
    missing = [p for p in papers if p.id not in vectors]
    if missing:
        fresh = store.embedder.documents([f"{p.title}\n\n{p.abstract}" for p in missing])
        vectors.update(zip([p.id for p in missing], fresh, strict=True))
    return vectors


def group_by_topic(store: Store, papers: list[Paper]) -> list[list[Paper]]:
    """The papers clustered by meaning, no model needed: largest group first, each most upvoted first."""
    by_id = {p.id: p for p in papers}
    return [sorted((by_id[i] for i in ids), key=_rank) for ids in cluster(paper_vectors(store, papers))]


def draft_digest(store: Store, day: date | None) -> Digest:
    """The day's papers clustered into topics named by their titles' words: no model needed, no explainers."""
    papers = store.catalog.papers(day)
    if not papers:
        raise _no_papers_error(store, day)
    groups = group_by_topic(store, papers)
    return Digest(day=day, topics=[Topic(name=fallback_topic_name(g, papers), papers=g, explainers={}) for g in groups])


def complete_digest(
    draft: Digest,
    store: Store,
    calls: ModelCalls,
    explain: Callable[[Paper], Explainer],
    on_change: Callable[[Digest], None] = lambda digest: None,
    proceed: Callable[[], bool] = lambda: True,
) -> Digest:
    """The draft with the explainers already cached, then each topic named by the model, then the missing
    explainers written in page order. on_change sees each new state whole; before each model call,
    proceed may wait (a person's question goes first) or say to stop, leaving the digest as far as it got."""
    from rag.explain import cached_explainer

    papers = [p for topic in draft.topics for p in topic.papers]
    cached = {p.id: e for p in papers if (e := cached_explainer(p, store.catalog, calls.model))}
    digest = _with_explainers(draft.model_copy(update={"model": calls.model}), cached)
    on_change(digest)
    for number, topic in enumerate(digest.topics):
        if not proceed():
            return digest
        named = topic.model_copy(update={"name": name_topic(topic.papers, calls, papers, store.catalog)})
        digest = digest.model_copy(update={"topics": [*digest.topics[:number], named, *digest.topics[number + 1 :]]})
        on_change(digest)
    for paper in (p for p in papers if p.id not in cached):
        if not proceed():
            return digest
        digest = _with_explainers(digest, {paper.id: explain(paper)})
        on_change(digest)
    return digest


def _with_explainers(digest: Digest, explainers: dict[str, Explainer]) -> Digest:
    topics = [
        t.model_copy(
            update={"explainers": {**t.explainers, **{p.id: explainers[p.id] for p in t.papers if p.id in explainers}}}
        )
        for t in digest.topics
    ]
    return digest.model_copy(update={"topics": topics})


def build_digest(
    store: Store,
    calls: ModelCalls,
    day: date | None,
    explain: Callable[[Paper], Explainer],
    on_change: Callable[[Digest], None] = lambda digest: None,
) -> Digest:
    """The day's papers clustered into named topics, each paper exactly once, with its explainer."""
    return complete_digest(draft_digest(store, day), store, calls, explain, on_change)


# Rendering.


def _flag_note(explainer: Explainer) -> str:
    reason = f" ({explainer.flag_reason})" if explainer.flag_reason else ""
    return f"Note: this explainer failed a check{reason}; read the paper before relying on it."


def _md_anchors(topics: list[Topic]) -> list[str]:
    """GitHub-style heading slugs, numbered when two topics share one."""
    anchors: list[str] = []
    seen: Counter[str] = Counter()
    for topic in topics:
        slug = re.sub(r"[^\w\- ]", "", topic.name.lower()).strip().replace(" ", "-") or "topic"
        anchors.append(f"{slug}-{seen[slug]}" if seen[slug] else slug)
        seen[slug] += 1
    return anchors


def _page(template: str, digest: Digest) -> str:
    papers = sum(len(t.papers) for t in digest.topics)
    return render(
        template,
        digest=digest,
        title=f"Paperboy digest: {digest.day.isoformat() if digest.day else 'all papers'}",
        summary=f"{counted(papers, 'paper')} in {counted(len(digest.topics), 'topic')}, {digest.order}. "
        f"Explainers by {digest.model}.",
        anchors=_md_anchors(digest.topics),
        flag_note=_flag_note,
    )


def render_markdown(digest: Digest) -> str:
    """The digest as one Markdown page: a title, the topics with paper counts, then every paper by topic."""
    return re.sub(r"\n{3,}", "\n\n", _page("digest.md", digest)).rstrip() + "\n"


def render_html(digest: Digest) -> str:
    """The digest as one self-contained, phone-friendly HTML page: inline CSS, no scripts, all text escaped."""
    return _page("digest.html", digest)
