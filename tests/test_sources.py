"""Readers for every input format: the sample page, the fixtures in each service's shape, and bad files."""

import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError

from rag.errors import SourceError
from rag.models import Paper, paper_id_for
from rag.sources import MAX_BYTES, READERS, ReadOptions, detect_format, read_papers
from rag.sources.arxiv import build_query_url

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "samples" / "daily-papers-2025-10-31.txt"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
YEAR_2025 = ReadOptions(year=2025)

PAGE_HEADER = "new\n\nDaily Papers\n\nbyAK and the research community\n\nOct 31\n\n"


@pytest.fixture(scope="module")
def sample() -> dict[str, Paper]:
    """The sample page read once, by title."""
    return {paper.title: paper for paper in read_papers(SAMPLE, options=YEAR_2025)}


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    """Write a file in tmp_path and return its path."""
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def source_error(path: Path, fmt: str = "auto", options: ReadOptions | None = None) -> str:
    """The message of the SourceError read_papers raises, checked to start with the path."""
    with pytest.raises(SourceError) as caught:
        read_papers(path, fmt, options)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    return message


# --- the sample Daily Papers page ---------------------------------------------------------------


def test_sample_page_has_45_papers(sample: dict[str, Paper]) -> None:
    assert len(sample) == 45
    assert len(read_papers(SAMPLE, "hf-page", YEAR_2025)) == 45


def test_sample_first_paper(sample: dict[str, Paper]) -> None:
    first = read_papers(SAMPLE, options=YEAR_2025)[0]
    assert first.title == "Position Auctions in AI-Generated Content"
    assert first.author_count == 10
    assert first.authors == []
    assert first.published == date(2025, 6, 3)
    assert first.abstract.startswith("We consider an extension to the classic position auctions")
    assert (first.source, first.url, first.upvotes) == ("hf-page", None, 0)


@pytest.mark.parametrize(
    ("title", "author_count", "published", "upvotes"),
    [
        ("Anchor Sampling for Federated Learning with Partial Client Participation", 6, date(2022, 6, 12), 0),
        (
            "Suppressing the sample variance of DESI-like galaxy clustering with fast simulations",
            47,
            date(2024, 4, 3),
            0,
        ),
        ("GVGEN: Text-to-3D Generation with Volumetric Representation", 9, date(2024, 3, 19), 1),
        (
            "NitroFusion: High-Fidelity Single-Step Diffusion through Dynamic Adversarial Training",
            4,
            date(2024, 12, 2),
            2,
        ),
        ("Distilling Diversity and Control in Diffusion Models", 2, date(2025, 3, 13), 2),
        (
            "A General Framework for Inference-time Scaling and Steering of Diffusion Models",
            7,
            date(2025, 1, 12),
            0,
        ),
        ("Grokking at the Edge of Numerical Stability", 4, date(2025, 1, 8), 0),
    ],
)
def test_sample_paper_fields(
    sample: dict[str, Paper], title: str, author_count: int, published: date, upvotes: int
) -> None:
    paper = sample[title]
    assert (paper.author_count, paper.published, paper.upvotes) == (author_count, published, upvotes)


def test_sample_paper_without_authors_or_date(sample: dict[str, Paper]) -> None:
    paper = sample["Rolling Forcing: Autoregressive Long Video Diffusion in Real Time"]
    assert paper.author_count is None
    assert paper.published is None
    assert paper.upvotes == 0
    assert paper.listed_on == date(2025, 10, 31)
    assert len(paper.abstract) > 200
    following = sample["From Similarity to Superiority: Channel Clustering for Time Series Forecasting"]
    assert (following.author_count, following.published) == (8, date(2024, 3, 30))


def test_sample_listed_on_is_the_page_date(sample: dict[str, Paper]) -> None:
    assert {paper.listed_on for paper in sample.values()} == {date(2025, 10, 31)}


