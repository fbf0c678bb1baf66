"""Eval suites: YAML (or JSONL) files of cases, validated with errors that name the file and case."""

import datetime as dt
import json
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rag.errors import PaperboyError

ROOT = Path(__file__).resolve().parent.parent
# fact: one figure or name; paraphrase: a fact asked in other words; multi-paper: "which papers ...";
# open: how, why, explain ...; compare: two or more named papers side by side; summary: "summarise
# today's papers on X"; unanswerable, injection (hostile abstracts in the corpus), follow-up (history).
TAGS = (
    "fact",
    "paraphrase",
    "multi-paper",
    "open",
    "compare",
    "summary",
    "unanswerable",
    "injection",
    "follow-up",
)


class SuiteError(PaperboyError):
    """A suite file cannot be read; the message names the file and the case."""


class Pattern(BaseModel):
    """A regular expression an answer must (or must not) match."""

    model_config = ConfigDict(extra="forbid")

    regex: str = Field(description="Python regular expression, searched case-insensitively")

    def found_in(self, text: str) -> bool:
        """True when the pattern occurs in text."""
        return re.search(self.regex, text, re.I) is not None


class HistoryTurn(BaseModel):
    """An earlier exchange the case's question follows up on."""

    model_config = ConfigDict(extra="forbid")

    question: str
    answer: str


class Case(BaseModel):
    """One question with what a right answer must contain, cite, or avoid."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, description="Unique within the suite")
    question: str = Field(min_length=3, description="Asked exactly as written")
    history: list[HistoryTurn] = Field(default_factory=list, description="Earlier turns, for follow-ups")
    expected_papers: list[str] = Field(default_factory=list, description="Titles or ids the answer should cite")
    expected_facts: list[str | Pattern] = Field(default_factory=list, description="Strings or regexes it must contain")
    key_points: list[str | Pattern] = Field(
        default_factory=list, description="Points a full answer makes (open, compare, summary): strings or regexes"
    )
    forbidden: list[str] = Field(default_factory=list, description="Strings it must not contain")
    should_abstain: bool = Field(default=False, description="True when the papers do not answer it")
    tags: list[Literal[TAGS]] = Field(min_length=1, description="What kind of question it is")  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _abstain_has_no_expectations(self) -> "Case":
        if self.should_abstain and (self.expected_papers or self.expected_facts):
            raise ValueError("a should_abstain case cannot also expect papers or facts")
        if "open" in self.tags and not self.key_points:
            raise ValueError("an open case lists the key points a full answer makes")
        if {"compare", "summary", "multi-paper"} & set(self.tags) and len(self.expected_papers) < 2:
            raise ValueError("a compare, summary or multi-paper case expects two or more papers")
        return self


class ExplainerCase(BaseModel):
    """A paper whose explainer must mention some key terms."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    paper: str = Field(description="Title or id of the paper")
    key_terms: list[str] = Field(min_length=1, description="Terms the explainer must mention (case-insensitive)")


class Suite(BaseModel):
    """A named set of cases over one corpus."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    kind: Literal["answer", "explainer"] = "answer"
    corpus: list[Path] = Field(min_length=1, description="Files ingested into a fresh store, relative to the repo")
    date: dt.date | None = Field(default=None, description="The corpus's list date")
    cases: list[Case] | list[ExplainerCase] = Field(min_length=1)
    path: Path | None = Field(default=None, description="Where the suite was read from")

    @model_validator(mode="after")
    def _unique_ids(self) -> "Suite":
        seen: set[str] = set()
        for case in self.cases:
            if case.id in seen:
                raise ValueError(f"case id {case.id!r} appears twice")
            seen.add(case.id)
        return self

    def corpus_paths(self) -> list[Path]:
        """Corpus files as absolute paths."""
        return [p if p.is_absolute() else ROOT / p for p in self.corpus]


def _raw(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        lines = [json.loads(line) for line in text.splitlines() if line.strip()]
        return {**lines[0], "cases": lines[1:]} if lines else {}
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise SuiteError(f"{path}: expected a mapping with name, corpus and cases")
    return data


def _first_error(ex: ValidationError) -> str:
    error = ex.errors()[0]
    field = ".".join(str(part) for part in error["loc"])
    return f"{field}: {error['msg']}" if field else error["msg"]


def _cases(path: Path, raw_cases: list, model: type[Case] | type[ExplainerCase]) -> list:
    cases = []
    for number, raw in enumerate(raw_cases, start=1):
        case_id = raw.get("id", "?") if isinstance(raw, dict) else "?"
        try:
            cases.append(model.model_validate(raw))
        except ValidationError as ex:
            raise SuiteError(f"{path}: case {number} ({case_id}): {_first_error(ex)}") from None
    return cases


def load_suite(path: Path) -> Suite:
    """Read and validate a suite; any problem is one SuiteError naming the file and the case."""
    try:
        data = _raw(path)
    except FileNotFoundError:
        raise SuiteError(f"{path}: no such suite file; suites live in evals/suites/") from None
    except (yaml.YAMLError, json.JSONDecodeError, UnicodeDecodeError) as ex:
        raise SuiteError(f"{path}: not valid YAML/JSONL: {ex}") from None
    model = ExplainerCase if data.get("kind") == "explainer" else Case
    cases = _cases(path, data.get("cases") or [], model)
    try:
        return Suite.model_validate({**data, "cases": cases, "path": path})
    except ValidationError as ex:
        raise SuiteError(f"{path}: {_first_error(ex)}") from None
