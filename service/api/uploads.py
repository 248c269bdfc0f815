"""Reading the image bytes out of a request: multipart field ``image`` or the raw body."""

from __future__ import annotations

import re
from collections.abc import Iterator

from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from service.errors import BadRequest, InvalidImage, PayloadTooLarge, UnsupportedMediaType

RAW_TYPES = frozenset({"image/png", "image/jpeg", "image/jpg", "application/octet-stream"})
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg"})
# Slices of the body handed to the multipart decoder (see ``_image_parts``).
FEED_BYTES = 16 * 1024
# RFC 2046 section 5.1.1: characters from a small ASCII set, not ending with a space. Its 70-character limit is
# not enforced: werkzeug's own test client sometimes makes boundaries of 71-72 characters.
_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,199}[0-9A-Za-z'()+_,\-./:=?]")


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

    Why not ``request.files``: building it (FileStorage objects, spooled streams, form dicts) costs about half
    again as much CPU as decoding the body with werkzeug's own multipart decoder, and this is the hot path of
    ``/mnist/classify`` (bench/app_cost.py). Limits are Flask's: ``MAX_CONTENT_LENGTH`` (413) and
    ``max_form_parts``; a malformed body reads as "no image", as ``request.files`` would.
    """
    # One parse of Content-Type (``request.mimetype`` and ``mimetype_params`` would parse it once each).
    mimetype, params = parse_options_header(request.headers.get("Content-Type", ""))
    boundary = params.get("boundary") if mimetype.lower() == "multipart/form-data" else None
    if not boundary:
        return
    if not _BOUNDARY.fullmatch(boundary):
        raise BadRequest("the multipart boundary is malformed: 1 to 200 ASCII letters, digits or '()+_,-./:=? '")
    decoder = MultipartDecoder(boundary.encode("ascii"), max_parts=request.max_form_parts)
    body = memoryview(read_body(request))
    offset = 0
    filename: str | None = None
    chunks: list[bytes] = []
    try:
        while True:
            event = decoder.next_event()
            if isinstance(event, NeedData):
                if decoder.complete:
                    return
                # Fed in slices, as a stream: the decoder looks for the closing boundary with a regular expression
                # only in a buffer where a plain search has found it, so a 1 MB photo fed whole cost ~8 ms of
                # CPU in that expression, and in slices the expression only reads the last one.
                decoder.receive_data(body[offset : offset + FEED_BYTES] if offset < len(body) else None)
                offset += FEED_BYTES
                continue
            if isinstance(event, Epilogue):
                return
            if isinstance(event, File):
                filename = event.filename if event.name == "image" else None
                chunks = []
            elif isinstance(event, Field):
                filename = None
            elif isinstance(event, Data) and filename is not None:
                chunks.append(event.data)
                if not event.more_data:
                    yield filename, b"".join(chunks)
                    filename = None
    except ValueError:
        return
    except RequestEntityTooLarge:
        raise PayloadTooLarge(
            f"the form has more than {request.max_form_parts:,} parts; send the image in the field 'image'"
        ) from None


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
