"""Generate ``test-data/``: photo-like digit images with known labels, plus edge-case and broken files.

Why generated and not collected: nobody on the project can take a few hundred phone photos, and a seeded script
gives the same files on every run, documents how each file was made, and can be extended when a new failure shows
up. Two separately seeded sets are written:

* ``photos/`` (recipe ``tuned``): ruled paper, gradients/vignetting/soft shadows; the preprocessing was tuned on it.
* ``unseen/`` (recipe ``unseen``): other fonts, other MNIST digits, squared/plain paper, flash hot spots, hard
  shadows, pencil and ballpoint ink. It stands for "real photos nobody tuned on": look at its score, not its images.

Digit shapes come from MNIST *test*-set digits (upsampled, smoothed, thresholded into ink strokes; the two sets use
disjoint halves of the test set) and from OpenCV Hershey fonts with random stroke width, slant and elastic jitter.

Usage (from the repository root; needs ``../shared/data/mnist/mnist.npz``)::

    .venv/bin/python test-data/make_test_data.py
"""

from __future__ import annotations

import argparse
import csv
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_MNIST = HERE.parent.parent / "shared" / "data" / "mnist" / "mnist.npz"

FONTS = {
    "simplex": cv2.FONT_HERSHEY_SIMPLEX,
    "plain": cv2.FONT_HERSHEY_PLAIN,
    "duplex": cv2.FONT_HERSHEY_DUPLEX,
    "complex": cv2.FONT_HERSHEY_COMPLEX,
    "triplex": cv2.FONT_HERSHEY_TRIPLEX,
    "script_simplex": cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
    "script_complex": cv2.FONT_HERSHEY_SCRIPT_COMPLEX,
}


@dataclass(frozen=True)
class Recipe:
    """How one set of photos looks; each field is one way the two sets differ."""

    name: str
    seed: int
    count: int
    mnist_share: float  # fraction of digits drawn from MNIST test digits (the rest from fonts)
    mnist_range: tuple[int, int]  # MNIST test indices this set may use
    fonts: tuple[str, ...]
    italic_share: float
    papers: tuple[tuple[int, int, int], ...]  # BGR tints
    inks: tuple[tuple[int, int, int], ...]  # BGR ink colours
    ruling: str  # "ruled" (horizontal rules, red margin) or "squared" (grid) / plain mix
    lighting: str  # "soft" (gradient, vignette, soft shadow) or "flash" (hot spot, hard shadow, colour cast)
    table_share: float  # fraction of photos where the table shows beyond the paper's edge
    perspective: float  # maximum corner displacement, fraction of the image side
    stroke: tuple[float, float]  # pen width as a fraction of the digit height


TUNED = Recipe(
    name="tuned",
    seed=20261122,
    count=120,
    mnist_share=0.5,
    mnist_range=(0, 5000),
    fonts=("simplex", "plain", "duplex", "script_simplex"),
    italic_share=0.2,
    papers=((245, 245, 245), (215, 235, 245), (190, 238, 250), (245, 228, 212), (222, 240, 226), (212, 212, 212)),
    inks=((25, 25, 25), (90, 30, 20), (40, 40, 50), (60, 20, 10)),
    ruling="ruled",
    lighting="soft",
    table_share=0.25,
    perspective=0.07,
    stroke=(0.05, 0.16),
)

UNSEEN = Recipe(
    name="unseen",
    seed=77003311,
    count=100,
    mnist_share=0.5,
    mnist_range=(5000, 10000),
    fonts=("complex", "triplex", "script_complex", "simplex"),
    italic_share=0.35,
    papers=((250, 250, 250), (200, 225, 240), (230, 230, 220), (205, 245, 245), (235, 215, 235)),
    inks=((110, 105, 100), (150, 60, 30), (20, 20, 20), (80, 80, 80)),
    ruling="squared",
    lighting="flash",
    table_share=0.3,
    perspective=0.11,
    stroke=(0.04, 0.14),
)


# ---------------------------------------------------------------- digit shapes (float masks in [0, 1])


