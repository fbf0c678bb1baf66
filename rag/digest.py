"""The day in one page: papers clustered into named topics, each with its explainer, as Markdown or HTML."""

from __future__ import annotations

import hashlib
import html
import math
import re
from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

import numpy as np
from pydantic import BaseModel, Field

from rag.catalog import Catalog
from rag.errors import IndexNotFoundError
from rag.models import STRICT, Explainer, Paper
from rag.prompts import load_prompt
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
_WORD = re.compile(r"[A-Za-z0-9]+(?:[-'][A-Za-z0-9]+)*")
_STOPWORD_TEXT = """
a an and are as at be by can do does for from how in into is it its of on or our over than that the their this to
toward towards under using via vs what when which with without we
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
# Inline Markdown control: escaped so paper text cannot open a link, code span, emphasis or table cell.
_MD_INLINE = re.compile(r"([\\`*_\[\]|~])")
_MD_LINE_START = re.compile(r"^(?:([#+=-])|(\d+)([.)]))")
_URL_SAFE = ":/?#@!$&*+,;=%~-._"


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
    model: str = Field(description="Chat model that named the topics and wrote the explainers")
    order: str = Field(default="most upvoted first", description="How papers are ordered within a topic, in words")


# Clustering.


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
    return [w for w in _WORD.findall(title) if w.lower() not in _STOPWORDS and not w.isdigit()]


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


def build_digest(store: Store, calls: ModelCalls, day: date | None, explain: Callable[[Paper], Explainer]) -> Digest:
    """The day's papers clustered into named topics, each paper exactly once, with its explainer."""
    papers = store.catalog.papers(day)
    if not papers:
        raise _no_papers_error(store, day)
    topics = []
    for members in group_by_topic(store, papers):
        name = name_topic(members, calls, papers, store.catalog)
        topics.append(Topic(name=name, papers=members, explainers={p.id: explain(p) for p in members}))
    return Digest(day=day, topics=topics, model=calls.model)


# Rendering.


def _heading(digest: Digest) -> str:
    return f"Paperboy digest: {digest.day.isoformat() if digest.day else 'all papers'}"


def _papers_count(n: int) -> str:
    return f"{n} paper" if n == 1 else f"{n} papers"


def _summary(digest: Digest) -> str:
    papers = sum(len(t.papers) for t in digest.topics)
    topics = "1 topic" if len(digest.topics) == 1 else f"{len(digest.topics)} topics"
    return f"{_papers_count(papers)} in {topics}, {digest.order}. Explainers by {digest.model}."


def _flag_note(explainer: Explainer) -> str:
    reason = f" ({explainer.flag_reason})" if explainer.flag_reason else ""
    return f"Note: this explainer failed a check{reason}; read the paper before relying on it."


def safe_url(url: str | None) -> str | None:
    """The URL if it is http(s), with anything that could end a Markdown link or HTML attribute encoded."""
    try:
        parts = urlsplit((url or "").strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
        return None
    return quote(parts.geturl(), safe=_URL_SAFE)


def md_text(text: str) -> str:
    """Untrusted text as inert Markdown: one line, HTML as entities, link/emphasis/code marks escaped."""
    text = " ".join(text.split()).replace("<", "&lt;").replace(">", "&gt;")
    # "](" is also broken up, for renderers that ignore the escaped bracket.
    text = _MD_INLINE.sub(r"\\\1", text).replace("\\](", "\\]\\(")
    # At the start of a line "#", "-" or "1." would open a heading or a list.
    return _MD_LINE_START.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", text)


def md_explainer(explainer: Explainer) -> str:
    """The explainer as one inert Markdown paragraph whose opening sentence, the TL;DR, is in bold."""
    lede = f"**{md_text(explainer.tldr)}** " if explainer.tldr else ""  # "****" would be a rule
    return lede + md_text(explainer.after_tldr)


def _md_anchors(topics: list[Topic]) -> list[str]:
    """GitHub-style heading slugs, numbered when two topics share one."""
    anchors: list[str] = []
    seen: Counter[str] = Counter()
    for topic in topics:
        slug = re.sub(r"[^\w\- ]", "", topic.name.lower()).strip().replace(" ", "-") or "topic"
        anchors.append(f"{slug}-{seen[slug]}" if seen[slug] else slug)
        seen[slug] += 1
    return anchors


def _md_paper(paper: Paper, explainer: Explainer | None) -> list[str]:
    url = safe_url(paper.url)
    title = f"[{md_text(paper.title)}]({url})" if url else md_text(paper.title)
    lines = [f"### {title}", "", f"{_upvotes(paper)}", ""]
    if explainer is None:
        return [*lines, "_No explainer yet._", ""]
    lines += [md_explainer(explainer), ""]
    if explainer.flagged:
        lines += [f"> {md_text(_flag_note(explainer))}", ""]
    return lines


def _upvotes(paper: Paper) -> str:
    return "1 upvote" if paper.upvotes == 1 else f"{paper.upvotes} upvotes"


def render_markdown(digest: Digest) -> str:
    """The digest as one Markdown page: a title, the topics with paper counts, then every paper by topic."""
    anchors = _md_anchors(digest.topics)
    lines = [f"# {_heading(digest)}", "", md_text(_summary(digest)), ""]
    for topic, anchor in zip(digest.topics, anchors, strict=True):
        lines.append(f"- [{md_text(topic.name)}](#{anchor}) ({_papers_count(len(topic.papers))})")
    for topic in digest.topics:
        lines += ["", f"## {md_text(topic.name)}", ""]
        for paper in topic.papers:
            lines += _md_paper(paper, topic.explainers.get(paper.id))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).rstrip() + "\n"


