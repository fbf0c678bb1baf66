"""Prompt templates: versioned files in prompts/, loaded into a strict model and checked."""

import re
import string
from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rag.errors import PromptError

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"
# What the answer prompt tells the model to say, and what Paperboy then shows instead.
MODEL_CANNOT_ANSWER = "The sources do not say."
CANNOT_ANSWER = "The papers in this library do not say."
_SECTION = re.compile(r"^# (system|user)\s*$", re.MULTILINE)
# "The sources do not say.", "... is not mentioned": a reply that found no answer, however it words it.
_NOT_SAID = re.compile(
    r"\b(do(?:es)? not (?:say|mention|provide|state|specify|contain)|not (?:mentioned|stated|specified))\b", re.I
)


class Prompt(BaseModel):
    """One prompt file: front matter plus a system and a user message."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="What the prompt is for, e.g. answer")
    version: int = Field(ge=1, description="Bumped whenever the wording changes")
    variables: list[str] = Field(description="Slots the user message fills, e.g. question")
    description: str = Field(default="", description="One line for humans")
    system: str = Field(description="System message, no slots")
    user: str = Field(description="User message with {slots}")

    @property
    def id(self) -> str:
        """name.vN: recorded with every answer, so runs can be told apart."""
        return f"{self.name}.v{self.version}"


def _slots(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def parse_prompt(text: str, source: str) -> Prompt:
    """Parse a prompt file and check its slots match the declared variables."""
    parts = text.split("---", 2)
    if len(parts) != 3 or parts[0].strip():
        raise PromptError(f"{source}: must start with front matter between --- lines")
    sections = _SECTION.split(parts[2])
    bodies = dict(zip(sections[1::2], (s.strip() for s in sections[2::2]), strict=True))
    try:
        prompt = Prompt(**yaml.safe_load(parts[1]), system=bodies.get("system", ""), user=bodies.get("user", ""))
    except (ValidationError, TypeError, yaml.YAMLError) as ex:
        raise PromptError(f"{source}: {ex}") from None
    if _slots(prompt.system):
        raise PromptError(f"{source}: the system message may not have slots: {sorted(_slots(prompt.system))}")
    if _slots(prompt.user) != set(prompt.variables):
        raise PromptError(
            f"{source}: slots {sorted(_slots(prompt.user))} differ from declared variables {sorted(prompt.variables)}"
        )
    return prompt


@cache
def load_prompt(name: str, version: int = 1) -> Prompt:
    """prompts/<name>.v<version>.md, parsed and checked."""
    path = PROMPTS_DIR / f"{name}.v{version}.md"
    if not path.is_file():
        raise PromptError(f"No prompt file {path}; the prompts/ folder ships with Paperboy.")
    prompt = parse_prompt(path.read_text(encoding="utf-8"), str(path))
    if (prompt.name, prompt.version) != (name, version):
        raise PromptError(f"{path}: front matter says {prompt.id}, the file name says {name}.v{version}")
    return prompt


def finds_no_answer(reply: str) -> bool:
    """True when a reply (or one of its sentences) says the sources do not answer."""
    return _NOT_SAID.search(reply) is not None


def says_yes(reply: str) -> bool:
    """A yes/no prompt's reply read as yes: "Yes", "**Yes.**", "'yes'"; anything else is no."""
    return reply.lower().lstrip(" *\"'").startswith("yes")
