"""Entry point of the app (`paperboy ui`, or `streamlit run ui/app.py`): four pages over one shared store."""

import sys
from pathlib import Path

# `streamlit run` puts ui/ on sys.path, not the checkout, and the installed package holds rag and evals only.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from rag.errors import PaperboyError  # noqa: E402

# A file the app serves itself: a Material icon as page_icon makes the browser fetch it from fonts.gstatic.com.
FAVICON = Path(__file__).with_name("favicon.svg")
PAGES = [
    st.Page("views/today.py", title="Today", icon=":material/newspaper:", default=True),
    st.Page("views/ask.py", title="Ask", icon=":material/forum:"),
    st.Page("views/evals.py", title="Evals", icon=":material/monitoring:"),
    st.Page("views/library.py", title="Library", icon=":material/library_books:"),
]


def main() -> None:
    """Pick the page and run it; a PaperboyError becomes one message, as in the CLI."""
    st.set_page_config(page_title="Paperboy", page_icon=str(FAVICON), layout="wide")
    page = st.navigation(PAGES)
    try:
        page.run()
    except PaperboyError as ex:
        st.error(str(ex))


main()
