"""Decoding untrusted bytes: formats, header sizes, limits, EXIF, bit depth, alpha, reduced decoding."""

from __future__ import annotations

import struct

import cv2
import numpy as np
import pytest

from service.errors import InvalidImage, PayloadTooLarge, UnsupportedMediaType
from service.preprocessing import ImageFormat, decode_image, image_size, sniff_format, to_rgb_input
from tests.conftest import encode


def with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """Insert an APP1 EXIF segment carrying only the orientation tag (0x0112) after the SOI marker."""
    ifd = struct.pack(">H", 1) + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0)
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + ifd
    payload = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def gradient(h: int, w: int) -> np.ndarray:
    return np.tile(np.linspace(0, 255, w, dtype=np.uint8), (h, 1))


def test_sniff_by_magic_not_name():
    assert sniff_format(encode(gradient(4, 4), ".png")) is ImageFormat.PNG
    assert sniff_format(encode(gradient(4, 4), ".jpg")) is ImageFormat.JPEG
    with pytest.raises(UnsupportedMediaType):
        sniff_format(encode(gradient(4, 4), ".bmp"))
    with pytest.raises(InvalidImage):
        sniff_format(b"")


@pytest.mark.parametrize("ext", [".png", ".jpg"])
@pytest.mark.parametrize("progressive", [False, True])
def test_header_size_matches_pixels(ext, progressive):
    params = [cv2.IMWRITE_JPEG_PROGRESSIVE, int(progressive)] if ext == ".jpg" else []
    data = encode(gradient(37, 91), ext, params)
    assert image_size(data) == (91, 37)


def test_pixel_limit_checked_before_decoding():
    data = encode(gradient(100, 200), ".png")
    assert decode_image(data, max_pixels=20_000).shape == (100, 200, 3)
    with pytest.raises(PayloadTooLarge, match="20,000 pixels"):
        decode_image(data, max_pixels=19_999)


@pytest.mark.parametrize(
    "data",
    [b"\x89PNG\r\n\x1a\n", b"\x89PNG\r\n\x1a\n" + b"\0" * 40, b"\xff\xd8\xff\xe0\x00\x10JFIF", b"\xff\xd8\xff" + b"\x00" * 50],
)
def test_truncated_files_are_invalid(data):
    with pytest.raises(InvalidImage):
        decode_image(data)


