"""The catalog: the store of record for papers, their chunks and the days they were listed on (SQLite).

A paper is visible once its row and its chunks' rows are committed, in one transaction; the vector
index only adds vectors to chunks the catalog already knows. Chunk rows carry their keyword terms,
and the keyword index (each term's postings: the chunks it occurs in) is written from them in the
same transaction, so every process reads it in place and it is never rebuilt.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple

from rag.errors import PaperNotFoundError, StoreError, storage_failure
from rag.models import Chunk, DayRange, Explainer, Paper
from rag.text import keyword_terms_of

if TYPE_CHECKING:
    import numpy as np


_SCHEMA = """
-- The library's id, made once: on a Chroma server shared by several machines, its vectors live in a
-- collection named after it, so one library's writes and repairs never touch another's vectors.
CREATE TABLE IF NOT EXISTS library (id TEXT NOT NULL);
INSERT INTO library SELECT lower(hex(randomblob(8))) WHERE NOT EXISTS (SELECT 1 FROM library);
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
-- rowid is explicit so VACUUM keeps it: the keyword postings below refer to chunks by rowid.
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    paper_id TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    text TEXT NOT NULL,
    tokens INTEGER NOT NULL,
    terms TEXT NOT NULL,
    n_terms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_paper ON chunks(paper_id);
