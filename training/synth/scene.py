"""Paper, light and camera: the parts of a phone photo (or a canvas) that have nothing to do with the digit.

A scene is composed at a working resolution of at most ``WORK_SIDE`` pixels (the service shrinks photos to about
that anyway) as layers of "alpha" masks over a paper colour: ruled or squared lines, then ink, then the table at an
edge, all multiplied by an illumination map (gradient, vignetting, a shadow). ``finish`` then adds blur and sensor
noise, scales to the final size and round-trips JPEG, so large photos cost little more than small ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from training.synth import strokes

WORK_SIDE = 448

# BGR colours. Inks are the usual pen colours; papers from white printer paper to grey recycled, beige, bluish
# (cold light) and the pastel colours of sticky notes and exercise books.
INKS = {
    "blue": ((150, 70, 20), (60, 40, 30)),  # (mean BGR, +- spread)
    "black": ((35, 35, 35), (25, 25, 25)),
    "red": ((45, 40, 170), (30, 30, 40)),
    "green": ((60, 120, 30), (30, 40, 30)),
    "purple": ((130, 40, 100), (30, 30, 30)),
}
INK_WEIGHTS = {"blue": 0.35, "black": 0.4, "red": 0.1, "green": 0.07, "purple": 0.08}


def sample_ink(rng: np.random.Generator, name: str | None = None) -> tuple[str, np.ndarray]:
    """(name, BGR float32) of a pen colour."""
    if name is None:
        names = list(INK_WEIGHTS)
        name = str(rng.choice(names, p=np.array([INK_WEIGHTS[n] for n in names])))
    mean, spread = INKS[name]
    colour = np.asarray(mean, np.float32) + rng.uniform(-1, 1, 3).astype(np.float32) * np.asarray(spread, np.float32)
    return name, np.clip(colour, 0, 255)


def sample_paper(rng: np.random.Generator) -> np.ndarray:
    """A paper colour (BGR float32) as the camera sees it before the light falls off."""
    kind = rng.choice(["white", "beige", "grey", "bluish", "colour"], p=[0.42, 0.22, 0.18, 0.12, 0.06])
    if kind == "white":
        colour = np.full(3, rng.uniform(215, 255)) + rng.uniform(-6, 6, 3)
    elif kind == "beige":
        base = rng.uniform(190, 240)
        colour = np.array([base - rng.uniform(15, 40), base - rng.uniform(3, 15), base])
    elif kind == "grey":
        colour = np.full(3, rng.uniform(140, 215)) + rng.uniform(-8, 8, 3)
    elif kind == "bluish":
        base = rng.uniform(170, 230)
        colour = np.array([base + rng.uniform(5, 25), base + rng.uniform(0, 10), base - rng.uniform(0, 20)])
    else:
        colour = rng.uniform(185, 255, 3)
        colour[rng.integers(3)] = rng.uniform(225, 255)
    return np.clip(colour, 0, 255).astype(np.float32)


def illumination(rng: np.random.Generator, h: int, w: int, strength: float = 1.0) -> np.ndarray:
    """Float32 (h, w) light map in about [0.35, 1.1]: a linear gradient, vignetting and sometimes a shadow with a
    soft rim (a hand or the phone), computed on a 64-pixel grid and scaled up smoothly."""
    gh, gw = max(2, round(64 * h / max(h, w))), max(2, round(64 * w / max(h, w)))
    ys, xs = np.mgrid[0:gh, 0:gw].astype(np.float32)
    ys, xs = ys / (gh - 1) - 0.5, xs / (gw - 1) - 0.5
    angle = rng.uniform(0, 2 * np.pi)
    light = 1.0 + strength * rng.uniform(0, 0.35) * (np.cos(angle) * xs + np.sin(angle) * ys)
    if rng.random() < 0.6:
        cx, cy = rng.uniform(-0.3, 0.3, 2)
        light -= strength * rng.uniform(0.1, 0.6) * ((xs - cx) ** 2 + (ys - cy) ** 2)
    if rng.random() < 0.3 * strength:
        shadow = np.zeros((gh, gw), np.float32)
        n = int(rng.integers(3, 7))
        centre = rng.uniform([0, 0], [gw, gh])
        radius = rng.uniform(0.3, 1.0) * max(gw, gh)
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        poly = centre + radius * np.stack([np.cos(angles), np.sin(angles)], 1) * rng.uniform(0.5, 1.0, (n, 1))
        cv2.fillPoly(shadow, [poly.astype(np.int32)], 1.0)
        shadow = cv2.GaussianBlur(shadow, (0, 0), rng.uniform(1.5, 5.0))
        light -= rng.uniform(0.15, 0.5) * shadow
    light *= rng.uniform(0.75, 1.1)
    light = np.clip(light, 0.3, 1.15)
    return cv2.resize(light, (w, h), interpolation=cv2.INTER_LINEAR)


def homography(rng: np.random.Generator, h: int, w: int, degrees: float, perspective: float) -> np.ndarray:
    """3x3 map from page to image: a rotation by ``degrees`` about the centre and a mild perspective (each corner
    moved by up to ``perspective`` of the image size)."""
    t = np.deg2rad(degrees)
    c, s = np.cos(t), np.sin(t)
    cx, cy = w / 2, h / 2
    rot = np.array([[c, s, cx - c * cx - s * cy], [-s, c, cy + s * cx - c * cy], [0, 0, 1]], np.float64)
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    dst = src + rng.uniform(-perspective, perspective, (4, 2)).astype(np.float32) * np.float32(max(w, h))
    return cv2.getPerspectiveTransform(src, dst) @ rot


def transform(segs: np.ndarray, hom: np.ndarray) -> np.ndarray:
    """Applies a homography to (N, 2, 2) segments."""
    if segs.size == 0:
        return segs
    pts = cv2.perspectiveTransform(segs.reshape(-1, 1, 2).astype(np.float64), hom)
    return pts.reshape(segs.shape).astype(np.float32)


def page_lines(rng: np.random.Generator, h: int, w: int, spacing: float, *, squared: bool,
               margin: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Segments (page coordinates) of ruled lines across the whole page every ``spacing`` pixels (plus vertical
    ones when ``squared``), and of a red margin line when asked; drawn far beyond the image so that rotation and
    perspective never leave a line ending inside it."""
    reach = 2 * max(h, w)
    offset = rng.uniform(0, spacing)
    ys = np.arange(-reach + offset, h + reach, spacing, dtype=np.float32)
    lines = [np.stack([np.stack([np.full_like(ys, -reach), ys], 1), np.stack([np.full_like(ys, w + reach), ys], 1)], 1)]
    if squared:
        xs = np.arange(-reach + rng.uniform(0, spacing), w + reach, spacing, dtype=np.float32)
        lines.append(np.stack([np.stack([xs, np.full_like(xs, -reach)], 1),
                               np.stack([xs, np.full_like(xs, h + reach)], 1)], 1))
    red = None
    if margin:
        x = rng.uniform(0.05, 0.35) * w if rng.random() < 0.7 else rng.uniform(0.65, 0.95) * w
        red = np.array([[[x, -reach], [x, h + reach]]], np.float32)
    return np.concatenate(lines), red


