"""Your interests: keywords followed and muted, papers starred, read or hidden, and the "for you" ranking.

"For you" is arxiv-sanity-lite's recommender on Paperboy's own vectors: a linear SVM over the stored
paper embeddings, the starred papers against all others, trained again whenever the stars change and
kept in the catalog meanwhile. A followed keyword found in a paper adds to its score; a muted one folds
the paper away (shown apart, never deleted), as hiding it does.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, Field

from rag.catalog import Catalog
from rag.errors import PaperboyError
from rag.models import STRICT, Paper
from rag.text import keyword_terms

if TYPE_CHECKING:
    from rag.digest import Digest
    from rag.store import Store

# arxiv-sanity-lite's settings (its serve.py): a soft margin, classes weighed by their sizes.
SVM_C = 0.01
# Negatives for training: every other paper up to this many (a deterministic sample past it), so a
# 10k-paper archive trains in about a second.
MAX_NEGATIVES = 3000
# A followed keyword is worth one standard deviation of the SVM's scores over the papers ranked.
FOLLOW_WEIGHT = 1.0
# MiniLM cosine at which two abstracts are on one subject: on the sample day a paper's nearest
# neighbour in its own topic scores 0.5-0.7 and papers of unrelated topics 0.0-0.3.
CLOSE_COSINE = 0.5
_RANKER_KEY = "for-you-ranker"


class InterestError(PaperboyError):
    """A keyword that cannot be matched, or a ranking that cannot be learned."""


class RankedPaper(BaseModel):
    """A paper in the "for you" order, with why it is there."""

    model_config = STRICT

    paper: Paper = Field(description="The paper")
    score: float = Field(description="Higher first: the SVM's score in standard deviations plus followed keywords")
    matches: list[str] = Field(default_factory=list, description="Followed keywords the paper mentions")
    close_to_starred: int = Field(default=0, description="Starred papers whose abstracts are close to this one")
    starred: bool = Field(default=False, description="The reader starred it")
    read: bool = Field(default=False, description="The reader marked it read")
    folded: str | None = Field(
        default=None, description="Why it is folded away (a muted keyword, hidden); None if shown"
    )

    def reason(self) -> str:
        """Why it ranks where it does, in words: "matches: diffusion; close to 3 starred papers"."""
        parts = []
        if self.folded:
            parts.append(self.folded)
        if self.matches:
            parts.append("matches: " + ", ".join(self.matches))
        if self.close_to_starred:
            noun = "paper" if self.close_to_starred == 1 else "papers"
            parts.append(f"close to {self.close_to_starred} starred {noun}")
        return "; ".join(parts)

    def to_json(self) -> dict:
        """The `paperboy for-you --json` record of one paper."""
        return {
            "paper_id": self.paper.id,
            "title": self.paper.title,
            "url": self.paper.url,
            "listed_on": self.paper.listed_on,
            "score": round(self.score, 4),
            "reason": self.reason(),
            "matches": self.matches,
            "close_to_starred": self.close_to_starred,
            "starred": self.starred,
            "read": self.read,
            "folded": self.folded,
        }


class ForYou(BaseModel):
    """Papers in the reader's order: those shown, best first, and those folded away."""

    model_config = STRICT

    shown: list[RankedPaper] = Field(description="Best first")
    folded: list[RankedPaper] = Field(description="Muted or hidden, in the same order")
    learned: bool = Field(description="True when starred papers trained the ranking (else keywords and upvotes)")


def keyword_phrase(keyword: str) -> list[str]:
    """The keyword as the terms a search indexes; InterestError if it has none ("the", "of")."""
    text = " ".join(keyword.split())
    terms = keyword_terms(text) if text else []
    if not terms:
        raise InterestError(f"{keyword!r} has no word a search can match (stop words and punctuation are skipped).")
    return terms


def mentions(terms: list[str], phrase: list[str]) -> bool:
    """True when the phrase's terms occur together, in order, in terms."""
    n = len(phrase)
    return any(terms[i : i + n] == phrase for i in range(len(terms) - n + 1))


def matching(terms: list[str], keywords: list[str]) -> list[str]:
    """The keywords whose phrase the paper's terms contain."""
    return [k for k in keywords if mentions(terms, keyword_phrase(k))]


def fold_reasons(catalog: Catalog, papers: list[Paper], terms: dict[str, list[str]] | None = None) -> dict[str, str]:
    """Why each folded paper is folded away ("hidden", "muted: crypto"); papers shown are left out.
    Needs only the catalog, so a page can fold before the store is open."""
    hidden = set(catalog.marked("hidden"))
    mutes = catalog.keywords("mute")
    if mutes and terms is None:
        terms = catalog.paper_terms([p.id for p in papers])
    reasons = {}
    for paper in papers:
        muted = matching((terms or {}).get(paper.id, []), mutes) if mutes else []
        if paper.id in hidden or muted:
            reasons[paper.id] = "hidden" if paper.id in hidden else f"muted: {', '.join(muted)}"
    return reasons


def stars_key(starred: list[str], model_id: str) -> str:
    """What the trained ranker depends on: the starred papers and the embedding model."""
    return hashlib.sha256("\n".join([model_id, *sorted(starred)]).encode()).hexdigest()[:16]


