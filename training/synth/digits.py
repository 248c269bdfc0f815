"""Realistic images of one handwritten digit, made from an MNIST training digit.

The mix, chosen to cover what users send (phone photos of paper, canvas drawings, small scans) with extra weight
on ruled and squared paper, where the preprocessing is hardest:

==================  ======  ==========================================================================
kind                share   what
==================  ======  ==========================================================================
``photo-plain``     35 %    phone photo of plain paper (white, beige, grey, bluish, coloured)
``photo-ruled``     17 %    ruled paper: thin blue/grey/black lines across the page every 0.3-1.2 digit
                            heights, the digit on or across them, a red margin line on 30 % of pages
``photo-squared``    8 %    squared paper: a grid every 0.3-0.8 digit heights
``drawing``         30 %    paint program or web canvas, 100-600 px: black on white, white on black,
                            colours; 1-px mouse strokes, anti-aliased thin lines, brushes
``scan``            10 %    28-64 px grey crop of a scanned digit, a little blurred
==================  ======  ==========================================================================

Photos: pens from a 1-pixel ballpoint to a fat marker (width 0.4-20 % of the digit's height, log-uniform, 1 px
at least), pencil on 12 % (grey, grainy); ink blue, black, red, green or purple; light gradients, vignetting,
shadows; the table visible at one edge on 15 %; rotation up to +-15 degrees, mild perspective; the digit 25-90 %
of the short side, touching the edge on 10 %; long side 50-1500 px; blur, sensor noise, JPEG quality 40-95 on
85 %; grey output on 10 %.

The digit's own stroke width does not survive: it is thinned to its centre line and redrawn (``strokes``).
"""

from __future__ import annotations

import cv2
import numpy as np

from training.synth import scene, strokes

KINDS = {"photo-plain": 0.35, "photo-ruled": 0.17, "photo-squared": 0.08, "drawing": 0.30, "scan": 0.10}


