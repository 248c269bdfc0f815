"""Decode JPEG and PNG bytes into 8-bit OpenCV arrays, safely.

Why the care: the service decodes bytes from strangers. The pixel count and the number of bytes the decoder
will allocate (width x height x channels x bytes per sample, at the scale it will decode) are read from the file
header and checked *before* decoding, so a decompression bomb (a tiny file that claims 50 000 x 50 000 pixels,
or a 273 KiB 16-bit RGBA PNG of 6000 x 6000 that decodes to 288 MB) costs nothing. Large JPEGs are decoded at
1/2, 1/4 or 1/8 resolution when the model needs far fewer pixels (the DCT scales almost for free); PNG has no
such mode, so a PNG without transparency is decoded straight to 8-bit grayscale or BGR by libpng, and only a
transparent one is decoded with its alpha (and 16-bit samples, if it has them) to be composited on white with
8-bit arithmetic. JPEG EXIF orientation is honoured.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

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


# Decoded bytes allowed by default: four requests at this size, with their copies, keep a worker near 300 MB.
DEFAULT_MAX_DECODED_BYTES = 24 * 1024 * 1024
# PNG colour type -> samples per pixel as decoded (a palette expands to RGB).
_PNG_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}


@dataclass(frozen=True)
class ImageHeader:
    """What the file header says: enough to know the decoder's allocation before decoding anything."""

    format: ImageFormat
    width: int
    height: int
    channels: int  # samples per pixel in the file (alpha included; a palette counts as RGB)
    bits: int  # bits per sample
    alpha: bool


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


def read_header(data: bytes, fmt: ImageFormat | None = None) -> ImageHeader:
    """Size, channels, bit depth and transparency from the header alone, without decoding pixels."""
    fmt = fmt or sniff_format(data)
    if fmt is ImageFormat.JPEG:
        width, height, bits, channels = _jpeg_frame(data)
        return ImageHeader(fmt, width, height, channels, bits, alpha=False)
    width, height = image_size(data, fmt)
    if len(data) < 26:
        raise InvalidImage("the PNG file is truncated or corrupt (short IHDR header)")
    bits, colour_type = data[24], data[25]
    if colour_type not in _PNG_CHANNELS or bits not in (1, 2, 4, 8, 16):
        raise InvalidImage(f"the PNG header is corrupt (colour type {colour_type}, bit depth {bits})")
    channels = _PNG_CHANNELS[colour_type]
    alpha = colour_type in (4, 6)
    if _png_has_transparency_chunk(data) and not alpha:  # walks (and checks) every chunk, whatever the colour type
        alpha, channels = True, channels + 1
    return ImageHeader(fmt, width, height, channels, 8 if colour_type == 3 else bits, alpha)


def _png_has_transparency_chunk(data: bytes) -> bool:
    """Walk the chunk list: True if a tRNS chunk makes a gray, RGB or palette PNG transparent.

    Every chunk's declared length must fit in the file: OpenCV's PNG reader allocates what a chunk claims, so a
    64 x 64 PNG whose IDAT length was corrupted to 4 GB made a worker allocate gigabytes and spend 20 s (found
    by fuzzing).
    """
    pos, end, transparent = 8, len(data), False
    while pos + 8 <= end:
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if pos + 12 + length > end:
            raise InvalidImage(
                f"the PNG file is truncated or corrupt (its {kind.decode('latin-1')!r} chunk claims {length:,} bytes "
                f"where {max(end - pos - 12, 0):,} remain)"
            )
        if kind == b"tRNS":
            transparent = True
        if kind == b"IEND" and length == 0:  # a malformed IEND does not stop OpenCV's reader: nor this walk
            break
        pos += 12 + length
    return transparent


def _jpeg_size(data: bytes) -> tuple[int, int]:
    width, height, _, _ = _jpeg_frame(data)
    return width, height