_CSS = """
:root { color-scheme: light dark; }
body { margin: 0; font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 42rem; margin: 0 auto; padding: 1rem 1.25rem 3rem; overflow-wrap: anywhere; }
h1 { font-size: 1.6rem; line-height: 1.25; }
h2 { font-size: 1.3rem; margin-top: 2.5rem; padding-top: .75rem; border-top: 2px solid #8886; }
h3 { font-size: 1.05rem; line-height: 1.35; margin: 1.75rem 0 .25rem; }
a { color: #0b5fc2; }
@media (prefers-color-scheme: dark) { a { color: #8bbcff; } }
nav ol { padding-left: 1.4rem; }
.meta, .count { color: #777; font-size: .9rem; }
.meta { margin: 0 0 .5rem; }
.flag { border-left: 4px solid #d9a400; padding: .3rem .7rem; font-size: .9rem; background: #d9a40022; }
""".strip()
# No script, font, image or stylesheet may load, even if some text slipped through unescaped.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _html_paper(paper: Paper, explainer: Explainer | None) -> str:
    url = safe_url(paper.url)
    title = f'<a href="{_esc(url)}" rel="noopener noreferrer">{_esc(paper.title)}</a>' if url else _esc(paper.title)
    parts = [f"<article>\n<h3>{title}</h3>", f'<p class="meta">{_upvotes(paper)}</p>']
    if explainer is None:
        parts.append("<p><em>No explainer yet.</em></p>")
    else:
        parts.append(f"<p><strong>{_esc(explainer.tldr)}</strong> {_esc(explainer.after_tldr)}</p>")
        if explainer.flagged:
            parts.append(f'<p class="flag">{_esc(_flag_note(explainer))}</p>')
    return "\n".join([*parts, "</article>"])


def _html_topic(number: int, topic: Topic) -> str:
    papers = "\n".join(_html_paper(p, topic.explainers.get(p.id)) for p in topic.papers)
    return f'<section id="topic-{number}">\n<h2>{_esc(topic.name)}</h2>\n{papers}\n</section>'


def render_html(digest: Digest) -> str:
    """The digest as one self-contained, phone-friendly HTML page: inline CSS, no scripts, all text escaped."""
    contents = "\n".join(
        f'<li><a href="#topic-{i}">{_esc(t.name)}</a> <span class="count">({_papers_count(len(t.papers))})</span></li>'
        for i, t in enumerate(digest.topics, 1)
    )
    topics = "\n".join(_html_topic(i, t) for i, t in enumerate(digest.topics, 1))
    heading = _esc(_heading(digest))
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        f"<title>{heading}</title>\n<style>\n{_CSS}\n</style>\n</head>\n<body>\n<main>\n"
        f'<h1>{heading}</h1>\n<p class="meta">{_esc(_summary(digest))}</p>\n'
        f"<nav>\n<ol>\n{contents}\n</ol>\n</nav>\n{topics}\n</main>\n</body>\n</html>\n"
    )
