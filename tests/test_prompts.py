"""Prompt files: every shipped prompt loads; malformed ones are rejected with the file named."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from rag import prompts
from rag.errors import PromptError
from rag.prompts import PROMPTS_DIR, load_prompt, parse_prompt

GOOD = """---
name: demo
version: 2
variables: [question, sources]
description: A test prompt.
---
# system
Answer from the sources only.
# user
Sources: {sources}
Question: {question}
"""


@pytest.fixture
def prompts_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty prompts folder in place of the shipped one; load_prompt's cache is cleared around it."""
    folder = tmp_path / "prompts"
    folder.mkdir()
    monkeypatch.setattr(prompts, "PROMPTS_DIR", folder)
    load_prompt.cache_clear()
    yield folder
    load_prompt.cache_clear()


@pytest.mark.parametrize("path", sorted(PROMPTS_DIR.glob("*.md")), ids=lambda p: p.name)
def test_every_shipped_prompt_loads(path: Path) -> None:
    name, version = path.name.removesuffix(".md").rsplit(".v", 1)
    prompt = load_prompt(name, int(version))
    assert prompt.id == f"{name}.v{version}"
    assert prompt.system and prompt.user
    assert prompt.variables


def test_the_shipped_prompts_are_the_ones_the_pipeline_uses() -> None:
    assert {p.name for p in PROMPTS_DIR.glob("*.md")} >= {"answer.v1.md", "relevance.v1.md", "rewrite.v1.md"}
    assert set(load_prompt("answer").variables) == {"sources", "question"}


def test_a_good_prompt_parses_into_its_parts() -> None:
    prompt = parse_prompt(GOOD, "demo.v2.md")
    assert prompt.id == "demo.v2"
    assert prompt.system == "Answer from the sources only."
    assert prompt.user == "Sources: {sources}\nQuestion: {question}"
    assert prompt.description == "A test prompt."


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        (GOOD.split("---", 2)[2], "front matter"),
        ("Some preamble\n" + GOOD, "front matter"),
        (GOOD.replace("description:", "temperature: 0.2\ndescription:"), "temperature"),
        (GOOD.replace("Question: {question}", "Question: {question} {history}"), "history"),
        (GOOD.replace("Question: {question}", "Question: what?"), "question"),
        (GOOD.replace("sources only.", "sources only, {sources}."), "system message may not have slots"),
        (GOOD.replace("version: 2", "version: 0"), "version"),
        (GOOD.replace("name: demo\n", ""), "name"),
    ],
    ids=[
        "no-front-matter",
        "text-before-front-matter",
        "unknown-front-matter-key",
        "undeclared-slot",
        "unused-variable",
        "slot-in-system",
        "version-zero",
        "missing-name",
    ],
)
def test_bad_prompts_are_rejected_naming_the_file(text: str, complaint: str) -> None:
    with pytest.raises(PromptError) as caught:
        parse_prompt(text, "prompts/demo.v2.md")
    message = str(caught.value)
    assert message.startswith("prompts/demo.v2.md: ")
    assert complaint in message


def test_missing_prompt_names_the_path() -> None:
    with pytest.raises(PromptError) as caught:
        load_prompt("no-such-prompt")
    assert str(PROMPTS_DIR / "no-such-prompt.v1.md") in str(caught.value)


def test_missing_version_names_the_path() -> None:
    with pytest.raises(PromptError, match=r"answer\.v9\.md"):
        load_prompt("answer", 9)


def test_a_file_whose_front_matter_disagrees_with_its_name_is_rejected(prompts_dir: Path) -> None:
    (prompts_dir / "demo.v3.md").write_text(GOOD, encoding="utf-8")
    with pytest.raises(PromptError, match=r"front matter says demo\.v2, the file name says demo\.v3"):
        load_prompt("demo", 3)


def test_load_prompt_reads_from_the_prompts_folder(prompts_dir: Path) -> None:
    (prompts_dir / "demo.v2.md").write_text(GOOD, encoding="utf-8")
    assert load_prompt("demo", 2).variables == ["question", "sources"]
