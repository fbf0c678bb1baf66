"""The catalog: the store of record for papers and the days they were listed on (SQLite)."""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from rag.errors import PaperNotFoundError, StoreError
from rag.models import Explainer, Paper

_SCHEMA = """
CREATE TABLE IF NOT EXISTS papers (
    id TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS listings (
    paper_id TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
    day TEXT NOT NULL,
    PRIMARY KEY (paper_id, day)
);
CREATE INDEX IF NOT EXISTS listings_day ON listings(day);
CREATE TABLE IF NOT EXISTS explainers (
    paper_id TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
    content_hash TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    model TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (paper_id, content_hash, prompt_version, model)
);
CREATE TABLE IF NOT EXISTS topic_names (
    members TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    model TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (members, prompt_version, model)
);
"""


class Catalog:
    """Papers by id, with every day each was listed on. A connection per call keeps it thread-safe."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = sqlite3.connect(self.path, timeout=30)
        except sqlite3.Error as ex:
            raise StoreError(f"Cannot open the catalog {self.path}: {ex}") from ex
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            with conn:  # one transaction: committed on success, rolled back on any error
                yield conn
        finally:
            conn.close()

    def stored(self, ids: list[str]) -> dict[str, Paper]:
        """The stored record of each of these ids that exists."""
        found: dict[str, Paper] = {}
        with self._connect() as conn:
            for start in range(0, len(ids), 500):
                part = ids[start : start + 500]
                marks = ",".join("?" * len(part))
                rows = conn.execute(f"SELECT record FROM papers WHERE id IN ({marks})", part)
                for (record,) in rows:
                    paper = Paper.model_validate_json(record)
                    found[paper.id] = paper
        return found

    def save(self, papers: list[Paper]) -> None:
        """Insert or replace papers and add their listing days, all in one transaction."""
        with self._connect() as conn:
            conn.executemany(
                "INSERT INTO papers (id, content_hash, record) VALUES (?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET content_hash = excluded.content_hash, record = excluded.record",
                [(p.id, p.content_hash, p.model_dump_json()) for p in papers],
            )
            conn.executemany(
                "INSERT OR IGNORE INTO listings (paper_id, day) VALUES (?, ?)",
                [(p.id, p.listed_on.isoformat()) for p in papers if p.listed_on],
            )

    def papers(self, day: date | None = None) -> list[Paper]:
        """Papers listed on day (all papers when None), most upvoted first; listed_on is that day."""
        query = (
            "SELECT p.record, MAX(l.day) FROM papers p LEFT JOIN listings l ON l.paper_id = p.id "
            + ("WHERE l.day = ? " if day else "")
            + "GROUP BY p.id"
        )
        with self._connect() as conn:
            rows = conn.execute(query, [day.isoformat()] if day else []).fetchall()
        papers = [_with_listing(record, listed) for record, listed in rows]
        return sorted(papers, key=lambda p: (-p.upvotes, p.title.lower()))

    def paper(self, paper_id: str) -> Paper:
        """One paper by id, or PaperNotFoundError that says how to find ids."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT p.record, MAX(l.day) FROM papers p LEFT JOIN listings l ON l.paper_id = p.id "
                "WHERE p.id = ? GROUP BY p.id",
                [paper_id],
            ).fetchone()
        if row is None:
            raise PaperNotFoundError(f"No paper with id {paper_id!r}; `paperboy papers` lists the ids.")
        return _with_listing(*row)

    def days(self) -> list[date]:
        """Every day with at least one listed paper, newest first."""
        with self._connect() as conn:
            rows = conn.execute("SELECT DISTINCT day FROM listings ORDER BY day DESC").fetchall()
        return [date.fromisoformat(day) for (day,) in rows]

    def explainer(self, paper: Paper, prompt_version: str, model: str) -> Explainer | None:
        """The cached explainer of this exact text, prompt and model, if there is one."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT record FROM explainers WHERE paper_id = ? AND content_hash = ? AND prompt_version = ? "
                "AND model = ?",
                [paper.id, paper.content_hash, prompt_version, model],
            ).fetchone()
        return Explainer.model_validate_json(row[0]).model_copy(update={"cached": True}) if row else None

    def save_explainer(self, explainer: Explainer) -> None:
        """Store one explainer as soon as it exists, so a stopped run resumes where it was."""
        with self._connect() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO explainers (paper_id, content_hash, prompt_version, model, record) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    explainer.paper_id,
                    explainer.content_hash,
                    explainer.prompt_version,
                    explainer.model,
                    explainer.model_dump_json(exclude={"cached"}),
                ],
            )

    def topic_name(self, members: str, prompt_version: str, model: str) -> str | None:
        """The stored name of a topic with exactly these members (see digest.topic_key), if any."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT name FROM topic_names WHERE members = ? AND prompt_version = ? AND model = ?",
                [members, prompt_version, model],
            ).fetchone()
        return str(row[0]) if row else None

    def save_topic_name(self, members: str, prompt_version: str, model: str, name: str) -> None:
        """Store a topic's name, so the next page or digest of the day shows it without a model call."""
        with self._connect() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO topic_names (members, prompt_version, model, name) VALUES (?, ?, ?, ?)",
                [members, prompt_version, model, name],
            )

    def count(self) -> int:
        """Number of papers."""
        with self._connect() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM papers").fetchone()[0])


def _with_listing(record: str, listed: str | None) -> Paper:
    paper = Paper.model_validate_json(record)
    return paper.model_copy(update={"listed_on": date.fromisoformat(listed) if listed else paper.listed_on})