-- Catalogs written before the postings held an FTS5 index of the terms; it goes (see _index_old_chunks).
DROP TRIGGER IF EXISTS chunk_terms_insert;
DROP TRIGGER IF EXISTS chunk_terms_delete;
DROP TABLE IF EXISTS chunk_vocab;
DROP TABLE IF EXISTS chunk_terms;
-- The keyword index: per term and segment, one blob of posting() records (chunk rowid, how often the
-- term occurs in it, the chunk's length in terms). Each save adds a segment for its new chunks and
-- takes its deleted chunks out of the older ones; many segments are merged into one.
CREATE TABLE IF NOT EXISTS keyword_postings (
    term TEXT NOT NULL,
    segment INTEGER NOT NULL,
    postings BLOB NOT NULL,
    PRIMARY KEY (term, segment)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS keyword_segments (segment INTEGER PRIMARY KEY);
-- Corpus totals for BM25's length normalisation, kept by the triggers in the same transaction.
CREATE TABLE IF NOT EXISTS keyword_totals (chunks INTEGER NOT NULL, terms INTEGER NOT NULL);
INSERT INTO keyword_totals SELECT 0, 0 WHERE NOT EXISTS (SELECT 1 FROM keyword_totals);
CREATE TRIGGER IF NOT EXISTS keyword_totals_insert AFTER INSERT ON chunks BEGIN
    UPDATE keyword_totals SET chunks = chunks + 1, terms = terms + new.n_terms;
END;
CREATE TRIGGER IF NOT EXISTS keyword_totals_delete AFTER DELETE ON chunks BEGIN
    UPDATE keyword_totals SET chunks = chunks - 1, terms = terms - old.n_terms;
END;
-- Chunk ids the vector index may hold but the catalog does not (yet, or any more): written before
-- vectors go in and before stale ones are dropped, cleared once the index matches. What is left
-- after a crash is exactly what repair removes from the index.
CREATE TABLE IF NOT EXISTS unsettled_chunks (id TEXT PRIMARY KEY);
-- When each listing went in, for "new since your last visit": written by a trigger, so every writer
-- of listings records it. Listings older than this table have no row and count as seen.
CREATE TABLE IF NOT EXISTS listings_added (
    paper_id TEXT NOT NULL,
    day TEXT NOT NULL,
    added_at TEXT NOT NULL,
    PRIMARY KEY (paper_id, day)
);
CREATE TRIGGER IF NOT EXISTS listings_added_insert AFTER INSERT ON listings BEGIN
    INSERT OR IGNORE INTO listings_added (paper_id, day, added_at)
    VALUES (new.paper_id, new.day, strftime('%Y-%m-%dT%H:%M:%f', 'now'));
END;
-- The reader's interests: keywords followed or muted (one kind per keyword), and marks on papers.
CREATE TABLE IF NOT EXISTS keywords (
    keyword TEXT PRIMARY KEY COLLATE NOCASE,
    kind TEXT NOT NULL CHECK (kind IN ('follow', 'mute'))
);
CREATE TABLE IF NOT EXISTS marks (
    paper_id TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
    mark TEXT NOT NULL CHECK (mark IN ('star', 'read', 'hidden')),
    marked_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now')),
    PRIMARY KEY (paper_id, mark)
);
-- Small named values: the last visit, the "for you" ranker trained on the current stars, each
-- step of a day's `paperboy daily` run.
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS topic_names (
    members TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    model TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (members, prompt_version, model)
);
"""


KeywordKind = Literal["follow", "mute"]
Mark = Literal["star", "read", "hidden"]
Days = date | DayRange


@cache
def posting() -> np.dtype:
    """One entry of a term's postings: a chunk (its rowid), how often the term occurs in it, its length
    in terms. NumPy is imported here, not at the top: `paperboy --help` and `papers` never read postings."""
    import numpy as np

    return np.dtype([("chunk", "<u4"), ("tf", "<u2"), ("length", "<u2")])  # a chunk has < 65,536 terms


# Past this many segments, a save merges them all into one: a question reads one blob per segment of
# each of its terms.
_MAX_SEGMENTS = 64
# An old catalog's chunks get their postings in segments of this many (95k chunks: 10 s, once).
_OLD_CHUNKS_PER_SEGMENT = 20_000


class KeywordPostings(NamedTuple):
    """What BM25 needs to score chunks for some terms: where each term occurs, and the corpus statistics."""

    postings: dict[str, np.ndarray]  # term -> posting() records of the chunks searched
    doc_freq: dict[str, int]  # chunks of the whole catalog that contain each term
    corpus_chunks: int
    mean_terms: float  # the mean number of terms per chunk


class Catalog:
    """Papers by id with their chunks and every day each was listed on. A connection per call keeps it
    thread-safe."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as ex:
            raise storage_failure(ex, f"the data dir {path.parent}") from ex
        with self._connect() as conn:
            conn.executescript(_SCHEMA)
        self._index_old_chunks()

    def _index_old_chunks(self) -> None:
        """Write the postings of a catalog whose chunks have none (one written before they existed)."""
        unindexed = "SELECT NOT EXISTS (SELECT 1 FROM keyword_segments) AND EXISTS (SELECT 1 FROM chunks)"
        with self._connect() as conn:
            if not conn.execute(unindexed).fetchone()[0]:
                return
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")  # a second process opening it at once waits, then finds them
            if conn.execute(unindexed).fetchone()[0]:
                chunks = conn.execute("SELECT rowid, terms, n_terms FROM chunks")
                while part := chunks.fetchmany(_OLD_CHUNKS_PER_SEGMENT):  # bounded memory at 100k chunks
                    _add_segment(conn, part)

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
        except sqlite3.Error as ex:
            raise storage_failure(ex, f"the catalog {self.path}") from ex
        finally:
            conn.close()

    @property
    def library_id(self) -> str:
        """This catalog's id, made when it was created (16 hex digits)."""
        with self._connect() as conn:
            return str(conn.execute("SELECT id FROM library").fetchone()[0])

    def stored(self, ids: list[str]) -> dict[str, Paper]:
        """The stored record of each of these ids that exists."""
        found: dict[str, Paper] = {}
        with self._connect() as conn:
            for part in _slices(ids):
                rows = conn.execute(f"SELECT record FROM papers WHERE id IN ({_marks(part)})", part)
                for (record,) in rows:
                    paper = Paper.model_validate_json(record)
                    found[paper.id] = paper
        return found

    def save(self, papers: list[Paper], chunks: list[Chunk]) -> list[str]:
        """Insert or replace papers, their listing days and the chunks of every paper in chunks, in one
        transaction: the moment they become visible.

        A paper's record changes its text only together with its chunks: a record whose text differs
        from the stored one, saved without chunks (a plan made before another process wrote the paper),
        keeps the stored record, so record and chunks always match. The papers' older chunks that the
        new ones do not repeat are deleted and marked unsettled; their ids are returned, for the caller
        to drop from the vector index and then settle().
        """
        rechunked = sorted({c.paper.id for c in chunks})
        new_ids = {c.id for c in chunks}
        terms_of = keyword_terms_of([c.text for c in chunks])
        chunk_rows = [
            (c.id, c.paper.id, c.index, c.text, c.tokens, " ".join(terms), len(terms))
            for c, terms in zip(chunks, terms_of, strict=True)
        ]
        upsert = (
            "INSERT INTO papers (id, content_hash, record) VALUES (?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET content_hash = excluded.content_hash, record = excluded.record"
        )
        rows = [(p.id, p.content_hash, p.model_dump_json()) for p in papers]
        with_chunks = set(rechunked)
        with self._connect() as conn:
            conn.executemany(upsert, [r for r in rows if r[0] in with_chunks])
            conn.executemany(
                upsert + " WHERE papers.content_hash = excluded.content_hash",
                [r for r in rows if r[0] not in with_chunks],
            )
            conn.executemany(
                "INSERT OR IGNORE INTO listings (paper_id, day) VALUES (?, ?)",
                [(p.id, p.listed_on.isoformat()) for p in papers if p.listed_on],
            )
            replaced: list[tuple[int, str, str]] = []  # (rowid, chunk id, terms) of the chunks replaced
            for part in _slices(rechunked):
                replaced += conn.execute(
                    f"SELECT rowid, id, terms FROM chunks WHERE paper_id IN ({_marks(part)})", part
                )
                conn.execute(f"DELETE FROM chunks WHERE paper_id IN ({_marks(part)})", part)
            stale = sorted({cid for _, cid, _ in replaced} - new_ids)
            _remove_postings(conn, [(rowid, terms) for rowid, _, terms in replaced])
            conn.executemany(
                "INSERT INTO chunks (id, paper_id, position, text, tokens, terms, n_terms) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                chunk_rows,
            )
            rowid_of: dict[str, int] = {}
            for part in _slices(sorted(new_ids)):
                rowid_of.update(conn.execute(f"SELECT id, rowid FROM chunks WHERE id IN ({_marks(part)})", part))
            _add_segment(conn, [(rowid_of[cid], terms, n) for cid, _, _, _, _, terms, n in chunk_rows])
            conn.executemany("INSERT OR IGNORE INTO unsettled_chunks (id) VALUES (?)", [(i,) for i in stale])
            conn.executemany("DELETE FROM unsettled_chunks WHERE id = ?", [(i,) for i in sorted(new_ids)])
        return stale

    def listed(self, paper_ids: list[str]) -> set[tuple[str, date]]:
        """The (paper id, day) listings the catalog holds for these papers."""
        found: set[tuple[str, date]] = set()
        with self._connect() as conn:
            for part in _slices(paper_ids):
                rows = conn.execute(f"SELECT paper_id, day FROM listings WHERE paper_id IN ({_marks(part)})", part)
                found.update((pid, date.fromisoformat(day)) for pid, day in rows)
        return found

    def unsettle(self, chunk_ids: list[str]) -> None:
        """Mark chunk ids the vector index is about to receive, before it does (see unsettled_chunks)."""
        with self._connect() as conn:
            conn.executemany("INSERT OR IGNORE INTO unsettled_chunks (id) VALUES (?)", [(i,) for i in chunk_ids])

    def settle(self, chunk_ids: list[str]) -> None:
        """Forget unsettled chunk ids once the vector index matches the catalog for them."""
        with self._connect() as conn:
            conn.executemany("DELETE FROM unsettled_chunks WHERE id = ?", [(i,) for i in chunk_ids])

    def unsettled(self) -> list[str]:
        """Unsettled chunk ids the catalog does not hold: what an unfinished write may have left in the
        vector index."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT u.id FROM unsettled_chunks u LEFT JOIN chunks c ON c.id = u.id WHERE c.id IS NULL"
            ).fetchall()
        return [cid for (cid,) in rows]

    def chunk_ids(self, paper_ids: list[str] | None = None) -> dict[str, str]:
        """Every chunk id in the catalog, or only these papers' chunk ids, mapped to its paper id."""
        with self._connect() as conn:
            if paper_ids is None:
                return dict(conn.execute("SELECT id, paper_id FROM chunks").fetchall())
            return self._chunk_ids_of(conn, paper_ids)

    @staticmethod
    def _chunk_ids_of(conn: sqlite3.Connection, paper_ids: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for part in _slices(paper_ids):
            found.update(conn.execute(f"SELECT id, paper_id FROM chunks WHERE paper_id IN ({_marks(part)})", part))
        return found

    def chunks(self, chunk_ids: list[str]) -> dict[str, Chunk]:
        """These chunks, each with its paper, by id; ids the catalog does not hold are left out."""
        found: dict[str, Chunk] = {}
        with self._connect() as conn:
            for part in _slices(chunk_ids):
                rows = conn.execute(
                    "SELECT c.id, c.position, c.text, c.tokens, p.record FROM chunks c "
                    f"JOIN papers p ON p.id = c.paper_id WHERE c.id IN ({_marks(part)})",
                    part,
                )
                for cid, position, text, tokens, record in rows:
                    paper = Paper.model_validate_json(record)
                    found[cid] = Chunk(paper=paper, index=position, text=text, tokens=tokens)
        return found

    def papers_without_chunks(self) -> list[Paper]:
        """Papers with no chunk rows: only a store written before the catalog held chunks has them."""
        with self._connect() as conn:
            # Every chunk's paper is stored (a foreign key), so equal counts mean none: a 20 ms check on
            # every open at 100k papers, where looking for such papers one by one took a second.
            papers, chunked = conn.execute(
                "SELECT (SELECT COUNT(*) FROM papers), (SELECT COUNT(DISTINCT paper_id) FROM chunks)"
            ).fetchone()
            if papers == chunked:
                return []
            rows = conn.execute(
                "SELECT p.record FROM papers p WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.paper_id = p.id)"
            ).fetchall()
        return [Paper.model_validate_json(record) for (record,) in rows]

    def keyword_postings(self, terms: list[str], paper_ids: list[str] | None) -> KeywordPostings:
        """Where each of the terms occurs: in every chunk, or only in these papers' chunks (a day's are
        read and counted directly, a millisecond at 100k chunks), with each term's frequency over the
        whole catalog and the corpus totals."""
        unique = sorted(set(terms))
        if not unique or (paper_ids is not None and not paper_ids):
            return KeywordPostings({}, {}, 0, 0.0)
        with self._connect() as conn:
            chunks, total_terms = conn.execute("SELECT chunks, terms FROM keyword_totals").fetchone()
            if paper_ids is None:
                postings = {term: found for term in unique if len(found := _postings_of(conn, term))}
                doc_freq = {term: len(found) for term, found in postings.items()}
            else:
                # The whole catalog's frequencies from the blobs' sizes, without reading them.
                sizes = conn.execute(
                    f"SELECT term, SUM(LENGTH(postings)) FROM keyword_postings WHERE term IN ({_marks(unique)}) "
                    "GROUP BY term",
                    unique,
                )
                doc_freq = {term: size // posting().itemsize for term, size in sizes if size}
                rows: list[tuple[int, str, int]] = []
                for part in _slices(paper_ids):
                    rows += conn.execute(
                        f"SELECT rowid, terms, n_terms FROM chunks WHERE paper_id IN ({_marks(part)})", part
                    )
                postings = _count_postings(rows, set(doc_freq))
        return KeywordPostings(postings, doc_freq, chunks, total_terms / chunks if chunks else 0.0)

    def chunk_ids_at(self, rowids: list[int]) -> dict[int, str]:
        """The chunk id of each of these catalog rows that still exists."""
        found: dict[int, str] = {}
        with self._connect() as conn:
            for part in _slices(rowids):
                found.update(conn.execute(f"SELECT rowid, id FROM chunks WHERE rowid IN ({_marks(part)})", part))
        return found

    def keyword_index(self) -> dict[str, str | int]:
        """Where the keyword index lives and how big it is, as `paperboy stats` reports it."""
        with self._connect() as conn:
            chunks = conn.execute("SELECT chunks FROM keyword_totals").fetchone()[0]
            size = conn.execute("SELECT COALESCE(SUM(LENGTH(postings)), 0) FROM keyword_postings").fetchone()[0]
            segments = conn.execute("SELECT COUNT(*) FROM keyword_segments").fetchone()[0]
        return {
            "location": f"{self.path} (SQLite table keyword_postings)",
            "chunks": int(chunks),
            "bytes": int(size),
            "segments": int(segments),
        }

    def paper_terms(self, paper_ids: list[str]) -> dict[str, list[str]]:
        """Each paper's keyword terms (title and abstract, as the keyword index holds them), in order."""
        found: dict[str, list[str]] = {}
        with self._connect() as conn:
            for part in _slices(paper_ids):
                rows = conn.execute(
                    f"SELECT paper_id, terms FROM chunks WHERE paper_id IN ({_marks(part)}) "
                    "ORDER BY paper_id, position",
                    part,
                )
                for paper_id, terms in rows:
                    found.setdefault(paper_id, []).extend(terms.split())
        return found

    def chunk_count(self) -> int:
        """Number of chunks."""
        with self._connect() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def papers(self, day: Days | None = None) -> list[Paper]:
        """Papers listed on day, or in a range of days (all papers when None), most upvoted first;
        listed_on is that day (the latest in the range)."""
        where, values = _day_filter(day)
        query = (
            f"SELECT p.record, MAX(l.day) FROM papers p LEFT JOIN listings l ON l.paper_id = p.id {where} GROUP BY p.id"
        )
        with self._connect() as conn:
            rows = conn.execute(query, values).fetchall()
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

    def paper_ids(self, day: Days) -> list[str]:
        """Ids of the papers listed on day, or in a range of days: what a search is narrowed to."""
        where, values = _day_filter(day)
        with self._connect() as conn:
            return [pid for (pid,) in conn.execute(f"SELECT DISTINCT l.paper_id FROM listings l {where}", values)]

    def has_chunks(self) -> bool:
        """Whether anything is ingested, without counting every chunk."""
        with self._connect() as conn:
            return conn.execute("SELECT EXISTS (SELECT 1 FROM chunks)").fetchone()[0] == 1

    def days(self) -> list[date]:
        """Every day with at least one listed paper, newest first."""
        with self._connect() as conn:
            rows = conn.execute("SELECT DISTINCT day FROM listings ORDER BY day DESC").fetchall()
        return [date.fromisoformat(day) for (day,) in rows]

    def day_counts(self) -> dict[date, int]:
        """Papers listed on each day, newest day first."""
        with self._connect() as conn:
            rows = conn.execute("SELECT day, COUNT(*) FROM listings GROUP BY day ORDER BY day DESC").fetchall()
        return {date.fromisoformat(day): count for day, count in rows}

    def listed_since(self, moment: str) -> dict[str, list[date]]:
        """Papers with a listing that went in after moment (UTC, ISO format), with those listings' days."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT paper_id, day FROM listings_added WHERE added_at > ? ORDER BY day DESC", [moment]
            ).fetchall()
        found: dict[str, list[date]] = {}
        for paper_id, day in rows:
            found.setdefault(paper_id, []).append(date.fromisoformat(day))
        return found

    def set_keyword(self, keyword: str, kind: KeywordKind | None) -> None:
        """Follow or mute a keyword (either replaces the other), or forget it (kind None)."""
        with self._connect() as conn:
            if kind is None:
                conn.execute("DELETE FROM keywords WHERE keyword = ?", [keyword])
            else:
                conn.execute(
                    "INSERT INTO keywords (keyword, kind) VALUES (?, ?) "
                    "ON CONFLICT(keyword) DO UPDATE SET keyword = excluded.keyword, kind = excluded.kind",
                    [keyword, kind],
                )

    def keywords(self, kind: KeywordKind) -> list[str]:
        """The keywords followed (or muted), alphabetically."""
        with self._connect() as conn:
            rows = conn.execute("SELECT keyword FROM keywords WHERE kind = ? ORDER BY keyword", [kind]).fetchall()
        return [keyword for (keyword,) in rows]

    def set_mark(self, paper_ids: list[str], mark: Mark, on: bool) -> None:
        """Put a mark on these papers (or take it off); PaperNotFoundError names an unknown id, and then
        nothing changes."""
        known = self.stored(paper_ids)
        if unknown := [pid for pid in paper_ids if pid not in known]:
            raise PaperNotFoundError(f"No paper with id {unknown[0]!r}; `paperboy papers` lists the ids.")
        with self._connect() as conn:
            if on:
                conn.executemany(
                    "INSERT OR IGNORE INTO marks (paper_id, mark) VALUES (?, ?)", [(pid, mark) for pid in paper_ids]
                )
            else:
                conn.executemany(
                    "DELETE FROM marks WHERE paper_id = ? AND mark = ?", [(pid, mark) for pid in paper_ids]
                )

    def marked(self, mark: Mark) -> list[str]:
        """Ids of the papers with this mark, most recently marked first."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT paper_id FROM marks WHERE mark = ? ORDER BY marked_at DESC, paper_id", [mark]
            ).fetchall()
        return [pid for (pid,) in rows]

    def state(self, key: str) -> str | None:
        """A stored named value, if set."""
        with self._connect() as conn:
            row = conn.execute("SELECT value FROM state WHERE key = ?", [key]).fetchone()
        return str(row[0]) if row else None

    def set_state(self, key: str, value: str | None) -> None:
        """Store a named value (None forgets it)."""
        with self._connect() as conn:
            if value is None:
                conn.execute("DELETE FROM state WHERE key = ?", [key])
            else:
                conn.execute("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", [key, value])

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


def utc_stamp() -> str:
    """Now in UTC, in the form listings_added.added_at has (2026-12-04T08:00:01.123), so they compare as text."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def _count_postings(rows: list[tuple[int, str, int]], only: set[str] | None = None) -> dict[str, np.ndarray]:
    """posting() records per term of chunk rows (rowid, terms joined by spaces, number of terms); only
    these terms when given."""
    import numpy as np

    found: dict[str, list[tuple[int, int, int]]] = {}
    for rowid, terms, length in rows:
        if only is None:
            counts = Counter(terms.split()).items()
        else:  # a few terms: counting " term " in the joined terms is a C loop, not a Counter per chunk
            spaced = f" {terms} "
            counts = ((term, spaced.count(f" {term} ")) for term in only)
        for term, tf in counts:
            if tf:
                found.setdefault(term, []).append((rowid, tf, length))
    return {term: np.array(entries, dtype=posting()) for term, entries in found.items()}


def _postings_of(conn: sqlite3.Connection, term: str) -> np.ndarray:
    """Every posting of a term, over all segments."""
    import numpy as np

    blobs = [blob for (blob,) in conn.execute("SELECT postings FROM keyword_postings WHERE term = ?", (term,))]
    return np.frombuffer(b"".join(blobs), dtype=posting())


def _add_segment(conn: sqlite3.Connection, rows: list[tuple[int, str, int]]) -> None:
    """Write new chunk rows' postings as a segment of their own, merging every segment into one when
    there are too many."""
    if not rows:
        return
    segment = conn.execute("INSERT INTO keyword_segments DEFAULT VALUES").lastrowid
    conn.executemany(
        "INSERT INTO keyword_postings (term, segment, postings) VALUES (?, ?, ?)",
        [(term, segment, postings.tobytes()) for term, postings in _count_postings(rows).items()],
    )
    if conn.execute("SELECT COUNT(*) FROM keyword_segments").fetchone()[0] > _MAX_SEGMENTS:
        _merge_segments(conn)


def _merge_segments(conn: sqlite3.Connection) -> None:
    """Rewrite every term's postings as one segment (at 100k chunks: ~80 MB, a few seconds)."""
    merged: dict[str, list[bytes]] = {}
    for term, blob in conn.execute("SELECT term, postings FROM keyword_postings ORDER BY term, segment"):
        merged.setdefault(term, []).append(blob)
    conn.execute("DELETE FROM keyword_postings")
    conn.execute("DELETE FROM keyword_segments")
    segment = conn.execute("INSERT INTO keyword_segments DEFAULT VALUES").lastrowid
    conn.executemany(
        "INSERT INTO keyword_postings (term, segment, postings) VALUES (?, ?, ?)",
        ((term, segment, b"".join(blobs)) for term, blobs in merged.items()),
    )


def _remove_postings(conn: sqlite3.Connection, rows: list[tuple[int, str]]) -> None:
    """Take deleted chunk rows (rowid, terms) out of every segment of their terms, so a rowid SQLite
    hands out again never inherits them."""
    import numpy as np

    gone: dict[str, list[int]] = {}
    for rowid, terms in rows:
        for term in set(terms.split()):
            gone.setdefault(term, []).append(rowid)
    for term, rowids in gone.items():
        for segment, blob in conn.execute(
            "SELECT segment, postings FROM keyword_postings WHERE term = ?", (term,)
        ).fetchall():
            postings = np.frombuffer(blob, dtype=posting())
            kept = postings[~np.isin(postings["chunk"], rowids)]
            if len(kept) == len(postings):
                continue
            if len(kept):
                conn.execute(
                    "UPDATE keyword_postings SET postings = ? WHERE term = ? AND segment = ?",
                    (kept.tobytes(), term, segment),
                )
            else:
                conn.execute("DELETE FROM keyword_postings WHERE term = ? AND segment = ?", (term, segment))


def _slices(ids: list[str], size: int = 500) -> Iterator[list[str]]:
    # SQLite caps the number of bound parameters in one statement.
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _day_filter(day: Days | None) -> tuple[str, list[str]]:
    """The WHERE clause (on listings l) and its values for one day or a range of days."""
    if isinstance(day, date):
        return "WHERE l.day = ?", [day.isoformat()]
    clauses = [
        (f"l.day {op} ?", end.isoformat()) for op, end in ((">=", day and day.since), ("<=", day and day.until)) if end
    ]
    if not clauses:
        return "", []
    return "WHERE " + " AND ".join(c for c, _ in clauses), [v for _, v in clauses]


def _marks(ids: list[str]) -> str:
    return ",".join("?" * len(ids))


def _with_listing(record: str, listed: str | None) -> Paper:
    paper = Paper.model_validate_json(record)
    return paper.model_copy(update={"listed_on": date.fromisoformat(listed) if listed else paper.listed_on})
