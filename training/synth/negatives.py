"""Images that are not one handwritten digit, in the same output convention as ``digits`` (uint8 BGR or gray).

They teach the digit model (or a detector in front of it) what to refuse. The mix:

==============  ======  ==============================================================================
kind            share   what
==============  ======  ==============================================================================
``blank``       20 %    empty pages (plain, ruled, squared) with light, shadows, noise, JPEG; empty canvases
``scribble``    20 %    smooth random curves, zig-zags, hatching, several small marks spread over the page
``glyphs``      30 %    letters, symbols and short words in OpenCV's Hershey fonts (script ones too) at
                        random sizes, weights and slants, on the same papers as the digit photos or on canvases
``texture``     10 %    noise fields, gradients, stripes, checkerboards
``photo``       20 %    random crops of real photos (flowers, mugs), rescaled, sometimes grey or recompressed
==============  ======  ==============================================================================

Glyphs avoid every character that looks like a digit (O o l I i S s Z z B b g q G D and the digits themselves);
scribbles are several marks or long tangled curves, never one simple stroke that could pass for a 1 or a 7.
Without ``photo_paths`` the photo share is rendered as textures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from training.synth import scene, strokes

KINDS = {"blank": 0.2, "scribble": 0.2, "glyphs": 0.3, "texture": 0.1, "photo": 0.2}
LETTERS = "ACEFHKMNPRTUVWXYacehkmnrtuvwxy"
SYMBOLS = "#@&%*+?!="
FONTS = {  # Hershey font -> share; the script fonts are the most handwriting-like
    cv2.FONT_HERSHEY_SCRIPT_SIMPLEX: 0.2, cv2.FONT_HERSHEY_SCRIPT_COMPLEX: 0.15, cv2.FONT_HERSHEY_SIMPLEX: 0.2,
    cv2.FONT_HERSHEY_PLAIN: 0.1, cv2.FONT_HERSHEY_DUPLEX: 0.1, cv2.FONT_HERSHEY_COMPLEX: 0.1,
    cv2.FONT_HERSHEY_TRIPLEX: 0.05, cv2.FONT_HERSHEY_COMPLEX_SMALL: 0.1,
}

Marks = Callable[[np.ndarray, np.random.Generator], None]  # draws ink (255 = full) into a uint8 mask in place


def render_negative(rng: np.random.Generator, photo_paths: Sequence[Path]) -> np.ndarray:
    """One image that is not a handwritten digit (uint8 BGR or gray, as a decoder gives it)."""
    return render_negative_kind(rng, photo_paths)[0]


def render_negative_kind(rng: np.random.Generator, photo_paths: Sequence[Path],
                         kind: str | None = None) -> tuple[np.ndarray, str]:
    """Like ``render_negative``, also naming the kind drawn (or rendering the ``kind`` asked for)."""
    if kind is None:
        kind = str(rng.choice(list(KINDS), p=np.array(list(KINDS.values()))))
    if kind == "photo" and not photo_paths:
        kind = "texture"
    if kind == "blank":
        return surface(rng, None), kind
    if kind == "scribble":
        return surface(rng, scribble), kind
    if kind == "glyphs":
        return surface(rng, glyphs), kind
    if kind == "texture":
        return texture(rng), kind
    if kind == "photo":
        return photo_crop(rng, photo_paths), kind
    raise ValueError(f"unknown kind {kind!r}; known: {', '.join(KINDS)}")


def surface(rng: np.random.Generator, marks: Marks | None) -> np.ndarray:
    """``marks`` (or nothing) on a photographed page (65 %: plain, ruled or squared) or a drawing canvas."""
    if rng.random() < 0.35:
        return _canvas(rng, marks)
    size = scene.photo_size(rng)
    w, h = scene.work_size(size)
    layers = scene.Layers(h, w, scene.sample_paper(rng))
    paper = rng.choice(["plain", "ruled", "squared"], p=[0.45, 0.35, 0.2])
    hom = scene.homography(rng, h, w, float(np.clip(rng.normal(0, 5), -12, 12)), rng.uniform(0, 0.05))
    if paper != "plain":
        squared = paper == "squared"
        spacing = rng.uniform(0.04, 0.25) * min(w, h)
        lines, margin = scene.page_lines(rng, h, w, spacing, squared=squared,
                                         margin=not squared and rng.random() < 0.3)
        scene.add_rules(rng, layers, hom, lines, margin)
    if marks is not None:
        ink = np.zeros((h, w), np.uint8)
        marks(ink, rng)
        scene.add_ink(rng, layers, ink)
    return scene.photo_finish(rng, layers, size)


def _canvas(rng: np.random.Generator, marks: Marks | None) -> np.ndarray:
    size = scene.sample_size(rng, 60, 600, square=0.5)
    w, h = size
    dark = rng.random() < 0.3
    paper = np.full(3, rng.uniform(0, 30) if dark else 255, np.float32)
    if not dark and rng.random() < 0.25:
        paper = rng.uniform(180, 255, 3).astype(np.float32)
    layers = scene.Layers(h, w, paper)
    if marks is not None:
        ink = np.zeros((h, w), np.uint8)
        marks(ink, rng)
        colour = np.full(3, 255.0) if dark else (np.zeros(3) if rng.random() < 0.6 else rng.uniform(0, 160, 3))
        layers.add(ink, np.asarray(colour, np.float32))
    gray = bool(np.ptp(paper) < 1 and rng.random() < 0.5)
    return scene.finish(rng, layers.compose(None), size, blur=0.0, noise=0.0,
                        jpeg_quality=int(rng.integers(70, 96)) if rng.random() < 0.2 else None, gray=gray)


def _pen(rng: np.random.Generator, scale: float) -> float:
    return max(0.6, float(np.exp(rng.uniform(np.log(0.005), np.log(0.12)))) * scale)


def _chaikin(points: np.ndarray, rounds: int = 3) -> np.ndarray:
    """Corner cutting: a smooth curve through the neighbourhood of the control points."""
    for _ in range(rounds):
        a, b = points[:-1], points[1:]
        points = np.concatenate([points[:1], np.stack([0.75 * a + 0.25 * b, 0.25 * a + 0.75 * b], 1).reshape(-1, 2),
                                 points[-1:]])
    return points


def _polyline_segments(points: np.ndarray) -> np.ndarray:
    return np.stack([points[:-1], points[1:]], 1).astype(np.float32)


def scribble(mask: np.ndarray, rng: np.random.Generator) -> None:
    """Scribbles: a long tangled curve, a zig-zag, hatching, or several small marks spread over the page."""
    h, w = mask.shape
    short = min(w, h)
    style = rng.choice(["curve", "zigzag", "hatching", "marks"], p=[0.3, 0.2, 0.2, 0.3])
    if style == "curve":
        n = int(rng.integers(7, 14))
        centre = rng.uniform([0.2 * w, 0.2 * h], [0.8 * w, 0.8 * h])
        pts = centre + rng.normal(0, rng.uniform(0.1, 0.3) * short, (n, 2))
        strokes.draw(mask, _polyline_segments(_chaikin(pts)), _pen(rng, short * 0.5), value=255)
    elif style == "zigzag":
        n = int(rng.integers(5, 12))
        length = rng.uniform(0.3, 0.9) * short
        amplitude = rng.uniform(0.05, 0.3) * short
        t = np.linspace(-0.5, 0.5, n) * length
        offsets = amplitude * np.where(np.arange(n) % 2 == 0, 1.0, -1.0) * rng.uniform(0.6, 1.0, n)
        angle = rng.uniform(0, np.pi)
        direction, normal = np.array([np.cos(angle), np.sin(angle)]), np.array([-np.sin(angle), np.cos(angle)])
        centre = np.array([w / 2, h / 2]) + rng.uniform(-0.2, 0.2, 2) * short
        pts = centre + t[:, None] * direction + offsets[:, None] * normal
        strokes.draw(mask, _polyline_segments(pts), _pen(rng, short * 0.5), value=255)
    elif style == "hatching":
        n = int(rng.integers(4, 14))
        angle = rng.uniform(0, np.pi)
        direction, normal = np.array([np.cos(angle), np.sin(angle)]), np.array([-np.sin(angle), np.cos(angle)])
        centre = rng.uniform([0.25 * w, 0.25 * h], [0.75 * w, 0.75 * h])
        gap = rng.uniform(0.02, 0.08) * short
        length = rng.uniform(0.15, 0.6) * short
        segs = []
        for i in range(n):
            mid = centre + (i - n / 2) * gap * normal + rng.normal(0, 0.1 * gap, 2)
            half = length / 2 * rng.uniform(0.7, 1.0)
            segs.append([mid - half * direction, mid + half * direction])
        strokes.draw(mask, np.array(segs, np.float32), _pen(rng, short * 0.3), value=255)
    else:
        n = int(rng.integers(3, 9))
        pen = _pen(rng, short * 0.3)
        for _ in range(n):
            start = rng.uniform([0, 0], [w, h])
            k = int(rng.integers(2, 5))
            pts = start + np.cumsum(rng.normal(0, rng.uniform(0.02, 0.12) * short, (k, 2)), 0)
            strokes.draw(mask, _polyline_segments(_chaikin(pts, 2)), pen, value=255)


def _text(rng: np.random.Generator) -> str:
    if rng.random() < 0.5:
        return str(rng.choice(list(LETTERS + SYMBOLS)))
    pool = LETTERS if rng.random() < 0.8 else LETTERS + SYMBOLS
    return "".join(rng.choice(list(pool), int(rng.integers(2, 7))))


def glyphs(mask: np.ndarray, rng: np.random.Generator) -> None:
    """One to three lines of letters, symbols or words in a Hershey font, slanted and rotated a little.

    Hershey fonts are stroke fonts, so the text is set directly at its final size with a pen 1.5-8 % of the
    letter height (a ballpoint to a marker, like the digits), bent by a smooth random displacement so no two
    letters are the same (a hand, not a printer), then sheared and rotated.
    """
    h, w = mask.shape
    for _ in range(int(rng.integers(1, 4)) if rng.random() < 0.3 else 1):
        text = _text(rng)
        font = int(rng.choice(list(FONTS), p=np.array(list(FONTS.values()))))
        font |= cv2.FONT_ITALIC if rng.random() < 0.3 else 0
        (unit_w, unit_h), _ = cv2.getTextSize(text, font, 1.0, 1)
        target = rng.uniform(0.2, 0.7) * min(w, h) if len(text) == 1 else rng.uniform(0.08, 0.3) * min(w, h)
        scale = min(target / max(unit_h, 1), 0.9 * w / max(unit_w, 1))
        thickness = max(1, int(round(float(np.exp(rng.uniform(np.log(0.015), np.log(0.08)))) * unit_h * scale)))
        (tw, th), base = cv2.getTextSize(text, font, scale, thickness)
        pad = thickness + 2
        stamp = np.zeros((th + base + 2 * pad, tw + 2 * pad), np.uint8)
        cv2.putText(stamp, text, (pad, pad + th), font, scale, 255, thickness, cv2.LINE_AA)
        stamp = _bend(stamp, rng, 0.06 * th)
        shear = rng.uniform(-0.35, 0.35)
        angle = np.deg2rad(rng.uniform(-15, 15))
        sh, sw = stamp.shape
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        m = rot @ np.array([[1.0, -shear], [0.0, 1.0]])
        corners = np.array([[0, 0], [sw, 0], [sw, sh], [0, sh]], np.float64) @ m.T
        lo, hi = corners.min(0), corners.max(0)
        span = hi - lo
        x0 = rng.uniform(0, max(w - span[0], 0)) - lo[0]
        y0 = rng.uniform(0, max(h - span[1], 0)) - lo[1]
        affine = np.hstack([m, [[x0], [y0]]]).astype(np.float32)
        placed = cv2.warpAffine(stamp, affine, (w, h), flags=cv2.INTER_LINEAR)
        np.maximum(mask, placed, out=mask)


def _bend(image: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """A smooth random displacement (a 4x4 grid of offsets up to ``amount`` pixels, interpolated) of an image."""
    h, w = image.shape
    flow = cv2.resize(rng.uniform(-amount, amount, (4, 4, 2)).astype(np.float32), (w, h),
                      interpolation=cv2.INTER_CUBIC)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return cv2.remap(image, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR, borderValue=0)


def texture(rng: np.random.Generator) -> np.ndarray:
    """Noise, a gradient, stripes or a checkerboard, in colour or grey."""
    w, h = scene.sample_size(rng, 40, 800, square=0.4)
    style = rng.choice(["noise", "gradient", "stripes", "checker"])
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    if style == "noise":
        cells = int(rng.integers(2, 60))
        small = rng.uniform(0, 255, (max(2, cells * h // max(w, h)), max(2, cells * w // max(w, h)), 3))
        img = cv2.resize(small.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
        img += rng.normal(0, rng.uniform(0, 30), (h, w, 1)).astype(np.float32)
    else:
        angle = rng.uniform(0, np.pi)
        u = np.cos(angle) * xs + np.sin(angle) * ys
        if style == "gradient":
            t = u / max(float(np.abs(u).max()), 1.0)
        elif style == "stripes":
            t = 0.5 + 0.5 * np.sign(np.sin(2 * np.pi * u / rng.uniform(4, 0.3 * max(w, h))))
            if rng.random() < 0.5:
                t = cv2.GaussianBlur(t, (0, 0), 1.5)
        else:
            v = -np.sin(angle) * xs + np.cos(angle) * ys
            cell = rng.uniform(3, 0.25 * max(w, h))
            t = ((np.floor(u / cell) + np.floor(v / cell)) % 2).astype(np.float32)
        a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        img = a + t[..., None] * (b - a)
    img = np.clip(img, 0, 255).astype(np.uint8)
    return scene.finish(rng, img, (w, h), blur=rng.uniform(0, 1.5), noise=rng.uniform(0, 6),
                        jpeg_quality=int(rng.integers(40, 96)) if rng.random() < 0.5 else None,
                        gray=rng.random() < 0.3)


def photo_crop(rng: np.random.Generator, photo_paths: Sequence[Path]) -> np.ndarray:
    """A random crop (30-100 % of each side) of a random photo, rescaled to 40-800 px (at most 3x up), sometimes
    grey."""
    path = photo_paths[int(rng.integers(len(photo_paths)))]
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        return texture(rng)
    h, w = img.shape[:2]
    cw, ch = int(w * rng.uniform(0.3, 1.0)), int(h * rng.uniform(0.3, 1.0))
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    crop = img[y:y + ch, x:x + cw]
    long_side = min(float(np.exp(rng.uniform(np.log(40), np.log(800)))), 3.0 * max(cw, ch))  # not mush
    k = long_side / max(cw, ch)
    size = (max(8, int(round(cw * k))), max(8, int(round(ch * k))))
    crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR)
    return scene.finish(rng, crop, size, blur=0.0, noise=rng.uniform(0, 3),
                        jpeg_quality=int(rng.integers(40, 96)) if rng.random() < 0.5 else None,
                        gray=rng.random() < 0.25)