def test_sample_keeps_latex_debris(sample: dict[str, Paper]) -> None:
    abstracts = " ".join(paper.abstract for paper in sample.values())
    for debris in ('na\\"ive', "mathcal{O}(T^{2/3})", "sim7", "ell_0", "64times64"):
        assert debris in abstracts
    assert any(title.startswith("Memorize, Factorize, or be Naïve: Learning") for title in sample)


def test_sample_ids_unique_and_stable() -> None:
    first = [paper.id for paper in read_papers(SAMPLE, options=YEAR_2025)]
    second = [paper.id for paper in read_papers(SAMPLE, options=YEAR_2025)]
    assert first == second
    assert len(set(first)) == 45
    assert first[0] == paper_id_for("Position Auctions in AI-Generated Content")
    assert all(paper_id.startswith("t-") for paper_id in first)


@pytest.mark.parametrize(
    ("today", "page_date", "jun_3"),
    [
        (date(2025, 11, 5), date(2025, 10, 31), date(2025, 6, 3)),
        (date(2025, 10, 31), date(2025, 10, 31), date(2025, 6, 3)),
        (date(2026, 2, 1), date(2025, 10, 31), date(2025, 6, 3)),
        # Oct 31 2025 would be in the future, so the page is from 2024.
        (date(2025, 10, 30), date(2024, 10, 31), date(2024, 6, 3)),
    ],
)
def test_sample_default_year_follows_today(today: date, page_date: date, jun_3: date) -> None:
    papers = read_papers(SAMPLE, options=ReadOptions(today=today))
    assert papers[0].listed_on == page_date
    assert papers[0].published == jun_3
    assert papers[1].published == date(2022, 6, 12)


def test_page_listed_on_option_overrides_page_date() -> None:
    papers = read_papers(SAMPLE, options=ReadOptions(year=2025, listed_on=date(2025, 11, 2)))
    assert {paper.listed_on for paper in papers} == {date(2025, 11, 2)}
    assert papers[0].published == date(2025, 6, 3)


def test_page_date_after_page_day_is_previous_year(tmp_path: Path) -> None:
    page = PAGE_HEADER + "A December Paper\n\nIts abstract.\n\n  • 1 author\n·\nDec 5\n"
    [paper] = read_papers(write(tmp_path, "page.txt", page), options=YEAR_2025)
    assert paper.published == date(2024, 12, 5)
    assert paper.author_count == 1


def test_page_dated_feb_29_defaults_to_the_last_leap_year(tmp_path: Path) -> None:
    page = "Daily Papers\n\nFeb 29\n\nA Leap Paper\n\nIts abstract.\n\n• 2 authors\n·\nFeb 29\n"
    [paper] = read_papers(write(tmp_path, "page.txt", page), options=ReadOptions(today=date(2025, 3, 1)))
    assert (paper.listed_on, paper.published) == (date(2024, 2, 29), date(2024, 2, 29))


def test_page_without_header_date_uses_options(tmp_path: Path) -> None:
    page = "Daily Papers\n\nA Paper\n\nIts abstract.\n\n• 2 authors\n·\nMar 1\n"
    [paper] = read_papers(write(tmp_path, "page.txt", page), options=ReadOptions(year=2023))
    assert (paper.published, paper.listed_on) == (date(2023, 3, 1), None)


def test_page_last_paper_without_meta_lines(tmp_path: Path) -> None:
    page = PAGE_HEADER + "First\n\nFirst abstract.\n\n• 3 authors\n·\nOct 2\n\nLast\n\nLast abstract.\n"
    papers = read_papers(write(tmp_path, "page.txt", page), options=YEAR_2025)
    assert [(paper.title, paper.author_count) for paper in papers] == [("First", 3), ("Last", None)]


