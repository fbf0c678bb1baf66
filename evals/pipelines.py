"""The pipelines an eval can run: the real answer code with each retrieval mode, and the textbook chain.

Derived from the retrieval registry, so a new mode is a new pipeline (and `--pipeline` choice) too.
"""

from rag.retrieval import DEFAULT_MODE, MODES

DEFAULT = "default"
# The textbook chain (evals/naive.py): dense top-4 abstracts stuffed into one prompt, no checks.
NAIVE = "naive"
NAIVE_MODE = "dense"
PIPELINES = (DEFAULT, *(mode for mode in MODES if mode != DEFAULT_MODE), NAIVE)


def pipeline_mode(pipeline: str) -> str | None:
    """The retrieval mode a pipeline searches with; None for default: the settings' mode, as `paperboy ask`."""
    if pipeline == DEFAULT:
        return None
    return NAIVE_MODE if pipeline == NAIVE else pipeline