def mnist_shape(digit28: np.ndarray, height: int, stroke: float, rng: np.random.Generator) -> np.ndarray:
    """An MNIST digit turned into smooth ink strokes ``height`` pixels tall (pen width ~ ``stroke`` x height)."""
    ys, xs = np.nonzero(digit28 > 30)
    crop = digit28[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.float32) / 255.0
    crop = np.pad(crop, 2)
    scale = height / (crop.shape[0] - 4)
    size = (max(3, round(crop.shape[1] * scale)), max(3, round(crop.shape[0] * scale)))
    big = cv2.resize(crop, size, interpolation=cv2.INTER_CUBIC)
    big = cv2.GaussianBlur(big, (0, 0), max(0.8, 0.7 * scale))
    # Thin the MNIST stroke to a skeleton-like core, then draw it with the wanted pen width.
    core = (big > 0.55).astype(np.uint8)
    pen = max(1, round(stroke * height))
    mnist_pen = max(1.0, 0.12 * height)
    if pen < mnist_pen:
        k = max(1, round((mnist_pen - pen) / 2))
        eroded = cv2.erode(core, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)))
        core = eroded if eroded.sum() > 0.25 * core.sum() else core
    elif pen > mnist_pen:
        k = max(1, round((pen - mnist_pen) / 2))
        core = cv2.dilate(core, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)))
    soft = cv2.GaussianBlur(core.astype(np.float32), (0, 0), 0.6 + 0.02 * height * rng.uniform(0.1, 0.5))
    return np.clip((soft - 0.25) * 2.0, 0.0, 1.0)