@pytest.mark.parametrize(
    ("page", "line"),
    [
        (PAGE_HEADER + "A Title Cut Off Here\n", 9),
        (PAGE_HEADER + "One\n\nAbstract one.\n\nTwo\n\n• 2 authors\n·\nOct 1\n", 13),
        (PAGE_HEADER + "One\n\nAbstract one.\n\n• 2 authors\n·\n·\n", 15),
        (PAGE_HEADER + "One\n\nAbstract one.\n\n• 2 authors\n·\nFeb 30\n", 15),
    ],
    ids=["truncated", "title-then-authors", "stray-separator", "impossible-date"],
)
def test_page_errors_name_the_line(tmp_path: Path, page: str, line: int) -> None:
    message = source_error(write(tmp_path, "page.txt", page), options=YEAR_2025)
    assert f": line {line}: " in message


# --- the fixtures, one per service shape ------------------------------------------------------------


def test_hf_json_fixture() -> None:
    papers = read_papers(FIXTURES / "hf_daily_papers.json")
    assert [paper.id for paper in papers] == ["2510.26692", "2510.25977", "2510.24410", "2510.22115"]
    first = papers[0]
    assert first.title == "Sparse Mixtures of Retrieval Heads for Long-Context Reasoning"
    assert first.abstract.startswith("Long-context language models spend")
    assert "reducing memory by 3.1x" in first.abstract  # paper.summary wins over the item's short one
    assert first.authors == ["Mei Lin", "Tomás Ribeiro", "Ada Okafor"]
    assert first.author_count == 3
    assert (first.published, first.listed_on) == (date(2025, 10, 30), date(2025, 10, 31))
    assert first.upvotes == 42
    assert first.url == "https://huggingface.co/papers/2510.26692"
    assert first.ai_summary is not None
    assert first.ai_summary.startswith("Routing only a few retrieval heads")
    assert first.keywords == ["retrieval heads", "long-context", "sparse attention", "RULER"]
    assert {paper.source for paper in papers} == {"hf-json"}


def test_hf_json_item_without_ai_fields() -> None:
    paper = read_papers(FIXTURES / "hf_daily_papers.json")[2]
    assert (paper.ai_summary, paper.keywords) == (None, [])
    assert "\\mathcal{O}(T^2)" in paper.abstract


def test_hf_json_listed_on_falls_back_and_can_be_overridden(tmp_path: Path) -> None:
    items = json.loads((FIXTURES / "hf_daily_papers.json").read_text(encoding="utf-8"))
    del items[0]["paper"]["submittedOnDailyAt"]
    items[0]["publishedAt"] = "2025-11-01T04:11:12.522Z"
    path = write(tmp_path, "day.json", json.dumps(items))
    assert read_papers(path)[0].listed_on == date(2025, 11, 1)
    overridden = read_papers(path, options=ReadOptions(listed_on=date(2025, 12, 24)))
    assert {paper.listed_on for paper in overridden} == {date(2025, 12, 24)}


def test_arxiv_fixture() -> None:
    papers = read_papers(FIXTURES / "arxiv_feed.xml")
    assert [paper.id for paper in papers] == ["2510.26788", "2510.26512", "2510.26003"]
    first = papers[0]
    assert first.title == "Gradient Noise Scales Predict the Critical Batch Size of Diffusion Transformers"
    assert first.abstract.startswith("We measure the gradient noise scale")
    assert first.authors == ["Rosa Delgado", "Felix Brandt"]
    assert first.author_count == 2
    # A feed spans several published dates: the listing day is the one asked for (ingest: --date, the
    # file's name or today), never a published date.
    assert (first.published, first.listed_on) == (date(2025, 10, 30), None)
    assert first.url == "https://arxiv.org/abs/2510.26788"
    assert first.keywords == ["cs.LG", "cs.CV"]
    assert papers[1].keywords == ["stat.ML", "cs.LG"]  # primary category first
    assert papers[1].url == "https://arxiv.org/abs/2510.26512"  # no version suffix
    assert {paper.source for paper in papers} == {"arxiv"}


def test_arxiv_listed_on_option() -> None:
    papers = read_papers(FIXTURES / "arxiv_feed.xml", options=ReadOptions(listed_on=date(2025, 10, 31)))
    assert {paper.listed_on for paper in papers} == {date(2025, 10, 31)}
    assert papers[0].published == date(2025, 10, 30)


