"""A digit's pen path, independent of the stroke width MNIST happens to have.

MNIST strokes are all about 2-3 pixels wide in a 20-pixel box; real users write with 1-pixel ballpoints and fat
markers. So the digit is reduced to its centre line (upscaled smoothly, thresholded, thinned), kept as short
segments between neighbouring skeleton pixels, moved as points (pose, slant, a smooth wobble) and redrawn with
whatever pen the scene asks for. Moving points instead of warping images keeps a thin pen thin under any pose.
"""

from __future__ import annotations

import cv2
import numpy as np

SKELETON_SIDE = 56  # the digit is thinned at twice MNIST's resolution: smooth enough, still cheap
BLOB_RATIO = 2.0  # a stroke this many times its usual half-width is a filled loop or a blot


def _zhang_suen_tables() -> tuple[np.ndarray, np.ndarray]:
    """For each of the 256 neighbourhoods (bit i = neighbour P(i+2), clockwise from north), whether Zhang-Suen's
    first and second sub-iteration delete the centre pixel."""
    tables = np.zeros((2, 256), bool)
    for code in range(256):
        p = [(code >> i) & 1 for i in range(8)]  # p2 .. p9
        count = sum(p)
        transitions = sum(1 for i in range(8) if p[i] == 0 and p[(i + 1) % 8] == 1)
        p2, p4, p6, p8 = p[0], p[2], p[4], p[6]
        if 2 <= count <= 6 and transitions == 1:
            tables[0, code] = p2 * p4 * p6 == 0 and p4 * p6 * p8 == 0
            tables[1, code] = p2 * p4 * p8 == 0 and p2 * p6 * p8 == 0
    return tables


_TABLES = _zhang_suen_tables()
# Correlation kernel giving each pixel its neighbourhood code: north=1, north-east=2, east=4, ... north-west=128.
_CODE_KERNEL = np.array([[128, 1, 2], [64, 0, 4], [32, 16, 8]], np.float32)


