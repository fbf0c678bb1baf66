"""Typed errors. Library code raises these; only the CLI and UI turn them into messages."""

import errno


class PaperboyError(Exception):
    """Base class: the message is shown to the user as is, so it says what to do next."""


class SettingsError(PaperboyError):
    """A setting has a bad value."""


class SourceError(PaperboyError):
    """An input file or record cannot be read; the message names the file and the line or record."""


class FetchError(PaperboyError):
    """A remote source could not be reached or answered badly."""


class IndexNotFoundError(PaperboyError):
    """The store has nothing to search yet."""


class StoreError(PaperboyError):
    """The vector store or catalog could not be opened or written."""


class ProviderError(PaperboyError):
    """A model provider failed: dead endpoint, bad answer, unknown name."""


class MissingKeyError(ProviderError):
    """A provider needs an API key that is not set."""


class ModelFileError(ProviderError):
    """The local model file is missing or does not match its checksum."""


class PromptError(PaperboyError):
    """A prompt template file is malformed or uses unknown variables."""


class MailError(PaperboyError):
    """The digest could not be sent: settings missing, the SMTP server unreachable or refusing."""


class PaperNotFoundError(PaperboyError):
    """No paper with the given id is in the catalog."""


def storage_failure(ex: Exception, where: object) -> StoreError:
    """One StoreError for a failed read or write of where, saying why in words when the cause is the disk.

    Chroma and SQLite report a full disk in their own words ("Error in compaction", "database or disk
    is full") as often as with ENOSPC, so the text is read as well as the errno.
    """
    text = str(ex).lower()
    code = getattr(ex, "errno", None)
    if code == errno.ENOSPC or any(s in text for s in ("no space left", "disk is full", "disk full")):
        return StoreError(
            f"Cannot write {where}: the disk is full. Free some space, then run the command again "
            "(it is safe to repeat: nothing half-written is kept)."
        )
    if code == errno.EROFS or "read-only file system" in text or "readonly database" in text:
        cause = "the file system is read-only"
    elif code in (errno.EACCES, errno.EPERM) or "permission denied" in text:
        cause = "permission denied"
    elif code in (errno.EEXIST, errno.ENOTDIR):
        cause = "a file is in the way where a folder should be"
    else:
        cause = getattr(ex, "strerror", None) or f"{type(ex).__name__}: {ex}"
    return StoreError(f"Cannot use {where}: {cause}. Check PAPERBOY_DATA_DIR and PAPERBOY_CACHE_DIR.")
