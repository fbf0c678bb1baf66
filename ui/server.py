"""`paperboy ui`'s server: Streamlit, with the Today page's modules imported before the first visitor.

Streamlit imports an app's modules on the app's first run, inside the first visitor's page load
(about half a second on 2 cores); importing them while the server starts takes that out of it.
"""

import sys
from pathlib import Path

# Run as a script, ui/ is on sys.path, not the checkout (as for app.py).
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from streamlit.web.cli import main  # noqa: E402

import rag.interests  # noqa: E402, F401
import ui.cards  # noqa: E402
import ui.reader  # noqa: E402
import ui.resources  # noqa: E402, F401

main(prog_name="streamlit")