def font_shape(label: int, height: int, stroke: float, font: str, italic: bool, rng: np.random.Generator) -> np.ndarray:
    """A Hershey-font digit ``height`` pixels tall with a random pen, slant and elastic wobble."""
    ss = 4  # supersampling for anti-aliased edges
    face = FONTS[font] | (cv2.FONT_ITALIC if italic else 0)
    (tw, th), _ = cv2.getTextSize(str(label), face, 1.0, 1)
    font_scale = height * ss / max(th, 1)
    thickness = max(1, round(stroke * height * ss))
    (tw, th), base = cv2.getTextSize(str(label), face, font_scale, thickness)
    pad = thickness + ss * 4
    canvas = np.zeros((th + base + 2 * pad, tw + 2 * pad), np.uint8)
    cv2.putText(canvas, str(label), (pad, pad + th), face, font_scale, 255, thickness, cv2.LINE_AA)
    h, w = canvas.shape
    # Handwriting-like jitter: rotation, shear, anisotropic scale, then a smooth elastic displacement.
    angle, shear = rng.uniform(-10, 10), rng.uniform(-0.25, 0.25)
    sx = rng.uniform(0.8, 1.15)
    rot = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    affine = rot @ np.array([[sx, shear, -shear * h / 2 + (1 - sx) * w / 2], [0, 1, 0], [0, 0, 1]])
    canvas = cv2.warpAffine(canvas, affine, (w, h), flags=cv2.INTER_LINEAR)
    dx = cv2.resize(rng.normal(0, 1, (4, 4)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    dy = cv2.resize(rng.normal(0, 1, (4, 4)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    amp = 0.03 * h
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    canvas = cv2.remap(canvas, gx + amp * dx, gy + amp * dy, cv2.INTER_LINEAR)
    ys, xs = np.nonzero(canvas > 40)
    canvas = canvas[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    out_h = height
    out_w = max(2, round(canvas.shape[1] * out_h / canvas.shape[0]))
    return cv2.resize(canvas, (out_w, out_h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


# ---------------------------------------------------------------- paper, light, camera


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], cells: int = 5) -> np.ndarray:
    """A smooth random field in about [-1, 1] (paper texture, uneven light)."""
    coarse = rng.normal(0, 1, (cells, cells)).astype(np.float32)
    return np.clip(cv2.resize(coarse, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC) / 2, -1, 1)


def draw_paper(rng: np.random.Generator, recipe: Recipe, shape: tuple[int, int], digit_h: int) -> tuple[np.ndarray, list[str]]:
    h, w = shape
    tint = np.array(recipe.papers[rng.integers(len(recipe.papers))], np.float32)
    paper = np.ones((h, w, 3), np.float32) * tint
    paper *= (1 + 0.03 * smooth_field(rng, shape, 7))[:, :, None]
    notes = []
    thick = max(1, round(rng.uniform(0.002, 0.006) * max(h, w)))
    if recipe.ruling == "ruled":
        if rng.random() < 0.85:
            spacing = max(8, round(digit_h * rng.uniform(0.55, 1.1)))
            colour = ((215, 160, 120), (190, 180, 175), (225, 190, 150))[rng.integers(3)]
            for y in range(int(rng.integers(spacing)), h, spacing):
                cv2.line(paper, (0, y), (w - 1, y), colour, thick, cv2.LINE_AA)
            notes.append("ruled")
            if rng.random() < 0.4:
                x = int(rng.uniform(0.06, 0.2) * w)
                cv2.line(paper, (x, 0), (x, h - 1), (80, 80, 215), thick + 1, cv2.LINE_AA)
                notes.append("margin")
    else:
        kind = rng.random()
        if kind < 0.6:
            spacing = max(8, round(digit_h * rng.uniform(0.25, 0.5)))
            colour = ((220, 200, 170), (200, 200, 200), (200, 215, 190))[rng.integers(3)]
            gthick = max(1, thick - 1)
            for y in range(int(rng.integers(spacing)), h, spacing):
                cv2.line(paper, (0, y), (w - 1, y), colour, gthick, cv2.LINE_AA)
            for x in range(int(rng.integers(spacing)), w, spacing):
                cv2.line(paper, (x, 0), (x, h - 1), colour, gthick, cv2.LINE_AA)
            notes.append("squared")
        elif kind < 0.8:
            spacing = max(8, round(digit_h * rng.uniform(0.7, 1.2)))
            for y in range(int(rng.integers(spacing)), h, spacing):
                cv2.line(paper, (0, y), (w - 1, y), (200, 200, 200), thick, cv2.LINE_AA)
            notes.append("ruled")
        else:
            notes.append("plain")
    return paper, notes


def place_digit(rng: np.random.Generator, paper: np.ndarray, shape_mask: np.ndarray, ink: np.ndarray, margin: float) -> None:
    """Composite the ink at a random position (not always centred), leaving ``margin`` of the side free."""
    h, w = paper.shape[:2]
    dh, dw = shape_mask.shape
    mx, my = int(margin * w), int(margin * h)
    x0 = int(rng.integers(mx, max(mx + 1, w - mx - dw)))
    y0 = int(rng.integers(my, max(my + 1, h - my - dh)))
    dh, dw = min(dh, h - y0), min(dw, w - x0)
    alpha = rng.uniform(0.85, 1.0) * shape_mask[:dh, :dw, None]
    region = paper[y0 : y0 + dh, x0 : x0 + dw]
    paper[y0 : y0 + dh, x0 : x0 + dw] = region * (1 - alpha) + ink * alpha


def add_specks(rng: np.random.Generator, paper: np.ndarray, count: int) -> None:
    """Dust and dots: they darken the paper but never lighten the ink."""
    h, w = paper.shape[:2]
    dusty = paper.copy()
    for _ in range(count):
        r = max(1, round(rng.uniform(0.001, 0.004) * max(h, w)))
        centre = (int(rng.integers(w)), int(rng.integers(h)))
        shade = float(rng.uniform(60, 160))
        cv2.circle(dusty, centre, r, (shade, shade, shade), -1, cv2.LINE_AA)
    np.minimum(paper, dusty, out=paper)


def camera(rng: np.random.Generator, recipe: Recipe, paper: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Perspective, table beyond the paper edge, uneven light, blur and sensor noise."""
    h, w = paper.shape[:2]
    notes = []
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    jitter = rng.uniform(-recipe.perspective, recipe.perspective, (4, 2)) * [w, h]
    table = rng.random() < recipe.table_share
    if table:
        # Pull one or two sides in, so the table shows along the image edge.
        for side in rng.choice(4, size=int(rng.integers(1, 3)), replace=False):
            inset = rng.uniform(0.04, 0.12)
            idx = {0: [0, 1], 1: [1, 2], 2: [2, 3], 3: [3, 0]}[int(side)]
            axis = 1 if side in (0, 2) else 0
            sign = 1 if side in (0, 3) else -1
            jitter[idx, axis] = sign * inset * (h if axis else w)
        notes.append("table")
    else:
        jitter = np.abs(jitter) * np.sign(src - [w / 2, h / 2])  # corners pushed outwards: paper fills the frame
    dst = (src + jitter).astype(np.float32)
    if np.abs(jitter).max() > 0.02 * max(w, h):
        notes.append("perspective")
    homography = cv2.getPerspectiveTransform(src, dst)
    shade = rng.uniform(40, 110)
    table_bgr = np.array([shade * 0.7, shade * 0.85, shade], np.float32)
    warped = cv2.warpPerspective(paper, homography, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                 borderValue=tuple(float(c) for c in table_bgr))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    u, v = xx / w - 0.5, yy / h - 0.5
    if recipe.lighting == "soft":
        theta = rng.uniform(0, 2 * np.pi)
        light = 1.0 - rng.uniform(0.1, 0.45) * (0.5 + np.cos(theta) * u + np.sin(theta) * v)
        light *= 1.0 - rng.uniform(0.0, 0.6) * (u * u + v * v)
        notes.append("gradient")
        if rng.random() < 0.45:
            a, b, c = rng.normal(size=3)
            shadow = (a * u + b * v + 0.3 * c > 0).astype(np.float32)
            shadow = cv2.GaussianBlur(shadow, (0, 0), rng.uniform(0.04, 0.12) * max(w, h))
            light *= 1.0 - rng.uniform(0.2, 0.45) * shadow
            notes.append("shadow")
    else:
        cx, cy = rng.uniform(-0.3, 0.3, 2)
        spot = np.exp(-((u - cx) ** 2 + (v - cy) ** 2) / rng.uniform(0.02, 0.1))
        light = rng.uniform(0.6, 0.8) + rng.uniform(0.2, 0.45) * spot
        notes.append("flash")
        if rng.random() < 0.5:
            a, b, c = rng.normal(size=3)
            shadow = (a * u + b * v + 0.3 * c > 0).astype(np.float32)
            shadow = cv2.GaussianBlur(shadow, (0, 0), rng.uniform(0.004, 0.02) * max(w, h))
            light *= 1.0 - rng.uniform(0.25, 0.45) * shadow
            notes.append("hard-shadow")
    image = warped * light[:, :, None]
    if recipe.lighting == "flash":
        image *= rng.uniform(0.88, 1.08, 3).astype(np.float32)  # colour cast
    # Sensor noise is mostly smoothed by demosaicing and the lens (blur after it), a little stays pixel-sharp.
    image += rng.normal(0, rng.uniform(2.0, 8.0), image.shape).astype(np.float32)
    sigma = rng.uniform(0.5, 1.6) * max(1.0, max(h, w) / 600)
    image = cv2.GaussianBlur(image, (0, 0), sigma)
    if sigma > 1.0:
        notes.append("blur")
    image += rng.normal(0, rng.uniform(0.5, 2.0), image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8), notes


def make_photo(rng: np.random.Generator, recipe: Recipe, label: int, digits: dict[int, list[np.ndarray]]) -> tuple[np.ndarray, str, list[str]]:
    """One photo-like image of ``label``: (BGR image, source kind, notes)."""
    long_side = int(np.exp(rng.uniform(np.log(200), np.log(2000))))
    aspect = rng.uniform(0.7, 1.0)
    h, w = (long_side, int(long_side * aspect)) if rng.random() < 0.5 else (int(long_side * aspect), long_side)
    digit_h = int(rng.uniform(0.2, 0.55) * min(h, w))
    stroke = rng.uniform(*recipe.stroke)
    if rng.random() < recipe.mnist_share:
        pool = digits[label]
        shape_mask = mnist_shape(pool[int(rng.integers(len(pool)))], digit_h, stroke, rng)
        source = "mnist"
    else:
        font = recipe.fonts[int(rng.integers(len(recipe.fonts)))]
        shape_mask = font_shape(label, digit_h, stroke, font, rng.random() < recipe.italic_share, rng)
        source = f"font:{font}"
    paper, notes = draw_paper(rng, recipe, (h, w), digit_h)
    ink = np.array(recipe.inks[int(rng.integers(len(recipe.inks)))], np.float32)
    place_digit(rng, paper, shape_mask, ink, margin=0.16 if recipe.table_share else 0.08)
    if rng.random() < 0.5:
        add_specks(rng, paper, int(rng.integers(1, 8)))
        notes.append("specks")
    image, cam_notes = camera(rng, recipe, paper)
    return image, source, notes + cam_notes + [f"{w}x{h}", f"pen={stroke:.2f}"]


# ---------------------------------------------------------------- file helpers


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """Insert a minimal EXIF APP1 segment holding only the Orientation tag (0x0112) after SOI."""
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", 1)
    tiff += struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0)
    payload = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(width: int = 60000, height: int = 60000) -> bytes:
    """A valid PNG header claiming ``width`` x ``height`` pixels, with a tiny IDAT: decoding it must be refused."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (width + 1) * 4, 9)  # a few rows only: the header alone must be enough to refuse
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


# ---------------------------------------------------------------- the sets


def load_mnist_test(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as data:
        return data["x_test"], data["y_test"]


def by_label(x: np.ndarray, y: np.ndarray, lo: int, hi: int) -> dict[int, list[np.ndarray]]:
    return {d: [x[i] for i in range(lo, hi) if y[i] == d] for d in range(10)}


def write_photo_set(recipe: Recipe, folder: Path, x: np.ndarray, y: np.ndarray) -> list[list[str]]:
    rng = np.random.default_rng(recipe.seed)
    digits = by_label(x, y, *recipe.mnist_range)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(recipe.count):
        label = i % 10
        image, source, notes = make_photo(rng, recipe, label, digits)
        if max(image.shape) < 300 and rng.random() < 0.5:
            coarse = image & 0xFC  # 6-bit samples: the sensor's noise would otherwise make lossless files large
            name, data = f"{recipe.name}-{i:03d}.png", cv2.imencode(".png", coarse)[1].tobytes()
        else:
            quality = int(rng.integers(35, 86))
            if max(image.shape) > 900:  # phones save large photos at high quality; this keeps the repository small
                quality = min(quality, 50)
            name, data = f"{recipe.name}-{i:03d}.jpg", encode_jpeg(image, quality)
        (folder / name).write_bytes(data)
        rows.append([name, str(label), f"photo-{source.split(':')[0]}", ";".join([source, *notes])])
    return rows


def write_special(folder: Path, x: np.ndarray, y: np.ndarray) -> list[list[str]]:
    """Files that exercise the decoder and the MNIST pass-through: each row is (file, label, kind, notes)."""
    rng = np.random.default_rng(424242)
    rows: list[list[str]] = []
    special = folder / "special"
    special.mkdir(parents=True, exist_ok=True)
    # MNIST-style 28x28 white-on-black PNGs (the first test digit of each class): must pass through unchanged.
    for d in range(10):
        idx = int(np.nonzero(y == d)[0][0])
        name = f"special/mnist28-{d}.png"
        cv2.imwrite(str(folder / name), x[idx])
        rows.append([name, str(d), "mnist28", f"mnist-test-index={idx}"])
    digits = by_label(x, y, 0, 5000)
    # A dark digit on a transparent canvas (RGBA; colour is meaningless where alpha is 0).
    for d in (2, 7):
        shape = mnist_shape(digits[d][3], 160, 0.1, rng)
        sh, sw = shape.shape
        canvas = np.zeros((sh + 80, sw + 80, 4), np.uint8)
        canvas[:, :, :3] = (255, 0, 0)  # fully transparent blue: only alpha says where ink is
        canvas[40 : 40 + sh, 40 : 40 + sw, :3] = np.where(shape[:, :, None] > 0, 20, 255)
        canvas[40 : 40 + sh, 40 : 40 + sw, 3] = (shape * 255).astype(np.uint8)
        name = f"special/alpha-{d}.png"
        cv2.imwrite(str(folder / name), canvas)
        rows.append([name, str(d), "alpha", "dark digit on a transparent canvas"])
    # 16-bit grayscale and 16-bit colour PNGs of a photo.
    for d, colour in ((3, False), (8, True)):
        image, source, notes = make_photo(rng, TUNED, d, digits)
        image = cv2.resize(image, (300, int(300 * image.shape[0] / image.shape[1])), interpolation=cv2.INTER_AREA)
        image = cv2.GaussianBlur(image, (0, 0), 0.8)  # keeps the lossless file small
        if not colour:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        name = f"special/png16-{'rgb' if colour else 'gray'}-{d}.png"
        cv2.imwrite(str(folder / name), image.astype(np.uint16) * 257)
        rows.append([name, str(d), "png16", ";".join([source, *notes])])
    # JPEGs stored sideways/upside down with an EXIF orientation tag that says how to show them upright.
    rotations = {6: cv2.ROTATE_90_COUNTERCLOCKWISE, 3: cv2.ROTATE_180, 8: cv2.ROTATE_90_CLOCKWISE}
    for d, (orientation, rotate) in zip((4, 6, 9), rotations.items()):
        image, source, notes = make_photo(rng, TUNED, d, digits)
        image = cv2.resize(image, (640, int(640 * image.shape[0] / image.shape[1])), interpolation=cv2.INTER_AREA)
        name = f"special/exif{orientation}-{d}.jpg"
        (folder / name).write_bytes(with_exif_orientation(encode_jpeg(cv2.rotate(image, rotate), 85), orientation))
        rows.append([name, str(d), "exif", f"orientation={orientation};" + ";".join([source, *notes])])
    # Not a digit: blank ruled paper and a colourful "scene"; a classifier must not crash on them.
    paper, _ = draw_paper(rng, TUNED, (600, 800), 120)
    blank, _ = camera(rng, TUNED, paper)
    (folder / "special/nodigit-blank-paper.jpg").write_bytes(encode_jpeg(blank, 80))
    rows.append(["special/nodigit-blank-paper.jpg", "", "not-a-digit", "ruled paper without a digit"])
    scene = np.zeros((480, 640, 3), np.float32)
    for c in range(3):
        scene[:, :, c] = 128 + 100 * smooth_field(rng, (480, 640), 6)
    for _ in range(12):
        centre = (int(rng.integers(640)), int(rng.integers(480)))
        axes = (int(rng.integers(20, 120)), int(rng.integers(20, 120)))
        cv2.ellipse(scene, centre, axes, float(rng.uniform(0, 180)), 0, 360, rng.uniform(0, 255, 3).tolist(), -1)
    scene += rng.normal(0, 8, scene.shape)
    (folder / "special/nodigit-scene.jpg").write_bytes(encode_jpeg(np.clip(scene, 0, 255).astype(np.uint8), 85))
    rows.append(["special/nodigit-scene.jpg", "", "not-a-digit", "coloured blobs, a stand-in for a dog photo"])
    return rows


def write_broken(folder: Path) -> list[list[str]]:
    """Files that must be refused with a clear error; the kind says which error."""
    rng = np.random.default_rng(1234)
    broken = folder / "broken"
    broken.mkdir(parents=True, exist_ok=True)
    good = encode_jpeg(np.full((300, 300, 3), 200, np.uint8), 90)
    header_end = good.index(b"\xff\xda")  # start of scan: everything before is headers
    files = {
        "empty.png": (b"", "broken-empty"),
        "truncated-header.jpg": (good[: header_end // 3], "broken-truncated"),
        "truncated-before-scan.jpg": (good[:header_end], "broken-truncated"),
        "text.png": (b"this is a text file, not a PNG image\n", "broken-not-image"),
        "random.jpg": (rng.integers(0, 256, 2048, dtype=np.uint8).tobytes(), "broken-not-image"),
        "random-after-jpeg-magic.jpg": (b"\xff\xd8\xff" + rng.integers(0, 256, 2048, dtype=np.uint8).tobytes(),
                                        "broken-corrupt"),
        "bomb.png": (bomb_png(), "broken-too-large"),
    }
    rows = []
    for name, (data, kind) in files.items():
        (broken / name).write_bytes(data)
        rows.append([f"broken/{name}", "", kind, ""])
    return rows


def write_labels(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["file", "label", "kind", "notes"])
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mnist", type=Path, default=DEFAULT_MNIST, help="mnist.npz with x_test/y_test")
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: this script's folder)")
    args = parser.parse_args(argv)
    x, y = load_mnist_test(args.mnist)
    rows = write_photo_set(TUNED, args.out / "photos", x, y)
    rows = [[f"photos/{r[0]}", *r[1:]] for r in rows]
    rows += write_special(args.out, x, y)
    rows += write_broken(args.out)
    write_labels(args.out / "labels.csv", rows)
    write_labels(args.out / "unseen" / "labels.csv", write_photo_set(UNSEEN, args.out / "unseen", x, y))


if __name__ == "__main__":
    main()