def test_truncated_pixel_data_is_invalid():
    data = encode(gradient(64, 64), ".png")
    with pytest.raises(InvalidImage):
        decode_image(data[: len(data) // 2])


def test_grayscale_and_colour_outputs():
    data = encode(np.dstack([gradient(10, 20)] * 3), ".png")
    assert decode_image(data, grayscale=True).shape == (10, 20)
    assert decode_image(encode(gradient(10, 20), ".png")).shape == (10, 20, 3)


def test_16_bit_png_becomes_8_bit():
    image16 = (gradient(8, 256).astype(np.uint16) * 257)
    decoded = decode_image(encode(image16, ".png"), grayscale=True)
    assert decoded.dtype == np.uint8
    np.testing.assert_array_equal(decoded, gradient(8, 256))


def test_transparent_png_is_composited_on_white():
    rgba = np.zeros((10, 10, 4), np.uint8)  # fully transparent black
    rgba[4:6, 4:6] = (0, 0, 0, 255)  # an opaque black dot
    decoded = decode_image(encode(rgba, ".png"), grayscale=True)
    assert decoded[0, 0] == 255 and decoded[5, 5] == 0


def test_exif_orientation_is_applied():
    image = np.zeros((40, 80, 3), np.uint8)
    image[:, :40] = 255  # left half white
    jpeg = with_exif_orientation(encode(image, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, 95]), 6)  # rotate 90 cw
    decoded = decode_image(jpeg, grayscale=True)
    assert decoded.shape == (80, 40)
    assert decoded[:40].mean() > 200 and decoded[40:].mean() < 50  # the white half is now on top


def test_reduced_resolution_decoding_never_below_min_side():
    data = encode(np.dstack([gradient(800, 1000)] * 3), ".jpg")
    assert decode_image(data, min_side=180).shape[:2] == (200, 250)  # 1/4 scale keeps >= 180
    assert decode_image(data, min_side=500).shape[:2] == (800, 1000)  # 1/2 would give 400 < 500
    assert decode_image(data).shape[:2] == (800, 1000)


def test_rgb_input_is_squashed_rgb_float():
    bgr = np.zeros((50, 100, 3), np.uint8)
    bgr[..., 2] = 200  # red in BGR
    out = to_rgb_input(bgr, (30, 40))
    assert out.shape == (30, 40, 3) and out.dtype == np.float32
    assert out[..., 0].min() == 200 and out[..., 2].max() == 0
    assert to_rgb_input(np.zeros((5, 5), np.uint8), (8, 8)).shape == (8, 8, 3)


def test_decoded_bytes_limit_counts_bit_depth_and_channels_from_the_header():
    """A 16-bit RGBA 6000x6000 PNG (36 Mpx, under the pixel limit) would decode to 288 MB: refused unread."""
    from tests.images import png_header_only

    with pytest.raises(PayloadTooLarge, match=r"288,000,000 bytes .*4 channels of 16 bits.*25,165,824 decoded bytes"):
        decode_image(png_header_only(6000, 6000, bits=16, colour_type=6))
    # The same size in 8-bit gray needs 36 MB for a grayscale decode: over a 30 MB limit, under a 40 MB one.
    with pytest.raises(PayloadTooLarge):
        decode_image(png_header_only(6000, 6000, bits=8, colour_type=0), grayscale=True, max_decoded_bytes=30_000_000)
    with pytest.raises(InvalidImage):  # passes the limit, then fails on the missing pixels
        decode_image(png_header_only(6000, 6000, bits=8, colour_type=0), grayscale=True, max_decoded_bytes=40_000_000)


def test_jpeg_decoded_bytes_are_counted_at_the_reduced_scale():
    data = encode(np.dstack([gradient(800, 1000)] * 3), ".jpg")
    with pytest.raises(PayloadTooLarge):
        decode_image(data, max_decoded_bytes=800 * 1000 * 3 - 1)
    assert decode_image(data, min_side=180, max_decoded_bytes=200 * 250 * 3).shape == (200, 250, 3)


def test_large_png_is_reduced_by_area_average_when_the_caller_needs_fewer_pixels():
    image = np.random.default_rng(0).integers(0, 255, (1600, 2002), np.uint8)
    decoded = decode_image(encode(image, ".png"), grayscale=True, min_side=320)
    assert decoded.shape == (400, 500)  # 1/4 keeps >= 320; the 2 odd columns are dropped
    expected = cv2.resize(image[:, :2000], (500, 400), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(decoded, expected)


@pytest.mark.parametrize("bits, colour_type, row, extra", [
    (16, 6, b"\x00\x00\x00\x00\x00\x00\x80\x00" * 4, b""),  # 16-bit RGBA, half-transparent black
    (8, 4, b"\x00\x80" * 4, b""),  # gray + alpha
    (16, 4, b"\x00\x00\x80\x00" * 4, b""),  # 16-bit gray + alpha
    (8, 3, b"\x00" * 4, b"PLTE"),  # palette with a transparent entry
])
def test_transparent_pngs_of_every_colour_model_composite_on_white(bits, colour_type, row, extra):
    from tests.images import png, png_chunk

    chunks = png_chunk(b"PLTE", b"\x00\x00\x00") + png_chunk(b"tRNS", b"\x80") if extra else b""
    decoded = decode_image(png(4, 4, bits, colour_type, row, chunks), grayscale=True)
    assert decoded.shape == (4, 4) and 120 <= int(decoded[0, 0]) <= 135  # black at half opacity on white: mid gray
    big = decode_image(png(4, 4, bits, colour_type, row, chunks))
    assert big.shape == (4, 4, 3)
