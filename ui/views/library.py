"""Library: add papers from a file or a fetched day, see what the store holds and which model answers."""

import tempfile
from datetime import date, timedelta
from pathlib import Path

import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from rag.errors import FetchError
from rag.fetch import fetch_day
from rag.ingest import ingest_files
from rag.models import IngestReport
from rag.providers import chat_endpoint
from rag.sources import READERS, ReadOptions
from rag.store import store_stats
from ui import resources

FETCH_SOURCES = {"hf": "Hugging Face daily papers", "arxiv": "arXiv new submissions"}


def ingest_with_progress(paths: list[Path], fmt: str, options: ReadOptions) -> IngestReport:
    """ingest_files with a progress bar; a new or changed paper means the day views are drawn again."""
    bar = st.progress(0.0, text="Reading...")

    def progress(done: int, total: int) -> None:
        bar.progress(done / total if total else 1.0, text=f"Embedding {done}/{total} chunks")

    report = ingest_files(paths, resources.store(), fmt, options, progress)
    bar.progress(1.0, text="Done")
    if report.new or report.updated:
        resources.briefing.clear()  # each day's topics were clustered from the papers as they were
    return report


def show_report(report: IngestReport) -> None:
    """What went in, then one message per file that did not, naming the problem."""
    if report.new or report.updated or report.unchanged:
        st.success(report.summary(), icon=":material/check:")
    for failure in report.failed_files:
        st.error(failure, icon=":material/error:")
    if report.failed_files:
        st.caption("A file that fails goes in not at all: the library is as it was. Fix the file and upload it again.")


def ingest_uploads(uploads: list[UploadedFile], fmt: str, listed_on: date | None) -> IngestReport:
    """Save the uploads under their own names in a temporary folder, ingest them, and name them as uploaded."""
    with tempfile.TemporaryDirectory(prefix="paperboy-upload-") as tmp:
        paths = []
        for number, upload in enumerate(uploads):
            # One folder per file keeps two uploads of the same name apart; the name keeps its suffix for detection.
            path = Path(tmp) / str(number) / (Path(upload.name).name or "upload")
            path.parent.mkdir()
            path.write_bytes(upload.getvalue())
            paths.append(path)
        options = ReadOptions(year=listed_on.year if listed_on else None, listed_on=listed_on)
        report = ingest_with_progress(paths, fmt, options)
    for path, upload in zip(paths, uploads, strict=True):
        report.failed_files = [message.replace(str(path), upload.name) for message in report.failed_files]
    return report


def upload_form() -> None:
    """Upload files in any supported format and ingest them."""
    st.subheader("From a file")
    with st.form("upload", clear_on_submit=True):
        uploads = st.file_uploader("Files of papers", accept_multiple_files=True)
        left, right = st.columns(2)
        fmt = left.selectbox("Format", ["auto", *READERS], help="auto detects it from the name and content")
        listed_on = right.date_input("Listed on (optional)", value=None, help="The list's date; overrides the file's")
        submitted = st.form_submit_button("Ingest", icon=":material/upload:")
    if submitted and uploads:
        show_report(ingest_uploads(uploads, fmt, listed_on))
    elif submitted:
        st.warning("Choose a file first.")


def fetch_form() -> None:
    """Download a day's list (needs the network) and ingest it."""
    st.subheader("Fetch a day")
    with st.form("fetch"):
        left, middle, right = st.columns(3)
        day = left.date_input("Day", value=date.today() - timedelta(days=1))
        source = middle.selectbox("Source", list(FETCH_SOURCES), format_func=FETCH_SOURCES.__getitem__)
        category = right.text_input("arXiv category", value="cs.LG", help="Used with the arXiv source")
        submitted = st.form_submit_button("Fetch and ingest", icon=":material/download:")
    if not submitted:
        return
    try:
        with st.spinner(f"Downloading the papers of {day.isoformat()}..."):
            files = fetch_day(day, source, category, resources.settings())
    except FetchError as ex:
        st.error(str(ex), icon=":material/cloud_off:")
        return
    if not files:
        st.info(f"No papers were listed on {day.isoformat()} ({FETCH_SOURCES[source]}); nothing to ingest.")
        return
    show_report(ingest_with_progress(files, "hf-json" if source == "hf" else "arxiv", ReadOptions(listed_on=day)))


def show_stats() -> None:
    """What the store holds and where it lives."""
    stats = store_stats(resources.settings())
    cols = st.columns(3)
    cols[0].metric("Papers", stats["papers"])
    cols[1].metric("Chunks", stats["chunks"])
    cols[2].metric("Days", len(stats["days"]))
    days = stats["days"]  # newest first; an archive holds hundreds
    keywords = stats["keyword_index"]
    where = {
        "Days": (f"{days[-1]} to {days[0]}" if len(days) > 5 else ", ".join(days)) or "none",
        "Embedding model": stats["embedding_model"],
        "Collection": stats["collection"],
        "Store": stats["store"],
        "Catalog": stats["catalog"],
        "Keyword index": f"{keywords['bytes'] / 1e6:.1f} MB, {keywords['location']}",
    }
    st.markdown("\n".join(f"- **{label}:** `{value}`" for label, value in where.items()))


def show_model() -> None:
    """Which chat model answers and where it runs; the API key is never shown."""
    settings = resources.settings()
    model, endpoint = chat_endpoint(settings)
    started = resources.chat().name is not None
    st.markdown(f"- **Chat model:** `{model}`\n- **Endpoint:** {endpoint}")
    st.caption("Running." if started else "Starts on the first question or explainer.")


def render() -> None:
    """The Library page."""
    st.title("Library")
    st.header("Add papers")
    upload_form()
    fetch_form()
    st.header("What the library holds")
    show_stats()
    st.header("Model")
    show_model()


render()