def _negatives(catalog: Catalog, starred: set[str]) -> list[str]:
    others = sorted(p.id for p in catalog.papers() if p.id not in starred)
    if len(others) <= MAX_NEGATIVES:
        return others
    # A stable sample: the same archive and stars train the same ranker.
    return sorted(others, key=lambda pid: hashlib.sha256(pid.encode()).hexdigest())[:MAX_NEGATIVES]


def train_ranker(store: Store, starred: list[str]) -> tuple[np.ndarray, float]:
    """A linear SVM's weights and bias: the starred papers' vectors against the others'."""
    from sklearn.svm import LinearSVC

    from rag.digest import paper_vectors

    negatives = _negatives(store.catalog, set(starred))
    if not negatives:
        raise InterestError("Every stored paper is starred: there is nothing to tell them apart from.")
    papers = store.catalog.stored([*starred, *negatives])
    vectors = paper_vectors(store, list(papers.values()))
    ids = [pid for pid in [*starred, *negatives] if pid in vectors]
    x = np.asarray([vectors[pid] for pid in ids])
    y = np.asarray([pid in set(starred) for pid in ids], dtype=int)
    svm = LinearSVC(class_weight="balanced", C=SVM_C, max_iter=10_000, tol=1e-6)
    svm.fit(x, y)
    return svm.coef_[0], float(svm.intercept_[0])


def ranker(store: Store, starred: list[str]) -> tuple[np.ndarray, float]:
    """The ranker for these stars: the stored one, or a new one trained (and stored) when the stars changed."""
    key = stars_key(starred, store.embedder.model_id)
    saved = store.catalog.state(_RANKER_KEY)
    if saved and (stored := json.loads(saved))["key"] == key:
        return np.asarray(stored["weights"]), float(stored["bias"])
    weights, bias = train_ranker(store, starred)
    store.catalog.set_state(_RANKER_KEY, json.dumps({"key": key, "weights": weights.tolist(), "bias": bias}))
    return weights, bias


def _standard(scores: np.ndarray) -> np.ndarray:
    spread = scores.std()
    return (scores - scores.mean()) / spread if spread > 1e-12 else np.zeros_like(scores)


def rank_for_you(store: Store, papers: list[Paper]) -> ForYou:
    """These papers in the reader's order, each with its reason; muted and hidden ones folded away.

    With starred papers: the SVM's score (in standard deviations over these papers) plus FOLLOW_WEIGHT
    per followed keyword. Without: followed keywords, then upvotes.
    """
    from rag.digest import paper_vectors

    catalog = store.catalog
    starred, read = catalog.marked("star"), catalog.marked("read")
    follows = catalog.keywords("follow")
    terms = catalog.paper_terms([p.id for p in papers])
    folds = fold_reasons(catalog, papers, terms)
    vectors = paper_vectors(store, papers) if starred else {}
    learned = bool(starred) and len(catalog.stored(starred)) < catalog.count()
    svm = np.zeros(len(papers))
    close = [0] * len(papers)
    if learned:
        weights, bias = ranker(store, starred)
        x = np.asarray([vectors[p.id] for p in papers]) if papers else np.zeros((0, len(weights)))
        svm = _standard(x @ weights + bias) if papers else svm
        star_x = np.asarray(list(paper_vectors(store, list(catalog.stored(starred).values())).values()))
        close = [int((star_x @ vector >= CLOSE_COSINE).sum()) for vector in x] if len(star_x) else close
    ranked = []
    for paper, learned_score, near in zip(papers, svm, close, strict=True):
        matches = matching(terms.get(paper.id, []), follows)
        folded = folds.get(paper.id)
        ranked.append(
            RankedPaper(
                paper=paper,
                score=float(learned_score) + FOLLOW_WEIGHT * len(matches),
                matches=matches,
                close_to_starred=near - (paper.id in starred),  # not counting itself
                starred=paper.id in starred,
                read=paper.id in read,
                folded=folded,
            )
        )
    ranked.sort(key=lambda r: (-r.score, -r.paper.upvotes, r.paper.title.lower()))
    return ForYou(shown=[r for r in ranked if not r.folded], folded=[r for r in ranked if r.folded], learned=learned)


FOLDED_TOPIC = "Folded away (muted or hidden)"


def arrange_digest(digest: Digest, ranking: ForYou, for_you: bool) -> Digest:
    """The digest as the reader wants it: muted and hidden papers moved to a last topic of their own
    (folded, not lost); with for_you, each topic's papers and the topics themselves in the reader's order."""
    from rag.digest import Digest, Topic

    score = {r.paper.id: r.score for r in [*ranking.shown, *ranking.folded]}
    folded = {r.paper.id for r in ranking.folded}
    topics = []
    for topic in digest.topics:
        kept = [p for p in topic.papers if p.id not in folded]
        if for_you:
            kept.sort(key=lambda p: -score.get(p.id, 0.0))
        if kept:
            topics.append(topic.model_copy(update={"papers": kept}))
    if for_you:
        topics.sort(key=lambda t: -score.get(t.papers[0].id, 0.0))
    aside = [p for t in digest.topics for p in t.papers if p.id in folded]
    if aside:
        explainers = {p.id: e for t in digest.topics for p in aside if (e := t.explainers.get(p.id))}
        topics.append(Topic(name=FOLDED_TOPIC, papers=aside, explainers=explainers))
    order = "in your order (for you)" if for_you else "most upvoted first"
    return Digest(day=digest.day, topics=topics, model=digest.model, order=order)
