"""Pydantic models for everything that crosses a module, the disk or the UI."""

import hashlib
import re
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# defer_build: each model builds its validator on first use, not at import: `paperboy --help` 0.45 -> 0.35 s.
STRICT = ConfigDict(extra="forbid", defer_build=True)


def normalise_title(title: str) -> str:
    """Lower-case, punctuation-free, single-spaced: two spellings of one title compare equal."""
    return " ".join(re.sub(r"[^\w\s]", " ", title.lower()).split())


def paper_id_for(title: str, arxiv_id: str | None = None) -> str:
    """The arXiv id when known, else a short stable hash of the normalised title."""
    if arxiv_id:
        return arxiv_id
    return "t-" + hashlib.sha256(normalise_title(title).encode()).hexdigest()[:10]


class Paper(BaseModel):
    """One paper as listed on a day: the unit users browse, ask about and get explained."""

    model_config = STRICT

    id: str = Field(description="arXiv id when known, else 't-' + hash of the normalised title")
    title: str = Field(min_length=1, description="Title, whitespace collapsed")
    abstract: str = Field(min_length=1, description="Abstract text as published (untrusted)")
    authors: list[str] = Field(default_factory=list, description="Author names when the source has them")
    author_count: int | None = Field(default=None, ge=0, description="Number of authors, even when names are unknown")
    published: date | None = Field(default=None, description="Publication (arXiv) date")
    listed_on: date | None = Field(default=None, description="Date of the daily list it came from")
    upvotes: int = Field(default=0, ge=0, description="Upvotes on the daily list; 0 when unknown")
    url: str | None = Field(default=None, description="Paper page URL")
    source: str = Field(description="Reader that produced it: hf-page, hf-json, arxiv, jsonl or csv")
    ai_summary: str | None = Field(default=None, description="Source-provided one-line summary, if any")
    keywords: list[str] = Field(default_factory=list, description="Source-provided keywords, if any")

    @field_validator("title", "abstract")
    @classmethod
    def _collapse_whitespace(cls, value: str) -> str:
        collapsed = " ".join(value.split())
        if not collapsed:
            raise ValueError("must not be blank")
        return collapsed

    @property
    def text(self) -> str:
        """Title and abstract: all a figure or a name in an answer or explainer can be checked against."""
        return f"{self.title} {self.abstract}"

    @property
    def content_hash(self) -> str:
        """Hash of what gets embedded and explained: a change here means re-chunk and re-explain."""
        return hashlib.sha256(f"{self.title}\n{self.abstract}".encode()).hexdigest()[:16]


class DayRange(BaseModel):
    """Listing days from since to until, both included; an open end reaches the first or last day."""

    model_config = STRICT

    since: date | None = Field(default=None, description="First day, included")
    until: date | None = Field(default=None, description="Last day, included")

    def label(self) -> str:
        """How a message names the range."""
        if self.since and self.until:
            return f"from {self.since} to {self.until}"
        return f"since {self.since}" if self.since else f"until {self.until}" if self.until else "on any day"


class Chunk(BaseModel):
    """A token-bounded piece of one paper's text, as stored in the vector index."""

    model_config = STRICT

    paper: Paper = Field(description="The paper this chunk came from")
    index: int = Field(ge=0, description="Position of the chunk within the paper")
    text: str = Field(description="Chunk text, title first")
    tokens: int = Field(ge=0, description="Token count of text")

    @property
    def id(self) -> str:
        """Deterministic id, so re-ingest is an upsert and never a duplicate. It names the text's hash:
        a changed abstract's chunks are new ids beside the old ones until the catalog switches over."""
        return f"{self.paper.id}#{self.paper.content_hash[:8]}.{self.index}"


class Hit(BaseModel):
    """A chunk found for a query, with its score (higher is better)."""

    model_config = STRICT

    chunk: Chunk = Field(description="The chunk that matched")
    score: float = Field(description="Ranking score, higher is better (fused when retrieval is hybrid)")
    scores: dict[str, float] = Field(
        default_factory=dict,
        description="Each retriever's score by its name (dense: cosine, keyword: BM25); absent where it found nothing",
    )
    # "hybrid" is rag.retrieval.DEFAULT_MODE (models import nothing of the pipeline).
    mode: str = Field(default="hybrid", description="The retrieval mode that found it (rag.retrieval.MODES)")

    @model_validator(mode="before")
    @classmethod
    def _scores_by_retriever_name(cls, data: Any) -> Any:
        """Hit(dense=0.8, keyword=12.0) is Hit(scores={"dense": 0.8, "keyword": 12.0}); None is not found."""
        from rag.retrieval import RETRIEVERS

        if not isinstance(data, dict) or not RETRIEVERS.keys() & data.keys():
            return data
        named = {name: data[name] for name in RETRIEVERS if name in data}
        rest = {key: value for key, value in data.items() if key not in named}
        found = {name: value for name, value in named.items() if value is not None}
        return {**rest, "scores": {**rest.get("scores", {}), **found}}

    @property
    def dense(self) -> float | None:
        """The dense retriever's score (cosine), None when it did not find the chunk."""
        return self.scores.get("dense")

    @property
    def keyword(self) -> float | None:
        """The keyword retriever's score (BM25), None when it did not find the chunk."""
        return self.scores.get("keyword")


class ListingDay(BaseModel):
    """The day a file's papers were listed on when the file did not say: never no day."""

    model_config = STRICT

    file: str = Field(description="The file, as given")
    day: date = Field(description="The day its papers without one are listed on")
    taken_from: Literal["file name", "today"] = Field(description="Where that day came from")

    def message(self) -> str:
        """One line for the user."""
        source = "its name" if self.taken_from == "file name" else "today's date (UTC); pass --date to choose"
        return f"{self.file}: the file gives no listing day; its papers are listed on {self.day} (from {source})."


