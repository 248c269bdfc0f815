"""Reading the image bytes out of a request: multipart field ``image`` or the raw body."""

from __future__ import annotations

from flask import Request

from service.errors import BadRequest, InvalidImage, UnsupportedMediaType

RAW_TYPES = frozenset({"image/png", "image/jpeg", "image/jpg", "application/octet-stream"})
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg"})


def multipart_image(request: Request, check_extension: bool = False) -> bytes:
    """The bytes of the form field ``image``; ``check_extension`` rejects names that are not .png/.jpg/.jpeg."""
    upload = request.files.get("image")
    if upload is None:
        raise BadRequest("no file in the form field 'image' (send multipart/form-data with image=@file)")
    if check_extension and upload.filename:
        dot = upload.filename.rfind(".")
        extension = upload.filename[dot:].lower() if dot >= 0 else ""
        if extension not in IMAGE_EXTENSIONS:
            raise UnsupportedMediaType(
                f"file {upload.filename!r} does not have a .png, .jpg or .jpeg extension"
            )
    data = upload.read()
    if not data:
        raise InvalidImage("the uploaded file 'image' is empty")
    return data


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
    data = request.get_data(cache=False)
    if not data:
        raise InvalidImage("the request body is empty; send the image bytes")
    return data
