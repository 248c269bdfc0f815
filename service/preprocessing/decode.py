"""Decode JPEG and PNG bytes into 8-bit OpenCV arrays, safely.

Why the care: the service decodes bytes from strangers. The pixel count is read from the file header and
checked *before* decoding, so a decompression bomb (a tiny file that claims 50 000 x 50 000 pixels) costs
nothing. 16-bit and transparent PNGs are brought to 8-bit on white, JPEG EXIF orientation is honoured, and
large JPEGs can be decoded at 1/2, 1/4 or 1/8 resolution when the model needs far fewer pixels.
"""

from __future__ import annotations

import enum
import struct

import cv2
import numpy as np

from service.errors import InvalidImage, PayloadTooLarge, UnsupportedMediaType


class ImageFormat(enum.Enum):
    JPEG = "jpeg"
    PNG = "png"


_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers carry the image size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_REDUCED_FLAGS = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}
_REDUCED_GRAY_FLAGS = {
    2: cv2.IMREAD_REDUCED_GRAYSCALE_2,
    4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
    8: cv2.IMREAD_REDUCED_GRAYSCALE_8,
}


def sniff_format(data: bytes) -> ImageFormat:
    """Tell the format from the magic bytes; the file name and Content-Type are not trusted."""
    if not data:
        raise InvalidImage("the image is empty (0 bytes)")
    if data.startswith(_PNG_MAGIC):
        return ImageFormat.PNG
    if data.startswith(b"\xff\xd8\xff"):
        return ImageFormat.JPEG
    raise UnsupportedMediaType("unsupported image format: only JPEG and PNG images are accepted")


def image_size(data: bytes, fmt: ImageFormat | None = None) -> tuple[int, int]:
    """(width, height) from the header alone, without decoding pixels."""
    fmt = fmt or sniff_format(data)
    if fmt is ImageFormat.PNG:
        if len(data) < 24 or data[12:16] != b"IHDR":
            raise InvalidImage("the PNG file is truncated or corrupt (no IHDR header)")
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    return _jpeg_size(data)


def _jpeg_size(data: bytes) -> tuple[int, int]:
    pos, end = 2, len(data)
    while pos + 4 <= end:
        if data[pos] != 0xFF:
            raise InvalidImage("the JPEG file is corrupt (bad marker)")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in _JPEG_SOF:
            if pos + 9 > end:
                break
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height
        if marker == 0xD9 or length < 2:
            break
        pos += 2 + length
    raise InvalidImage("the JPEG file is truncated or corrupt (no frame header)")


def decode_image(
    data: bytes,
    *,
    max_pixels: int = 40_000_000,
    grayscale: bool = False,
    min_side: int | None = None,
) -> np.ndarray:
    """Decode JPEG/PNG bytes to uint8: HxW when ``grayscale`` else HxWx3 BGR.

    ``min_side``: the smallest side the caller needs; a JPEG much larger than that is decoded at a reduced
    scale (the DCT does the downscaling almost for free), never below ``min_side``.
    """
    fmt = sniff_format(data)
    width, height = image_size(data, fmt)
    if width <= 0 or height <= 0:
        raise InvalidImage(f"the image header gives an empty size ({width}x{height})")
    if width * height > max_pixels:
        raise PayloadTooLarge(
            f"the image is {width}x{height} = {width * height:,} pixels; the limit is {max_pixels:,} pixels"
        )
    buf = np.frombuffer(data, dtype=np.uint8)
    if fmt is ImageFormat.JPEG:
        image = cv2.imdecode(buf, _jpeg_flag(width, height, grayscale, min_side))
    else:
        image = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
        if image is not None:
            image = _normalise_png(image, grayscale)
    if image is None or image.size == 0:
        raise InvalidImage(f"the {fmt.value.upper()} file could not be decoded (truncated or corrupt)")
    return image


def _jpeg_flag(width: int, height: int, grayscale: bool, min_side: int | None) -> int:
    # IMREAD_COLOR / IMREAD_GRAYSCALE apply the EXIF orientation; IMREAD_UNCHANGED would not.
    if min_side:
        for factor in (8, 4, 2):
            if min(width, height) // factor >= min_side:
                return (_REDUCED_GRAY_FLAGS if grayscale else _REDUCED_FLAGS)[factor]
    return cv2.IMREAD_GRAYSCALE if grayscale else cv2.IMREAD_COLOR


def _normalise_png(image: np.ndarray, grayscale: bool) -> np.ndarray:
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise UnsupportedMediaType(f"unsupported PNG sample type {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 4:
        image = _composite_on_white(image)
    elif image.ndim == 3 and image.shape[2] == 2:  # gray + alpha
        image = _composite_on_white(cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2BGR), alpha=image[:, :, 1])
    if grayscale and image.ndim == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if not grayscale and image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return image


def _composite_on_white(bgra: np.ndarray, alpha: np.ndarray | None = None) -> np.ndarray:
    """Transparent pixels become white paper: a digit drawn on a transparent canvas is dark ink on light."""
    if alpha is None:
        alpha = bgra[:, :, 3]
    a = alpha.astype(np.float32)[:, :, None] / 255.0
    colour = bgra[:, :, :3].astype(np.float32)
    return (colour * a + 255.0 * (1.0 - a) + 0.5).astype(np.uint8)