def test_jsonl_fixture() -> None:
    papers = read_papers(FIXTURES / "papers.jsonl")
    assert [paper.id for paper in papers] == ["2510.26692", "2510.25977", paper_id_for(papers[2].title)]
    first, second, third = papers
    assert first.authors == ["Mei Lin", "Tomás Ribeiro", "Ada Okafor"]
    assert first.author_count == 3
    assert (first.published, first.listed_on, first.upvotes, first.url) == (
        date(2025, 10, 30),
        date(2025, 10, 31),
        42,
        None,
    )
    assert second.abstract == "A held-out verifier calibrates self-critique."  # from "summary"
    assert (second.author_count, second.published) == (2, date(2025, 10, 29))
    assert second.url == "https://arxiv.org/abs/2510.25977"
    assert third.authors == ["Ann Smith", "Bo Chen"]
    assert third.keywords == ["workshop"]
    assert {paper.source for paper in papers} == {"jsonl"}


def test_csv_fixture() -> None:
    papers = read_papers(FIXTURES / "papers.csv")
    assert [paper.id for paper in papers][:2] == ["2510.26692", "2510.25977"]
    first, second, third = papers
    assert first.authors == ["Mei Lin", "Tomás Ribeiro", "Ada Okafor"]
    assert first.author_count == 3
    assert first.abstract.endswith("over the full context, cutting memory threefold.")  # quoted comma
    assert (first.published, first.upvotes, first.url) == (date(2025, 10, 30), 42, None)
    assert second.abstract.endswith("It lifts SWE-bench Verified by 9 points.")  # quoted newline
    assert (second.upvotes, second.url) == (0, "https://example.org/self-critique")
    assert (third.title, third.author_count, third.upvotes) == ("Tables, Scans, and Questions", None, 3)
    assert {paper.source for paper in papers} == {"csv"}


def test_csv_summary_column_and_listed_on(tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv", "Title,Summary,listed_on\nA Paper,Its abstract.,2025-10-31\n")
    [paper] = read_papers(path)
    assert (paper.abstract, paper.listed_on) == ("Its abstract.", date(2025, 10, 31))


def test_duplicates_in_one_file_keep_the_first(tmp_path: Path) -> None:
    lines = [
        {"id": "2510.00001", "title": "First Copy", "abstract": "One."},
        {"id": "2510.00002", "title": "Other", "abstract": "Two."},
        {"id": "2510.00001", "title": "Second Copy", "abstract": "Three."},
    ]
    path = write(tmp_path, "dup.jsonl", "\n".join(json.dumps(line) for line in lines))
    assert [paper.title for paper in read_papers(path)] == ["First Copy", "Other"]


def test_readers_registry_names() -> None:
    assert list(READERS) == ["hf-page", "hf-json", "arxiv", "jsonl", "csv"]


def test_read_options_forbid_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        ReadOptions(yaer=2025)  # type: ignore[call-arg]


def test_build_query_url() -> None:
    url = build_query_url(date(2025, 10, 31), "cs.LG")
    assert url == (
        "http://export.arxiv.org/api/query?search_query=cat:cs.LG+AND+submittedDate:"
        "[202510310000+TO+202510312359]&start=0&max_results=200&sortBy=submittedDate"
    )
    assert "&start=200&max_results=50&" in build_query_url(date(2025, 10, 31), "hep-th", 200, 50)
    with pytest.raises(SourceError):
        build_query_url(date(2025, 10, 31), "cs.LG&max_results=9")


# --- format detection --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "fmt"),
    [
        (FIXTURES / "hf_daily_papers.json", "hf-json"),
        (FIXTURES / "arxiv_feed.xml", "arxiv"),
        (FIXTURES / "papers.jsonl", "jsonl"),
        (FIXTURES / "papers.csv", "csv"),
        (SAMPLE, "hf-page"),
    ],
)
def test_detect_format_by_extension_and_by_content(tmp_path: Path, source: Path, fmt: str) -> None:
    text = source.read_text(encoding="utf-8")
    assert detect_format(text, source) == fmt
    # Same content without a telling extension: the content decides.
    assert detect_format(text, tmp_path / "download.txt") == fmt
    copy = tmp_path / "download.txt"
    shutil.copyfile(source, copy)
    assert {paper.source for paper in read_papers(copy, options=YEAR_2025)} == {fmt}


