"""Pydantic models for everything that crosses a module, the disk or the UI."""

import hashlib
import re
from datetime import date

from pydantic import BaseModel, ConfigDict, Field, field_validator

STRICT = ConfigDict(extra="forbid")


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
    def content_hash(self) -> str:
        """Hash of what gets embedded and explained: a change here means re-chunk and re-explain."""
        return hashlib.sha256(f"{self.title}\n{self.abstract}".encode()).hexdigest()[:16]


class Chunk(BaseModel):
    """A token-bounded piece of one paper's text, as stored in the vector index."""

    model_config = STRICT

    paper: Paper = Field(description="The paper this chunk came from")
    index: int = Field(ge=0, description="Position of the chunk within the paper")
    text: str = Field(description="Chunk text, title first")
    tokens: int = Field(ge=0, description="Token count of text")

    @property
    def id(self) -> str:
        """Deterministic id, so re-ingest is an upsert and never a duplicate."""
        return f"{self.paper.id}#{self.index}"


class Hit(BaseModel):
    """A chunk found for a query, with its score (higher is better)."""

    model_config = STRICT

    chunk: Chunk = Field(description="The chunk that matched")
    score: float = Field(description="Similarity score, higher is closer")


class IngestReport(BaseModel):
    """What one ingest call did, per file and in total."""

    model_config = STRICT

    new: int = Field(default=0, description="Papers added")
    updated: int = Field(default=0, description="Papers whose text changed and were re-indexed")
    unchanged: int = Field(default=0, description="Papers already stored as they are")
    chunks: int = Field(default=0, description="Chunks written")
    failed_files: list[str] = Field(default_factory=list, description="One message per file that was not ingested")
    seconds: float = Field(default=0.0, description="Wall time of the call")