def thin(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of a boolean mask to a one-pixel-wide, 8-connected centre line (uint8 0/1).

    opencv-python-headless has no ``ximgproc.thinning``; each sub-iteration here is one correlation (the
    neighbourhood as an 8-bit code) and one table look-up, so a 56-pixel digit thins in well under a millisecond.
    """
    img = np.pad(mask.astype(np.uint8), 1)
    while True:
        changed = False
        for table in _TABLES:
            code = cv2.filter2D(img, cv2.CV_32F, _CODE_KERNEL, borderType=cv2.BORDER_CONSTANT).astype(np.uint8)
            remove = table[code] & (img == 1)
            if remove.any():
                img[remove] = 0
                changed = True
        if not changed:
            return img[1:-1, 1:-1]


def skeleton_and_mask(digit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre line (uint8 0/1) and ink mask (bool), ``SKELETON_SIDE`` square, of a 28x28 white-on-black digit.
    The upscaled digit is smoothed before thresholding so the ragged MNIST edge does not sprout spurs."""
    big = cv2.resize(digit, (SKELETON_SIDE, SKELETON_SIDE), interpolation=cv2.INTER_CUBIC)
    big = cv2.GaussianBlur(big, (0, 0), 1.2)
    mask = big > 80
    if mask.sum() < 8:
        mask = big > 25
    return thin(mask), mask


def skeleton(digit: np.ndarray) -> np.ndarray:
    """Centre line (uint8 0/1, ``SKELETON_SIDE`` square) of a 28x28 white-on-black digit."""
    return skeleton_and_mask(digit)[0]


def graph(skel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Skeleton pixels as points (K, 2) float32 (x, y) and edges (E, 2) between 8-neighbours. A diagonal edge is
    left out where the two pixels are also joined through an orthogonal neighbour, so a staircase is a chain,
    not a row of triangles."""
    ys, xs = np.nonzero(skel)
    index = np.full(skel.shape, -1, np.int64)
    index[ys, xs] = np.arange(ys.size)
    padded = np.pad(skel, 1)
    h, w = skel.shape

    def at(dy: int, dx: int) -> np.ndarray:
        return padded[1 + dy:1 + dy + h, 1 + dx:1 + dx + w] == 1

    on = skel == 1
    pairs = {(0, 1): on & at(0, 1), (1, 0): on & at(1, 0),
             (1, 1): on & at(1, 1) & ~at(0, 1) & ~at(1, 0), (1, -1): on & at(1, -1) & ~at(0, -1) & ~at(1, 0)}
    edges = []
    for (dy, dx), both in pairs.items():
        py, px = np.nonzero(both)
        edges.append(np.stack([index[py, px], index[py + dy, px + dx]], 1))
    return np.stack([xs, ys], 1).astype(np.float32), np.concatenate(edges).reshape(-1, 2)


def prune(edges: np.ndarray, count: int, max_length: int = 3) -> np.ndarray:
    """Edges without the spurs that thinning grows at a blotted corner (the elbow of a 7 becomes a Y): a branch of
    at most ``max_length`` pixels from a free end to a junction is dropped. Separate short strokes stay."""
    neighbours: list[list[int]] = [[] for _ in range(count)]
    for a, b in edges.tolist():
        neighbours[a].append(b)
        neighbours[b].append(a)
    dropped = np.zeros(count, bool)
    for start in range(count):
        if len(neighbours[start]) != 1:
            continue
        branch, previous, current = [start], -1, start
        while len(branch) <= max_length:
            ahead = [n for n in neighbours[current] if n != previous]
            if len(ahead) != 1:
                break
            previous, current = current, ahead[0]
            if len(neighbours[current]) >= 3:  # reached a junction: a short spur
                dropped[branch] = True
                break
            branch.append(current)
    return edges[~(dropped[edges[:, 0]] | dropped[edges[:, 1]])]


def smooth(points: np.ndarray, edges: np.ndarray, iterations: int = 4) -> np.ndarray:
    """Laplacian smoothing along the skeleton graph: each inner point moves halfway to its neighbours' mean,
    which turns pixel staircases into smooth curves; end points stay put so strokes keep their length."""
    k = len(points)
    adjacency = np.zeros((k, k), np.float32)
    adjacency[edges[:, 0], edges[:, 1]] = 1
    adjacency[edges[:, 1], edges[:, 0]] = 1
    degree = adjacency.sum(1)
    inner = degree >= 2
    step = np.where(inner[:, None], adjacency / np.maximum(degree, 1)[:, None], 0) * 0.5
    step[np.arange(k), np.arange(k)] += np.where(inner, 0.5, 1.0)
    pts = points
    for _ in range(iterations):
        pts = step @ pts
    return pts


def segments(skel: np.ndarray, depth: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2, 2) float32 segments ((x0, y0), (x1, y1)) of the smoothed, de-spurred centre line (a lone pixel is a
    zero-length segment, a dot), followed by one zero-length segment per blob; and the blobs' radii.

    A blob is where the digit is much fatter than its usual stroke (``depth``: the distance to the background):
    a small loop the writer filled in (the head of a 9, the waist of an 8) or a blot. Thinning turns it into a
    bare line, which could change the digit (a 9 without its loop is a 1), so it is kept as a disc of the excess
    radius, redrawn around the pen (pixels of the skeleton's grid).
    """
    points, edges = graph(skel)
    if len(points) == 0:
        return np.zeros((0, 2, 2), np.float32), np.zeros(0, np.float32)
    kept = prune(edges, len(points))
    if len(kept):
        used = np.zeros(len(points), bool)
        used[kept.ravel()] = True
        used[np.setdiff1d(np.arange(len(points)), edges.ravel())] = True  # lone pixels (dots) stay
        remap = np.cumsum(used) - 1
        points, edges = points[used], remap[kept]
    radii = np.zeros(0, np.float32)
    centres = np.zeros((0, 2), np.float32)
    if depth is not None:
        r = depth[points[:, 1].astype(int), points[:, 0].astype(int)]
        usual = float(np.median(r))
        fat = (r > BLOB_RATIO * usual) & (r - usual >= 1.5)
        centres, radii = points[fat], (r[fat] - usual).astype(np.float32)
    pts = smooth(points, edges) if len(edges) else points
    linked = np.zeros(len(points), bool)
    linked[edges.ravel()] = True
    lone = np.flatnonzero(~linked)
    all_edges = np.concatenate([edges, np.stack([lone, lone], 1)])
    segs = pts[all_edges]
    blobs = np.stack([centres, centres], 1)
    return np.concatenate([segs, blobs]).astype(np.float32), radii


def digit_path(digit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A digit's centre line and blobs (see ``segments``), normalised: centred on its box, height 1 (width keeps
    the aspect); the blob radii in the same unit."""
    skel, mask = skeleton_and_mask(digit)
    depth = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5)
    segs, radii = segments(skel, depth)
    if segs.size == 0:
        return segs, radii
    pts = segs.reshape(-1, 2)
    lo, hi = pts.min(0), pts.max(0)
    height = max(float(hi[1] - lo[1]), 1.0)
    return ((segs - (lo + hi) / 2) / height).astype(np.float32), (radii / height).astype(np.float32)


def wobble(segs: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """A smooth random displacement (two low-frequency sine waves per axis) of normalised points: each writer's
    digit differs a little from MNIST's; equal points stay equal so the path stays connected."""
    if amount <= 0 or segs.size == 0:
        return segs
    pts = segs.reshape(-1, 2)
    out = pts.copy()
    for axis in (0, 1):
        for _ in range(2):
            freq = rng.uniform(0.5, 2.0, 2)
            phase = rng.uniform(0, 2 * np.pi)
            out[:, axis] += amount * rng.uniform(-1, 1) * np.sin(2 * np.pi * (pts @ freq) + phase)
    return out.reshape(segs.shape).astype(np.float32)


def pose(segs: np.ndarray, *, height: float, centre: tuple[float, float], degrees: float, shear: float,
         aspect: float) -> np.ndarray:
    """Normalised segments -> image coordinates: scaled to ``height`` pixels, sheared (slant), stretched in width
    by ``aspect``, rotated by ``degrees`` (counter-clockwise on screen) and moved to ``centre``."""
    if segs.size == 0:
        return segs
    t = np.deg2rad(degrees)
    rot = np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]], np.float32)
    shape = np.array([[aspect, -shear], [0.0, 1.0]], np.float32)
    m = (rot @ shape) * height
    pts = segs.reshape(-1, 2) @ m.T + np.asarray(centre, np.float32)
    return pts.reshape(segs.shape).astype(np.float32)


