"""What the ``classify`` command reads: input arguments -> an ordered list of image sources, and their bytes.

Kept apart from the command itself so the rules a user relies on (which files a folder yields, in which order,
under which name, and how a URL is fetched safely) are plain functions that tests call directly.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

import requests

from service.errors import BadRequest, InvalidImage, PayloadTooLarge, UnsupportedMediaType

# Files a folder contributes; anything else in a folder (labels.csv, README) is not an image and is passed over.
# A file named explicitly is always tried, whatever its extension, so a wrong one is reported, not ignored.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".png"})
URL_SCHEMES = ("http://", "https://")
# Content types a server may label an image with; the bytes are still checked by their magic number on decode.
ACCEPTED_CONTENT_TYPES = ("image/", "application/octet-stream", "binary/octet-stream")


@dataclass(frozen=True)
class Source:
    """One image to classify: ``name`` is the key of its output line, ``location`` a file path or a URL."""

    name: str
    location: str
    is_url: bool = False


@dataclass(frozen=True)
class InputProblem:
    """An argument that yielded no image (missing path, empty folder, glob without matches)."""

    argument: str
    reason: str


def is_url(argument: str) -> bool:
    return argument.lower().startswith(URL_SCHEMES)


def expand_inputs(arguments: list[str], *, recursive: bool = False) -> tuple[list[Source], list[InputProblem]]:
    """Turn folders, files, glob patterns and URLs into sources, in a stable order, without duplicates.

    Order: arguments as given; inside a folder or a glob, sorted by path. Names: a folder's images are named by
    their path relative to that folder (just the file name unless ``recursive``), a glob's matches by their path
    relative to the folder part of the pattern, a file by its file name, a URL by itself.
    """
    sources: list[Source] = []
    problems: list[InputProblem] = []
    seen: set[str] = set()

    def add(found: list[Source]) -> None:
        for source in found:
            key = source.location if source.is_url else os.path.realpath(source.location)
            if key not in seen:
                seen.add(key)
                sources.append(source)

    for argument in arguments:
        if is_url(argument):
            add([Source(argument, argument, is_url=True)])
            continue
        path = Path(argument)
        if path.is_dir():
            found = _folder_sources(path, recursive)
            if not found:
                problems.append(InputProblem(argument, "no JPEG or PNG images in this folder"))
            add(found)
        elif path.exists():
            add([Source(path.name, str(path))])
        elif glob.has_magic(argument):
            found = _glob_sources(argument, recursive)
            if not found:
                problems.append(InputProblem(argument, "the pattern matches no image"))
            add(found)
        else:
            problems.append(InputProblem(argument, "no such file or folder"))
    return sources, problems


def _folder_sources(folder: Path, recursive: bool) -> list[Source]:
    pattern = "**/*" if recursive else "*"
    files = sorted(
        p for p in folder.glob(pattern) if _is_image_name(p.relative_to(folder)) and p.is_file()
    )
    return [Source(p.relative_to(folder).as_posix(), str(p)) for p in files]


def _glob_sources(pattern: str, recursive: bool) -> list[Source]:
    base = _glob_base(pattern)
    sources = []
    for match in sorted(glob.glob(pattern, recursive=recursive)):
        path = Path(match)
        if path.is_dir():
            sources.extend(
                Source((path / s.name).relative_to(base).as_posix(), s.location)
                for s in _folder_sources(path, recursive)
            )
        elif path.is_file():
            sources.append(Source(path.relative_to(base).as_posix(), str(path)))
    return sources


def _glob_base(pattern: str) -> Path:
    """The folder part of a pattern before its first wildcard: ``images/*/img_???.jpg`` -> ``images``."""
    parts = Path(pattern).parts
    fixed = []
    for part in parts[:-1]:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def _is_image_name(relative: Path) -> bool:
    # Hidden files and folders (.DS_Store, ._photo.jpg from macOS, .git) are never photos a user meant.
    return relative.suffix.lower() in IMAGE_SUFFIXES and not any(part.startswith(".") for part in relative.parts)


def read_source(source: Source, *, timeout: float, max_bytes: int, session: requests.Session | None = None) -> bytes:
    """The bytes of one source; raises a ServiceError subclass with a message a person understands."""
    if source.is_url:
        return fetch_url(source.location, timeout=timeout, max_bytes=max_bytes, session=session)
    try:
        with open(source.location, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise BadRequest(f"cannot read the file: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"the file is larger than the limit of {max_bytes:,} bytes")
    return data


def fetch_url(
    url: str, *, timeout: float, max_bytes: int, session: requests.Session | None = None
) -> bytes:
    """GET an image with a timeout, a size limit (checked while streaming) and a content-type check."""
    getter = session or requests
    try:
        with getter.get(url, timeout=timeout, stream=True, allow_redirects=True) as response:
            if response.status_code != 200:
                raise BadRequest(f"the server answered HTTP {response.status_code} {response.reason or ''}".rstrip())
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if content_type and not content_type.startswith(ACCEPTED_CONTENT_TYPES):
                raise UnsupportedMediaType(f"the URL serves {content_type!r}, not an image")
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise PayloadTooLarge(f"the image is {int(declared):,} bytes; the limit is {max_bytes:,} bytes")
            chunks, size = [], 0
            for chunk in response.iter_content(chunk_size=64 * 1024):
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(f"the download exceeds the limit of {max_bytes:,} bytes")
                chunks.append(chunk)
    except requests.RequestException as exc:
        raise BadRequest(f"cannot fetch the URL: {_request_error(exc)}") from None
    data = b"".join(chunks)
    if not data:
        raise InvalidImage("the URL served an empty body")
    return data


def _request_error(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.ConnectionError):
        return "connection failed"
    return type(exc).__name__ + (f": {exc}" if str(exc) else "")