@dataclass
class Layers:
    """A scene under construction: a paper colour and alpha masks each with its own colour, painted in order."""

    h: int
    w: int
    paper: np.ndarray  # BGR float32
    masks: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = field(default_factory=list)

    def add(self, alpha: np.ndarray, colour: np.ndarray, texture: np.ndarray | None = None) -> None:
        """``alpha`` uint8 (h, w) coverage; ``colour`` BGR; ``texture`` optional float32 (h, w) factor on alpha."""
        self.masks.append((alpha, np.asarray(colour, np.float32), texture))

    def compose(self, light: np.ndarray | None, gains: np.ndarray | None = None) -> np.ndarray:
        """uint8 BGR image (h, w, 3): the layers over the paper, times the light map and per-channel gains (white
        balance). Computed plane by plane: numpy broadcasting over an interleaved (h, w, 3) array is ~15x slower."""
        planes = [np.full((self.h, self.w), float(v), np.float32) for v in self.paper]
        for alpha, colour, texture in self.masks:
            x, y, bw, bh = cv2.boundingRect(alpha)
            if bw == 0 or bh == 0:
                continue
            a = alpha[y:y + bh, x:x + bw].astype(np.float32)
            a *= 1 / 255
            if texture is not None:
                a *= texture[y:y + bh, x:x + bw]
            for plane, value in zip(planes, colour):
                region = plane[y:y + bh, x:x + bw]
                region += a * (float(value) - region)
        out = []
        for i, plane in enumerate(planes):
            if light is not None:
                plane *= light
            if gains is not None:
                plane *= float(gains[i])
            out.append(np.clip(plane, 0, 255, out=plane).astype(np.uint8))
        return cv2.merge(out)