def test_detect_format_extension_wins(tmp_path: Path) -> None:
    assert detect_format("{}", tmp_path / "a.jsonl") == "jsonl"
    assert detect_format("x", tmp_path / "a.ATOM") == "arxiv"


def test_detect_format_single_hf_item_and_jsonl_record(tmp_path: Path) -> None:
    assert detect_format('{"paper": {"id": "1"}, "title": "t"}', tmp_path / "a") == "hf-json"
    assert detect_format('{"title": "t", "abstract": "a"}', tmp_path / "a") == "jsonl"


def test_detect_format_unknown_content_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    with pytest.raises(SourceError, match=rf"^{path}: cannot tell the format.*hf-page"):
        detect_format("just some notes\nabout nothing\n", path)
    write(tmp_path, "notes.txt", "just some notes\nabout nothing\n")
    assert "cannot tell the format" in source_error(path)


# --- bad inputs: one SourceError naming the file (and the line or record) ----------------------


def test_missing_file(tmp_path: Path) -> None:
    assert "no such file" in source_error(tmp_path / "nope.jsonl")


def test_directory(tmp_path: Path) -> None:
    assert "directory" in source_error(tmp_path)


@pytest.mark.parametrize("content", ["", "   \n\t\n  "])
def test_empty_or_whitespace_file(tmp_path: Path, content: str) -> None:
    assert "empty file" in source_error(write(tmp_path, "empty.txt", content))


def test_binary_file_with_nul_bytes(tmp_path: Path) -> None:
    assert "binary" in source_error(write(tmp_path, "blob.json", b"[{\x00\x01\x02}]"))


def test_utf16_file_is_binary(tmp_path: Path) -> None:
    assert "binary" in source_error(write(tmp_path, "u16.csv", "title,abstract\nA,B\n".encode("utf-16")))


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "latin.csv", "title,abstract\nCaf\xe9 Paper,Abstract\n".encode("latin-1"))
    message = source_error(path)
    assert "line 2: not UTF-8" in message


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, "bom.csv", "\ufefftitle,abstract\nA Paper,Its abstract.\n".encode())
    assert [paper.title for paper in read_papers(path)] == ["A Paper"]


def test_too_large_file(tmp_path: Path) -> None:
    path = tmp_path / "huge.jsonl"
    with path.open("wb") as handle:
        handle.truncate(MAX_BYTES + 1)  # sparse: no 50 MB written to disk
    assert "too large" in source_error(path)