def draw(canvas: np.ndarray, segs: np.ndarray, width: float, *, antialias: bool = True, value: int = 255,
         blobs: np.ndarray | None = None) -> None:
    """Draws segments (image coordinates) with a round pen ``width`` pixels wide onto a uint8 canvas in place;
    the last ``len(blobs)`` segments are blob centres, filled to ``blobs`` pixels beyond the pen.

    OpenCV's thickness is an integer, so a fractional width is drawn with the nearest thickness; a pen thinner
    than a pixel is a one-pixel line made fainter in proportion, as a camera would record it.
    """
    if segs.size == 0:
        return
    if width < 1:
        value = max(1, int(round(value * max(width, 0.25))))
    thickness = max(1, int(round(width)))
    fixed = np.round(segs * 8).astype(np.int32)  # 3 fractional bits
    line = cv2.LINE_AA if antialias else cv2.LINE_8
    n_blobs = 0 if blobs is None else len(blobs)
    cv2.polylines(canvas, fixed[:len(fixed) - n_blobs], False, value, thickness, line, shift=3)
    for (centre, _), radius in zip(fixed[len(fixed) - n_blobs:], blobs if blobs is not None else ()):
        cv2.circle(canvas, (int(centre[0]), int(centre[1])), int(round((radius + width / 2) * 8)), value, -1,
                   line, shift=3)
