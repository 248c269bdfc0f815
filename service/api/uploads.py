"""Reading the image bytes out of a request: multipart field ``image`` or the raw body."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from flask import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser
from werkzeug.http import parse_options_header

from service.errors import BadRequest, InvalidImage, PayloadTooLarge, UnsupportedMediaType

RAW_TYPES = frozenset({"image/png", "image/jpeg", "image/jpg", "application/octet-stream"})
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg"})
# RFC 2046 section 5.1.1: characters from a small ASCII set, not ending with a space. Its 70-character limit is
# relaxed to 100: werkzeug's own test client sometimes makes boundaries of 71-72 characters.
_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,99}[0-9A-Za-z'()+_,\-./:=?]")


def multipart_image(request: Request, check_extension: bool = False) -> bytes:
    """The bytes of the form field ``image``; ``check_extension`` rejects names that are not .png/.jpg/.jpeg."""
    part = _image_part(request)
    if part is None:
        raise BadRequest("no file in the form field 'image' (send multipart/form-data with image=@file)")
    filename, data = part
    if check_extension and filename:
        dot = filename.rfind(".")
        extension = filename[dot:].lower() if dot >= 0 else ""
        if extension not in IMAGE_EXTENSIONS:
            raise UnsupportedMediaType(
                f"file {filename!r} does not have a .png, .jpg or .jpeg extension"
            )
    if not data:
        raise InvalidImage("the uploaded file 'image' is empty")
    return data


def _image_part(request: Request) -> tuple[str, bytes] | None:
    """(filename, bytes) of the first file part named ``image``, or None."""
    return next(_image_parts(request), None)


def _image_parts(request: Request) -> Iterator[tuple[str, bytes]]:
    """(filename, bytes) of each file part named ``image``, in order; stops quietly at a malformed body.

    Why python-multipart's parser, not ``request.files`` or werkzeug's own decoder: werkzeug compiles two regular
    expressions around each request's boundary, and clients (curl, requests, browsers) make a new random boundary
    per request, so Python's pattern cache never helps: 150-290 us of CPU per upload, more than the digit network
    itself; it also scans a whole body with one of them (~8 ms for a 1 MB photo). python-multipart finds the
    boundary with plain byte searches: about 25 us for a digit, 0.2 ms for 1 MB. Limits are Flask's:
    ``MAX_CONTENT_LENGTH`` (413) and ``max_form_parts`` (413 naming it); a malformed body reads as "no image" from
    where it breaks, as ``request.files`` would.
    """
    # One parse of Content-Type (``request.mimetype`` and ``mimetype_params`` would parse it once each).
    mimetype, params = parse_options_header(request.headers.get("Content-Type", ""))
    boundary = params.get("boundary") if mimetype.lower() == "multipart/form-data" else None
    if not boundary:
        return
    if not _BOUNDARY.fullmatch(boundary):
        raise BadRequest("the multipart boundary is malformed: 1 to 100 ASCII letters, digits or '()+_,-./:=? '")
    form = _ImageParts(request.max_form_parts)
    parser = MultipartParser(boundary, form.callbacks())
    try:
        parser.write(read_body(request))
        parser.finalize()
    except MultipartParseError:
        pass
    yield from form.images


class _ImageParts:
    """python-multipart's callbacks, keeping the file parts named ``image``."""

    def __init__(self, limit: int | None) -> None:
        self.limit, self.count = limit, 0
        self.images: list[tuple[str, bytes]] = []
        self._field = b""
        self._disposition = b""
        self._chunks: list[bytes] = []

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {"on_part_begin": self._begin, "on_header_field": self._header_field,
                "on_header_value": self._header_value, "on_header_end": self._header_end, "on_part_data": self._data,
                "on_part_end": self._end}

    def _begin(self) -> None:
        self.count += 1
        if self.limit is not None and self.count > self.limit:
            raise PayloadTooLarge(f"the form has more than {self.limit:,} parts; send the image in the field 'image'")
        self._field, self._disposition, self._chunks = b"", b"", []

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        if self._field.lower() == b"content-disposition":
            self._disposition += data[start:end]

    def _header_end(self) -> None:
        self._field = b""

    def _data(self, data: bytes, start: int, end: int) -> None:
        self._chunks.append(data[start:end])

    def _end(self) -> None:
        _, options = parse_options_header(self._disposition.decode("utf-8", "replace"))
        if options.get("name") == "image" and "filename" in options:
            self.images.append((options["filename"], b"".join(self._chunks)))


def read_body(request: Request) -> bytes:
    """The whole request body; 413 when it is over the limit, also for a chunked body (no Content-Length).

    Why: for a body without Content-Length, werkzeug stops reading at ``MAX_CONTENT_LENGTH`` and returns the
    truncated bytes silently, which then read as a corrupt image.
    """
    data = request.get_data(cache=False)
    limit = request.max_content_length
    if limit is not None and request.content_length is None and len(data) >= limit:
        if request.environ["wsgi.input"].read(1):
            raise PayloadTooLarge(f"the request body is larger than the limit of {limit:,} bytes")
    return data


def request_images(request: Request) -> list[bytes]:
    """Every image of a request: each multipart ``image`` part in order, or the raw body as one image."""
    if request.mimetype != "multipart/form-data":
        return [request_image(request)]
    images = [data for _, data in _image_parts(request)]
    if not images:
        raise BadRequest("no file in the form field 'image' (send multipart/form-data with image=@file)")
    for number, data in enumerate(images, 1):
        if not data:
            raise InvalidImage(f"the uploaded file 'image' number {number} is empty")
    return images


def request_image(request: Request) -> bytes:
    """The image from a raw body (image/png, image/jpeg, application/octet-stream) or multipart ``image``."""
    if request.mimetype == "multipart/form-data":
        return multipart_image(request)
    if request.mimetype not in RAW_TYPES:
        shown = request.mimetype or "none"
        raise UnsupportedMediaType(
            f"Content-Type {shown} is not supported; send image/png, image/jpeg, application/octet-stream "
            "or multipart/form-data with the field 'image'"
        )
    data = read_body(request)
    if not data:
        raise InvalidImage("the request body is empty; send the image bytes")
    return data