def test_truncated_json(tmp_path: Path) -> None:
    text = (FIXTURES / "hf_daily_papers.json").read_text(encoding="utf-8")
    message = source_error(write(tmp_path, "day.json", text[: len(text) // 2]))
    assert "malformed JSON at line" in message


def test_truncated_xml(tmp_path: Path) -> None:
    text = (FIXTURES / "arxiv_feed.xml").read_text(encoding="utf-8")
    message = source_error(write(tmp_path, "feed.xml", text[: len(text) // 2]))
    assert "malformed XML at line" in message


def test_xml_that_is_not_a_feed(tmp_path: Path) -> None:
    assert "not an Atom feed" in source_error(write(tmp_path, "x.xml", "<html><body/></html>"))


def test_arxiv_api_error_entry(tmp_path: Path) -> None:
    feed = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/api/errors#incorrect_id</id>'
        "<title>Error</title><summary>incorrect id format for 1234.12345</summary></entry></feed>"
    )
    assert "incorrect id format" in source_error(write(tmp_path, "err.xml", feed))


def test_malformed_jsonl_line_names_record_and_line(tmp_path: Path) -> None:
    text = '{"title": "A", "abstract": "B"}\n\n{"title": "C", "abstr\n'
    assert "record 2 (line 3): malformed JSON" in source_error(write(tmp_path, "x.jsonl", text))


def test_jsonl_record_without_title(tmp_path: Path) -> None:
    text = '{"title": "A", "abstract": "B"}\n{"title": "C", "abstract": "D"}\n{"abstract": "E"}\n'
    path = write(tmp_path, "x.jsonl", text)
    assert source_error(path) == f"{path}: record 3 (line 3): missing title"


def test_jsonl_record_with_blank_abstract(tmp_path: Path) -> None:
    path = write(tmp_path, "x.jsonl", '{"title": "A", "abstract": "   "}\n')
    assert source_error(path) == f"{path}: record 1 (line 1): missing abstract"


def test_jsonl_bad_field_value_names_the_field(tmp_path: Path) -> None:
    path = write(tmp_path, "x.jsonl", '{"title": "A", "abstract": "B", "upvotes": -3}\n')
    assert "record 1 (line 1): upvotes:" in source_error(path)


def test_csv_row_without_abstract(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", "title,abstract\nA,B\nC,\n")
    assert source_error(path) == f"{path}: record 2 (line 3): missing abstract"


def test_csv_without_required_columns(tmp_path: Path) -> None:
    assert "header needs 'title'" in source_error(write(tmp_path, "x.csv", "name,text\nA,B\n"))


def test_csv_row_with_extra_fields(tmp_path: Path) -> None:
    message = source_error(write(tmp_path, "x.csv", "title,abstract\nA,B,C\n"))
    assert "record 1 (line 2): more fields than the header" in message


def test_hf_json_item_without_summary(tmp_path: Path) -> None:
    items = json.loads((FIXTURES / "hf_daily_papers.json").read_text(encoding="utf-8"))
    del items[1]["paper"]["summary"]
    del items[1]["summary"]
    path = write(tmp_path, "day.json", json.dumps(items))
    assert source_error(path) == f"{path}: record 2 (2510.25977): missing summary"


def test_arxiv_entry_without_title(tmp_path: Path) -> None:
    text = (FIXTURES / "arxiv_feed.xml").read_text(encoding="utf-8")
    text = text.replace("<title>Tokenizer-Free Language Modeling with Byte Patches</title>", "")
    path = write(tmp_path, "feed.xml", text)
    assert source_error(path) == f"{path}: entry 3 (2510.26003): missing title"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("day.json", "[]"),
        ("feed.xml", '<feed xmlns="http://www.w3.org/2005/Atom"><title>none</title></feed>'),
        ("p.csv", "title,abstract\n"),
        ("page.txt", PAGE_HEADER),
    ],
)
def test_file_without_papers(tmp_path: Path, name: str, content: str) -> None:
    assert "no papers found" in source_error(write(tmp_path, name, content), options=YEAR_2025)


def test_unknown_format_name_lists_the_valid_ones(tmp_path: Path) -> None:
    message = source_error(FIXTURES / "papers.jsonl", fmt="yaml")
    assert "unknown format 'yaml'" in message
    for name in ("auto", "hf-page", "hf-json", "arxiv", "jsonl", "csv"):
        assert name in message


def test_wrong_explicit_format_is_a_source_error() -> None:
    assert "malformed JSON" in source_error(FIXTURES / "papers.csv", fmt="hf-json")
    assert "malformed XML" in source_error(FIXTURES / "papers.jsonl", fmt="arxiv")


@pytest.mark.parametrize("name", ["hf_daily_papers.json", "arxiv_feed.xml", "papers.jsonl", "papers.csv"])
def test_any_truncation_parses_or_raises_source_error(tmp_path: Path, name: str) -> None:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    path = tmp_path / name
    for cut in range(1, len(text), 37):
        path.write_text(text[:cut], encoding="utf-8")
        try:
            papers = read_papers(path)
        except SourceError as err:
            assert str(err).startswith(f"{path}: ")
        else:
            assert all(paper.title and paper.abstract for paper in papers)