def render_digit(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One MNIST digit (uint8 28x28, white on black) -> a decoded-image-like uint8 BGR or gray picture of it."""
    return render_digit_kind(digit, rng)[0]


def render_digit_kind(digit: np.ndarray, rng: np.random.Generator, kind: str | None = None) -> tuple[np.ndarray, str]:
    """Like ``render_digit``, also naming the kind drawn (or rendering the ``kind`` asked for)."""
    if kind is None:
        kind = str(rng.choice(list(KINDS), p=np.array(list(KINDS.values()))))
    path = strokes.digit_path(digit)
    if kind.startswith("photo-"):
        return photo(path, rng, kind.removeprefix("photo-")), kind
    if kind == "drawing":
        return drawing(path, rng), kind
    if kind == "scan":
        return scan(path, rng), kind
    raise ValueError(f"unknown kind {kind!r}; known: {', '.join(KINDS)}")


def _pen_width(rng: np.random.Generator, height: float, lo: float = 0.004, hi: float = 0.2,
               least: float = 0.4) -> float:
    """A pen ``lo``-``hi`` of the digit's height wide (log-uniform), at least ``least`` pixels."""
    return max(least, float(np.exp(rng.uniform(np.log(lo), np.log(hi)))) * height)


def _place(rng: np.random.Generator, segs: np.ndarray, w: int, h: int, edge_chance: float) -> np.ndarray:
    """Moves posed segments (centred on 0) to a random place inside the image; with ``edge_chance`` pushed until
    it touches (or slightly crosses) an edge."""
    pts = segs.reshape(-1, 2)
    lo, hi = pts.min(0), pts.max(0)
    x_range = (-lo[0], w - hi[0])
    y_range = (-lo[1], h - hi[1])
    cx = rng.uniform(*x_range) if x_range[0] < x_range[1] else w / 2
    cy = rng.uniform(*y_range) if y_range[0] < y_range[1] else h / 2
    if rng.random() < edge_chance:
        over = rng.uniform(-0.02, 0.08) * (hi[1] - lo[1])
        side = rng.integers(4)
        if side == 0:
            cx = -lo[0] - over
        elif side == 1:
            cx = w - hi[0] + over
        elif side == 2:
            cy = -lo[1] - over
        else:
            cy = h - hi[1] + over
    return segs + np.array([cx, cy], np.float32)


def _inside(segs: np.ndarray, w: int, h: int, margin: float = 1.0) -> np.ndarray:
    """Segments moved (and if need be shrunk about their centre) the least needed to lie inside the image,
    ``margin`` pixels (half the pen) from its edges."""
    pts = segs.reshape(-1, 2)
    lo, hi = pts.min(0) - margin + 1, pts.max(0) + margin - 1
    size = np.array([w - 2, h - 2], np.float32)
    span = np.maximum(hi - lo, 1e-3)
    k = float(min(1.0, *(size / span)))
    if k < 1.0:
        centre = (lo + hi) / 2
        segs = (segs - centre) * k + centre
        lo, hi = centre - (centre - lo) * k, centre + (hi - centre) * k
    shift = np.maximum(1 - lo, 0) - np.maximum(hi - size - 1, 0)
    return (segs + shift).astype(np.float32)


def _posed(path: np.ndarray, rng: np.random.Generator, height: float, max_degrees: float) -> np.ndarray:
    segs = strokes.wobble(path, rng, rng.uniform(0.0, 0.04))
    return strokes.pose(segs, height=height, centre=(0.0, 0.0), degrees=rng.uniform(-max_degrees, max_degrees),
                        shear=rng.uniform(-0.25, 0.25), aspect=rng.uniform(0.8, 1.25))


Path = tuple[np.ndarray, np.ndarray]  # a digit's normalised segments and blob radii (``strokes.digit_path``)


def photo(path: Path, rng: np.random.Generator, paper: str = "plain") -> np.ndarray:
    """A phone photo of the digit written on ``paper`` ("plain", "ruled" or "squared")."""
    size = scene.photo_size(rng)
    w, h = scene.work_size(size)
    height = rng.uniform(0.25, 0.9) * min(w, h)
    at_edge = rng.random() < 0.1
    segs = _place(rng, _posed(path[0], rng, height, 5.0), w, h, edge_chance=1.0 if at_edge else 0.0)
    layers = scene.Layers(h, w, scene.sample_paper(rng))

    page_degrees = float(np.clip(rng.normal(0, 5), -12, 12))
    hom = scene.homography(rng, h, w, page_degrees, rng.uniform(0, 0.05))
    if paper != "plain":
        squared = paper == "squared"
        spacing = height * (rng.uniform(0.3, 0.8) if squared else rng.uniform(0.3, 1.2))
        lines, margin = scene.page_lines(rng, h, w, spacing, squared=squared,
                                         margin=not squared and rng.random() < 0.3)
        if not squared and rng.random() < 0.5:  # written on a line: move the digit's foot onto the nearest one
            foot = segs.reshape(-1, 2)[:, 1].max()
            ys = lines[:, 0, 1]
            top = segs.reshape(-1, 2)[:, 1].min()
            ys = ys[(ys - foot + top > 0) & (ys < h)]  # lines the digit can sit on without leaving the image
            if ys.size:
                nearest = ys[np.argmin(np.abs(ys - foot))]
                segs = segs + np.array([0, nearest - foot + rng.uniform(-0.05, 0.03) * height], np.float32)
        scene.add_rules(rng, layers, hom, lines, margin)

    segs = scene.transform(segs, hom)
    pen = _pen_width(rng, height, least=0.6)
    # the page's tilt must not push the digit off the photo (nor cut more than a sliver when it touches the edge)
    segs = _inside(segs, w, h, -0.06 * height if at_edge else pen / 2)
    ink = np.zeros((h, w), np.uint8)
    strokes.draw(ink, segs, pen, value=int(rng.uniform(170, 255)), blobs=path[1] * height)
    scene.add_ink(rng, layers, ink)
    return scene.photo_finish(rng, layers, size)


def drawing(path: Path, rng: np.random.Generator) -> np.ndarray:
    """A digit drawn in a paint program or on a web canvas."""
    size = scene.sample_size(rng, 100, 600, square=0.5)
    w, h = size
    background = rng.choice(["white", "black", "other"], p=[0.5, 0.3, 0.2])
    if background == "white":
        paper = np.full(3, 255, np.float32)
        ink = _drawing_ink(rng, dark=True)
    elif background == "black":
        paper = np.full(3, rng.uniform(0, 30), np.float32)
        ink = np.full(3, 255, np.float32) if rng.random() < 0.7 else rng.uniform(150, 255, 3).astype(np.float32)
    else:
        paper = rng.uniform(180, 255, 3).astype(np.float32)
        ink = _drawing_ink(rng, dark=True)
    height = rng.uniform(0.35, 0.95) * min(w, h)
    at_edge = rng.random() < 0.08
    segs = _place(rng, _posed(path[0], rng, height, 10.0), w, h, edge_chance=1.0 if at_edge else 0.0)
    style = rng.choice(["mouse", "thin", "brush"], p=[0.3, 0.15, 0.55])
    pen = 1.0 if style == "mouse" else rng.uniform(1.0, 3.0) if style == "thin" else _pen_width(rng, height, 0.04, 0.25)
    segs = _inside(segs, w, h, -0.06 * height if at_edge else pen / 2)
    mask = np.zeros((h, w), np.uint8)
    strokes.draw(mask, segs, pen, antialias=style == "thin" or (style == "brush" and rng.random() < 0.85),
                 blobs=path[1] * height)
    layers = scene.Layers(h, w, paper)
    layers.add(mask, ink)
    soft = style == "brush" and pen >= 5 and rng.random() < 0.2  # drawn small, scaled up by the app: soft edges
    img = layers.compose(None)
    if soft:
        small = cv2.resize(img, (max(8, w // 5), max(8, h // 5)), interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    gray = bool(np.ptp(ink) < 1 and np.ptp(paper) < 1 and rng.random() < 0.6)
    return scene.finish(rng, img, size, blur=0.0, noise=0.0,
                        jpeg_quality=int(rng.integers(70, 96)) if rng.random() < 0.2 else None, gray=gray)


def _drawing_ink(rng: np.random.Generator, dark: bool) -> np.ndarray:
    kind = rng.choice(["black", "grey", "blue", "other"], p=[0.5, 0.15, 0.15, 0.2])
    if kind == "black":
        return np.zeros(3, np.float32)
    if kind == "grey":
        return np.full(3, rng.uniform(40, 130), np.float32)
    if kind == "blue":
        return np.array([rng.uniform(150, 230), rng.uniform(40, 90), rng.uniform(30, 80)], np.float32)
    colour = rng.uniform(0, 160, 3).astype(np.float32)
    colour[rng.integers(3)] = rng.uniform(0, 60)
    return colour


def scan(path: Path, rng: np.random.Generator) -> np.ndarray:
    """A small grey crop of a scanned digit: drawn at 4x and shrunk, so edges are anti-aliased as a scanner's."""
    side = int(rng.integers(28, 65))
    size = (int(np.clip(side * rng.uniform(0.85, 1.15), 28, 64)), side)
    w, h = size[0] * 4, size[1] * 4
    height = rng.uniform(0.55, 0.95) * min(w, h)
    at_edge = rng.random() < 0.05
    segs = _place(rng, _posed(path[0], rng, height, 8.0), w, h, edge_chance=1.0 if at_edge else 0.0)
    pen = _pen_width(rng, height, 0.06, 0.2)
    segs = _inside(segs, w, h, -0.06 * height if at_edge else pen / 2)
    mask = np.zeros((h, w), np.uint8)
    strokes.draw(mask, segs, pen, blobs=path[1] * height)
    layers = scene.Layers(h, w, np.full(3, rng.uniform(170, 255), np.float32))
    layers.add(mask, np.full(3, rng.uniform(0, 90), np.float32))
    img = cv2.resize(layers.compose(None), size, interpolation=cv2.INTER_AREA)
    return scene.finish(rng, img, size, blur=rng.uniform(0.3, 1.0), noise=rng.uniform(0, 4),
                        jpeg_quality=int(rng.integers(60, 96)) if rng.random() < 0.3 else None, gray=True)