class IngestReport(BaseModel):
    """What one ingest call did, per file and in total."""

    model_config = STRICT

    new: int = Field(default=0, description="Papers added")
    updated: int = Field(default=0, description="Papers whose text changed and were re-indexed")
    unchanged: int = Field(default=0, description="Papers already stored as they are")
    chunks: int = Field(default=0, description="Chunks written")
    failed_files: list[str] = Field(default_factory=list, description="One message per file that was not ingested")
    listing_days: list[ListingDay] = Field(
        default_factory=list, description="Files that gave no listing day, and the day used instead"
    )
    seconds: float = Field(default=0.0, description="Wall time of the call")

    def summary(self) -> str:
        """One line of what went in, as the CLI and the app report it."""
        return (
            f"{self.new} new, {self.updated} updated, {self.unchanged} unchanged papers; "
            f"{self.chunks} chunks embedded in {self.seconds:.1f} s."
        )


class Source(BaseModel):
    """A retrieved paper as the model sees it: numbered, with the sentences chosen as evidence."""

    model_config = STRICT

    number: int = Field(ge=1, description="The [n] the model cites it by")
    paper: Paper = Field(description="The retrieved paper")
    text: str = Field(description="Evidence sentences from its abstract, in reading order")
    score: float = Field(description="Retrieval score of the paper")
    evidence_score: float = Field(description="Best sentence's match with the question")


class Citation(BaseModel):
    """A paper the answer cites."""

    model_config = STRICT

    number: int = Field(ge=1, description="Marker number in the answer text")
    paper_id: str = Field(description="Cited paper's id")
    title: str = Field(description="Cited paper's title")
    url: str | None = Field(default=None, description="Cited paper's page")


class Usage(BaseModel):
    """Tokens spent on one answer, over every model call it made."""

    model_config = STRICT

    prompt_tokens: int = Field(default=0, ge=0, description="Prompt tokens (tiktoken cl100k count)")
    completion_tokens: int = Field(default=0, ge=0, description="Generated tokens (tiktoken cl100k count)")


class Timings(BaseModel):
    """Where the time of one answer went."""

    model_config = STRICT

    retrieve_ms: int = Field(default=0, description="Rewrite (a model call, for a follow-up) and retrieval")
    generate_ms: int = Field(default=0, description="Evidence selection, model calls and checks")
    total_ms: int = Field(default=0, description="Question in to answer out")
    first_token_ms: int | None = Field(default=None, description="Question in to first answer token shown")


class Answer(BaseModel):
    """A grounded answer, or an abstention, with everything needed to check it."""

    model_config = STRICT

    question: str = Field(description="The question as asked")
    standalone_question: str = Field(description="The question rewritten to stand alone (same when no history)")
    answer: str = Field(description="Answer text with [n] markers, or the cannot-answer sentence")
    abstained: bool = Field(description="True when the papers do not answer the question")
    abstain_reason: str | None = Field(default=None, description="Why it abstained")
    kind: str = Field(description="single (a fact), open (how, why), compare, list (which papers) or summary")
    citations: list[Citation] = Field(default_factory=list, description="Cited papers, all among sources")
    sources: list[Source] = Field(default_factory=list, description="What the model was shown")
    model: str = Field(description="Chat model that answered")
    prompt: str = Field(description="Prompt id, e.g. answer.v1")
    timings: Timings = Field(default_factory=Timings)
    usage: Usage = Field(default_factory=Usage)
    notes: list[str] = Field(default_factory=list, description="What the checks changed, for evals and debugging")

    def to_json(self) -> dict:
        """The `paperboy ask --json` contract."""
        return {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "abstain_reason": self.abstain_reason,
            "kind": self.kind,
            "citations": [c.model_dump() for c in self.citations],
            "sources": [
                {"paper_id": s.paper.id, "title": s.paper.title, "score": round(s.score, 4), "text": s.text}
                for s in self.sources
            ],
            "model": self.model,
            "timings": self.timings.model_dump(),
            "usage": self.usage.model_dump(),
        }


class Turn(BaseModel):
    """One earlier exchange of a conversation, for follow-up questions."""

    model_config = STRICT

    question: str = Field(description="What the user asked")
    answer: str = Field(description="What Paperboy answered")


class Explainer(BaseModel):
    """A plain-language paragraph for one paper, whose opening sentence is its TL;DR, with the result of its checks."""

    model_config = STRICT

    paper_id: str = Field(description="The explained paper")
    title: str = Field(description="Its title")
    tldr: str = Field(description="One sentence: the explainer's first")
    explainer: str = Field(description="One paragraph of plain language")
    flagged: bool = Field(description="True when it still failed a check after one retry")
    flag_reason: str | None = Field(default=None, description="The failed check")
    model: str = Field(description="Chat model that wrote it")
    prompt_version: str = Field(description="Prompt id, e.g. explain.v1")
    content_hash: str = Field(description="Hash of the paper text it explains: a changed abstract misses the cache")
    cached: bool = Field(default=False, description="True when served from the catalog, not generated now")
    attempts: int = Field(default=1, ge=1, description="Model calls it took (2 after a retry)")
    seconds: float = Field(default=0.0, description="Generation time; 0 when cached")

    @property
    def after_tldr(self) -> str:
        """The paragraph after its opening sentence: a page that sets the TL;DR in bold shows it once."""
        return self.explainer.removeprefix(self.tldr).lstrip()

    def to_json(self) -> dict:
        """The `paperboy explain --json` contract."""
        return self.model_dump(
            include={
                "paper_id",
                "title",
                "tldr",
                "explainer",
                "flagged",
                "flag_reason",
                "model",
                "prompt_version",
                "cached",
            }
        )