def table_mask(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """uint8 mask of the table beyond the paper's edge: a strip along one side with a slightly tilted edge."""
    mask = np.zeros((h, w), np.uint8)
    side = int(rng.integers(4))
    depth = rng.uniform(0.03, 0.2)
    tilt = rng.uniform(-0.08, 0.08)
    if side in (0, 1):  # top / bottom
        d0, d1 = depth * h, (depth + tilt) * h
        pts = [[0, 0], [w, 0], [w, max(d1, 1)], [0, max(d0, 1)]]
        if side == 1:
            pts = [[x, h - y] for x, y in pts]
    else:
        d0, d1 = depth * w, (depth + tilt) * w
        pts = [[0, 0], [max(d0, 1), 0], [max(d1, 1), h], [0, h]]
        if side == 3:
            pts = [[w - x, y] for x, y in pts]
    cv2.fillPoly(mask, [np.array(pts, np.int32)], 255, cv2.LINE_AA)
    return mask


def table_colour(rng: np.random.Generator) -> np.ndarray:
    """A table or desk: dark wood, grey, black, a coloured top."""
    kind = rng.choice(["wood", "dark", "grey", "colour"])
    if kind == "wood":
        v = rng.uniform(40, 140)
        return np.array([v * 0.45, v * 0.7, v], np.float32)
    if kind == "dark":
        return np.full(3, rng.uniform(10, 50), np.float32)
    if kind == "grey":
        return np.full(3, rng.uniform(60, 160), np.float32)
    return rng.uniform(20, 200, 3).astype(np.float32)


def grain(rng: np.random.Generator, h: int, w: int, low: float, high: float) -> np.ndarray:
    """Float32 (h, w) multiplicative texture in [low, high]: paper fibre or pencil graphite."""
    return rng.uniform(low, high, (h, w)).astype(np.float32)


def finish(rng: np.random.Generator, img: np.ndarray, size: tuple[int, int], *, blur: float, noise: float,
           jpeg_quality: int | None, gray: bool) -> np.ndarray:
    """Camera and file: Gaussian blur (sigma in working pixels), sensor noise (grey levels; made at half
    resolution and scaled up, as demosaicing and compression leave it), the decoder's output format (BGR or gray
    uint8), an optional JPEG round trip and the final ``size`` (w, h). A photo larger than the working size is
    compressed first and scaled up after: its artefacts then span several pixels, which the service's shrink to a
    few hundred pixels would blur away anyway, and the codec costs milliseconds instead of tens of them."""
    if blur >= 0.3:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    if noise > 0:
        h, w = img.shape[:2]
        grain = rng.standard_normal((h // 2 + 1, w // 2 + 1), dtype=np.float32) * np.float32(noise)
        grain = cv2.resize(grain, (w, h), interpolation=cv2.INTER_LINEAR)
        img = cv2.add(img, cv2.merge([grain] * 3) if img.ndim == 3 else grain, dtype=cv2.CV_8U)
    upscale = size[0] > img.shape[1]
    if not upscale and (img.shape[1], img.shape[0]) != size:
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    if gray and img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    if jpeg_quality is not None:  # before scaling up: the same artefacts at a fraction of the codec's cost
        ok, data = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
        img = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE if img.ndim == 2 else cv2.IMREAD_COLOR)
    if upscale:
        img = cv2.resize(img, size, interpolation=cv2.INTER_LINEAR)
    return img


def sample_size(rng: np.random.Generator, lo: int, hi: int, square: float = 0.3) -> tuple[int, int]:
    """(w, h) with the long side log-uniform in [lo, hi], an aspect of 0.6-1 (or square), either orientation."""
    long_side = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    ratio = 1.0 if rng.random() < square else rng.uniform(0.6, 1.0)
    a, b = int(round(long_side)), max(8, int(round(long_side * ratio)))
    return (a, b) if rng.random() < 0.4 else (b, a)


def work_size(size: tuple[int, int]) -> tuple[int, int]:
    """The working (w, h): the final size, shrunk to at most ``WORK_SIDE`` on the long side."""
    w, h = size
    k = min(1.0, WORK_SIDE / max(w, h))
    return max(8, int(round(w * k))), max(8, int(round(h * k)))


def photo_size(rng: np.random.Generator) -> tuple[int, int]:
    """Final (w, h) of a photo: long side 50-150 px on 15 %, 150-700 on 60 %, 700-1500 on 25 %."""
    r = rng.random()
    lo, hi = (50, 150) if r < 0.15 else (150, 700) if r < 0.75 else (700, 1500)
    return sample_size(rng, lo, hi)


def add_rules(rng: np.random.Generator, layers: Layers, hom: np.ndarray, lines: np.ndarray,
              margin: np.ndarray | None) -> None:
    """Paints ruled or squared lines (page coordinates, seen through ``hom``) and a red margin line: blue, grey
    or black, 0.15-0.5 % of the short side wide (fainter than a pixel on small photos)."""
    h, w = layers.h, layers.w
    width = rng.uniform(0.0015, 0.005) * min(w, h)
    name = rng.choice(["blue", "grey", "black"], p=[0.6, 0.3, 0.1])
    colour = {"blue": (200, 135, 70), "grey": (110, 110, 110), "black": (50, 50, 50)}[name]
    alpha = np.zeros((h, w), np.uint8)
    strokes.draw(alpha, transform(lines, hom), width, value=int(rng.uniform(130, 240)))
    layers.add(alpha, np.asarray(colour, np.float32) + rng.uniform(-25, 25, 3).astype(np.float32))
    if margin is not None:
        red = np.zeros((h, w), np.uint8)
        strokes.draw(red, transform(margin, hom), width * rng.uniform(1, 1.6), value=int(rng.uniform(120, 230)))
        layers.add(red, np.array([70, 70, 210], np.float32) + rng.uniform(-25, 25, 3).astype(np.float32))


def add_ink(rng: np.random.Generator, layers: Layers, ink: np.ndarray) -> None:
    """Paints an ink mask as pencil (12 %: grey, grainy) or as a pen of one of ``INKS``."""
    if rng.random() < 0.12:
        colour = np.full(3, rng.uniform(60, 140), np.float32)
        layers.add(ink, colour, grain(rng, layers.h, layers.w, rng.uniform(0.2, 0.6), 1.0))
    else:
        layers.add(ink, sample_ink(rng)[1])


def photo_finish(rng: np.random.Generator, layers: Layers, size: tuple[int, int]) -> np.ndarray:
    """The camera's part of a photo: the table at an edge on 15 %, light and white balance, blur (mostly
    slight, defocused on 15 %), sensor noise, JPEG quality 40-95 on 85 %, gray output on 10 %."""
    h, w = layers.h, layers.w
    if rng.random() < 0.15:
        layers.add(table_mask(rng, h, w), table_colour(rng))
    img = layers.compose(illumination(rng, h, w), gains=rng.uniform(0.93, 1.07, 3))
    blur = rng.uniform(0.0, 1.0) if rng.random() < 0.85 else rng.uniform(1.0, 2.5)
    return finish(rng, img, size, blur=blur * max(w, h) / 400, noise=rng.uniform(1, 8),
                  jpeg_quality=int(rng.integers(40, 96)) if rng.random() < 0.85 else None, gray=rng.random() < 0.1)
