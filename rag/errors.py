"""Typed errors. Library code raises these; only the CLI and UI turn them into messages."""


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


class PaperNotFoundError(PaperboyError):
    """No paper with the given id is in the catalog."""