def _jpeg_frame(data: bytes) -> tuple[int, int, int, int]:
    """(width, height, bits per sample, components) from the JPEG start-of-frame segment."""
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
            if pos + 10 > end:
                break
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height, data[pos + 4], data[pos + 9]
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
    max_decoded_bytes: int | None = None,
) -> np.ndarray:
    """Decode JPEG/PNG bytes to uint8: HxW when ``grayscale`` else HxWx3 BGR.

    ``min_side``: the smallest side the caller needs; a JPEG much larger than that is decoded at a reduced
    scale (the DCT does the downscaling almost for free), never below ``min_side``.
    ``max_decoded_bytes`` (default ``DEFAULT_MAX_DECODED_BYTES``): the most the decoder may allocate for the
    pixels at the scale it decodes; a larger image answers 413 before any pixel is decoded.
    """
    fmt = sniff_format(data)
    width, height = image_size(data, fmt)
    if width <= 0 or height <= 0:
        raise InvalidImage(f"the image header gives an empty size ({width}x{height})")
    if width * height > max_pixels:
        raise PayloadTooLarge(
            f"the image is {width}x{height} = {width * height:,} pixels; the limit is {max_pixels:,} pixels"
        )
    header = read_header(data, fmt)
    if header.format is ImageFormat.JPEG:
        factor, flag = _jpeg_flag(width, height, grayscale, min_side)
        samples, sample_bytes = (1 if grayscale else 3), 1
    else:
        factor = 1  # libpng decodes at full size; the image is reduced after, strip by strip
        if header.alpha:  # decoded as stored, alpha and 16-bit samples included, then composited
            flag, samples, sample_bytes = cv2.IMREAD_UNCHANGED, header.channels, 2 if header.bits == 16 else 1
        else:  # libpng converts to 8-bit gray or BGR while decoding
            flag = cv2.IMREAD_GRAYSCALE if grayscale else cv2.IMREAD_COLOR
            samples, sample_bytes = (1 if grayscale else 3), 1
    decoded_bytes = -(-width // factor) * -(-height // factor) * samples * sample_bytes
    limit = DEFAULT_MAX_DECODED_BYTES if max_decoded_bytes is None else max_decoded_bytes
    if decoded_bytes > limit:
        raise PayloadTooLarge(
            f"the image would decode to {decoded_bytes:,} bytes ({width}x{height}, {header.channels} channels of "
            f"{header.bits} bits); the limit is {limit:,} decoded bytes"
        )
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flag)
    if image is not None and header.format is ImageFormat.PNG:
        image = _normalise_png(image, grayscale, _reduction(width, height, min_side))
    if image is None or image.size == 0:
        raise InvalidImage(f"the {header.format.value.upper()} file could not be decoded (truncated or corrupt)")
    return image


def _jpeg_flag(width: int, height: int, grayscale: bool, min_side: int | None) -> tuple[int, int]:
    """(scale denominator, imdecode flag). IMREAD_COLOR / IMREAD_GRAYSCALE apply the EXIF orientation;
    IMREAD_UNCHANGED would not."""
    factor = _reduction(width, height, min_side)
    if factor > 1:
        return factor, (_REDUCED_GRAY_FLAGS if grayscale else _REDUCED_FLAGS)[factor]
    return 1, cv2.IMREAD_GRAYSCALE if grayscale else cv2.IMREAD_COLOR


def _reduction(width: int, height: int, min_side: int | None) -> int:
    """The largest of 8, 4, 2 that keeps the smaller side at least ``min_side``; 1 if none does."""
    if min_side:
        for factor in (8, 4, 2):
            if min(width, height) // factor >= min_side:
                return factor
    return 1


def _normalise_png(image: np.ndarray, grayscale: bool, factor: int = 1) -> np.ndarray:
    """8-bit, alpha composited on white, gray or BGR as asked, reduced by ``factor`` (area average).

    Done in strips of about 1 MiB of decoded rows, so the working memory beyond the decoded image stays small
    whatever its size; an 8-bit opaque image at full size (every small upload) is returned as it is.
    """
    if image.dtype not in (np.uint8, np.uint16):
        raise UnsupportedMediaType(f"unsupported PNG sample type {image.dtype}")
    opaque_8_bit = image.dtype == np.uint8 and (image.ndim == 2 or image.shape[2] == 3)
    if factor == 1 and opaque_8_bit:
        return _normalise_strip(image, grayscale)
    height, width = image.shape[0] - image.shape[0] % factor, image.shape[1] - image.shape[1] % factor
    if height == 0 or width == 0:
        factor, height, width = 1, image.shape[0], image.shape[1]
    image = image[:height, :width]
    out = np.empty((height // factor, width // factor) + (() if grayscale else (3,)), np.uint8)
    row_bytes = width * (image.shape[2] if image.ndim == 3 else 1) * image.itemsize
    rows = max(factor, (1 << 20) // row_bytes // factor * factor)
    for top in range(0, height, rows):
        strip = _normalise_strip(image[top : top + rows], grayscale)
        if factor > 1:
            strip = cv2.resize(strip, (width // factor, strip.shape[0] // factor), interpolation=cv2.INTER_AREA)
        out[top // factor : top // factor + strip.shape[0]] = strip
    return out


def _normalise_strip(image: np.ndarray, grayscale: bool) -> np.ndarray:
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 4:
        image = _composite_on_white(cv2.cvtColor(image, cv2.COLOR_BGRA2BGR), image[:, :, 3])
    elif image.ndim == 3 and image.shape[2] == 2:  # gray + alpha
        image = _composite_on_white(cv2.cvtColor(np.ascontiguousarray(image[:, :, 0]), cv2.COLOR_GRAY2BGR),
                                    image[:, :, 1])
    if grayscale and image.ndim == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if not grayscale and image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return image


def _composite_on_white(bgr: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Transparent pixels become white paper: a digit drawn on a transparent canvas is dark ink on light.

    ``255 - (255 - colour) * alpha / 255`` in 8-bit arithmetic, in place: a float version needs three float32
    copies of the image, twelve times its 8-bit size.
    """
    cv2.bitwise_not(bgr, dst=bgr)
    cv2.multiply(bgr, cv2.cvtColor(np.ascontiguousarray(alpha), cv2.COLOR_GRAY2BGR), dst=bgr, scale=1 / 255)
    cv2.bitwise_not(bgr, dst=bgr)
    return bgr
