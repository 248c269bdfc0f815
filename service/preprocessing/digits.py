"""Photo of a handwritten digit -> a 28x28 image in the MNIST convention (white ink on black, centred).

MNIST was made by scaling each digit to fit a 20x20 box (keeping its aspect ratio) and putting its centre of
mass at the centre of a 28x28 field. A phone photo of ink on paper differs in every respect: polarity, uneven
light, ruled lines, specks, the table beyond the paper's edge, size and stroke width. Each step below undoes one
of those differences; each is a pure function so tests and training can use them one by one.

All the cleaning happens on a copy shrunk to ``WORK_SIDE`` pixels: one digit needs no more, and the whole
pipeline then costs a few milliseconds whatever the camera's resolution (``test-data/score.py`` measures it).
"""

from __future__ import annotations

import cv2
import numpy as np

MNIST_SIZE = 28
MNIST_BOX = 20
# MNIST's centre of mass sits at pixel (14, 14) (row, column; measured on the test set: 13.99, 14.00).
MNIST_CENTRE = 14.0
# Images up to this size are treated as scans or drawings of one digit, not as photos.
MNIST_STYLE_MAX_SIDE = 64
WORK_SIDE = 320  # photos are shrunk to about this before cleaning: plenty for one digit, cheap to process
# Stroke width of an MNIST digit relative to the longer side of its box (about 2.4 px in the 20-pixel box).
STROKE_RATIO = 0.12
# Below this darkness (fraction of the paper's brightness) nothing on the page counts as ink: blank paper stays blank.
MIN_INK_CONTRAST = 0.12
# A ground darker than this (grey level of the median pixel) with few bright pixels holds light ink (MNIST, chalk).
DARK_GROUND = 90
# Hysteresis: a stroke grows from its dark core into neighbours at least this fraction as dark.
WEAK_INK = 0.7
# The edge between table and paper is sharp (30-70 grey levels per pixel of the coarse copy on the test photos),
# a shadow's rim is soft (1-5): a dark region at the border with a sharper rim than this is the table.
TABLE_EDGE_SHARPNESS = 15.0
# ... and runs along at least this fraction of one side of the image.
TABLE_MIN_CONTACT = 0.3
# A digit that touches the image's edge was cropped tightly, so it is large: its box's longer side is at least
# this fraction of the image's short side (smaller things at the edge are slivers of page rim or rule).
TIGHT_CROP_MIN_SIDE = 0.25
# A free-standing component is taken for the digit over a larger one touching the border if it is at least
# this fraction of the larger one's area (specks around a tightly cropped digit are far smaller).
FREE_OVER_BORDER = 0.15
# Rule candidates: straight thin lines at least this fraction of the image's short side long ...
RULE_MIN_SPAN = 0.4
# ... that, refitted, have thin ink over at least this fraction of the image's width (or height); a digit's
# straight stroke (the tallest digits here are 55 % of the short side) does not.
RULE_MIN_SUPPORT = 0.45
# ... and that run from one side of the picture to the other: both ends of their thin ink within this fraction of
# the picture's width (or height) from its edges. A digit's stroke ends inside the picture, however long it is.
RULE_EDGE_REACH = 0.06


def to_gray(image: np.ndarray) -> np.ndarray:
    """uint8 grayscale from a decoded gray or BGR image."""
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def _border(gray: np.ndarray) -> np.ndarray:
    return np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])


def _border_median(gray: np.ndarray) -> float:
    """Median of the border pixels. Not ``np.median``: its generic path costs ~8 us per call on the hot path of
    every small digit request; sorting the ~100 border values costs ~1.5 us and gives the same number."""
    values = np.sort(_border(gray), axis=None)
    n = values.size
    return (int(values[(n - 1) // 2]) + int(values[n // 2])) / 2


def is_mnist_style(gray: np.ndarray) -> bool:
    """True for images already in the MNIST convention: small, dark background, some bright ink."""
    if max(gray.shape) > MNIST_STYLE_MAX_SIDE:
        return False
    return _border_median(gray) < 64 and int(gray.max()) > 128


def small_inverted(gray: np.ndarray) -> np.ndarray:
    """A small dark-on-light digit image made white on black, its background (the border's median) at 0.

    Photo cleaning is pointless (and too coarse) at this size; an inverted 28x28 MNIST digit comes back exact.
    """
    ink = 255 - gray.astype(np.int32)
    background = int(_border_median(ink.astype(np.uint8)))
    peak = int(ink.max())
    if peak <= background:
        return np.zeros_like(gray)
    ink = ink - background
    if peak - background < 128:  # faint (pencil on grey paper): stretch so the ink reads as ink
        ink = ink * 255 // (peak - background)
    return np.clip(ink, 0, 255).astype(np.uint8)


def shrink(gray: np.ndarray, side: int = WORK_SIDE) -> np.ndarray:
    """Shrink so the longer side is at most ``side``; small images are left alone."""
    h, w = gray.shape
    scale = side / max(h, w)
    if scale >= 1:
        return gray
    return cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def _coarse(gray: np.ndarray) -> tuple[np.ndarray, int]:
    """A copy about 80 pixels on its short side and the kernel size (a quarter of that side) used on it.

    The kernel is wider than any pen stroke but narrower than the page, its shadows and the table around it.
    """
    h, w = gray.shape
    factor = max(1, min(h, w) // 80)
    small = cv2.resize(gray, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    return small, max(3, (min(small.shape) // 4) | 1)


def ink_is_dark(gray: np.ndarray) -> bool:
    """True for dark ink on light paper (the usual photo), False for light ink on a dark ground (MNIST, chalk).

    Ink covers a small part of the picture: on a light page most pixels are brighter than halfway between
    the darkest and the brightest, on a dark ground few are, and the typical pixel is dark in absolute terms.
    Both must hold to call the ink light: a page mostly in shadow has few bright pixels too, but its
    typical pixel is still grey. (Comparing top-hats failed on loops of ink that enclose paper.)
    """
    small, _ = _coarse(gray)
    low, median, high = np.percentile(small, (1, 50, 99))
    if high - low < 1:
        return True
    few_bright = np.mean(small > (low + high) / 2) <= 0.25
    return not (few_bright and median < DARK_GROUND)


def paper_level(gray: np.ndarray) -> np.ndarray:
    """Local brightness of the paper under dark ink, estimated on a coarse copy and upsampled.

    A closing wider than any pen stroke lifts the ink to the paper around it (and, unlike a plain max filter,
    does not spill bright paper into the dark side of a shadow); a median then smooths what is left while
    keeping the edge of a shadow, so the estimate follows the scene's light but not the ink.
    """
    h, w = gray.shape
    small, k = _coarse(gray)
    # Beyond the image's edge lies more of the paper along that edge: the edge's own brightest pixels nearby
    # (a 1-D max filter along it) are repeated outwards. A bold stroke cut by a tight crop is then lifted
    # from that side too, while a page darker towards its edges (vignetting) is still followed.
    pad = k // 2
    along = np.ones((1, k), np.uint8)
    edge = small.copy()
    edge[[0, -1], :] = cv2.dilate(small[[0, -1], :], along)
    edge[:, [0, -1]] = cv2.dilate(small[:, [0, -1]].T.copy(), along).T
    padded = cv2.copyMakeBorder(edge, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    padded[pad : pad + small.shape[0], pad : pad + small.shape[1]] = small
    lifted = cv2.morphologyEx(padded, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    level = cv2.medianBlur(lifted, k)[pad : pad + small.shape[0], pad : pad + small.shape[1]]
    level = cv2.resize(level, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.maximum(level, gray)


def _is_strip(component: np.ndarray, area: int) -> bool:
    """True for a region lying along the image's sides, as the table beyond the page does.

    It runs along a good part of at least one side, and nearly all of it is reached by walking straight in
    from a side. A digit cropped so tightly that it touches the edge fails one of the two (a 2 whose base
    lies on the edge: the rest of the 2 is not reached from the edge).
    """
    sides = (component, component[::-1], component.T, component.T[::-1])  # from top, bottom, left, right
    contact = max(float(side[0].mean()) for side in sides)
    if contact < TABLE_MIN_CONTACT:
        return False
    reached = sum(int(np.cumprod(side, axis=0).sum()) for side in sides)
    return reached >= 0.7 * area


def beyond_page(gray: np.ndarray) -> np.ndarray:
    """Boolean mask of what lies beyond the page (the table, a dark background) in a dark-ink-on-light image.

    The table is far darker than the paper (below half its brightness), reaches the image's edge, and meets
    the paper along a sharp edge; a shadow on the paper is as dark at worst but has a soft rim, and the digit
    does not reach the edge. Without this mask the table's rim would be taken for ink: the paper-level
    estimate cannot follow a narrow strip of table.
    """
    h, w = gray.shape
    small, _ = _coarse(gray)
    smooth = cv2.medianBlur(small, 5) if min(small.shape) >= 5 else small
    dark = (smooth < 0.5 * float(np.percentile(smooth, 95))).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(dark, connectivity=8)
    if count <= 1:
        return np.zeros((h, w), dtype=bool)
    f = smooth.astype(np.float32)
    sharpness = np.hypot(cv2.Sobel(f, cv2.CV_32F, 1, 0), cv2.Sobel(f, cv2.CV_32F, 0, 1)) / 8  # grey levels per pixel
    sh, sw = small.shape
    table = np.zeros(count, dtype=bool)
    for i in range(1, count):
        component = (labels == i).astype(np.uint8)
        if not _is_strip(component, stats[i, cv2.CC_STAT_AREA]):
            continue
        rim = (cv2.dilate(component, np.ones((3, 3), np.uint8)) > 0) & (component == 0)
        # The table's rim is sharp all round; a shadow merged with dark ink has a soft rim in places.
        table[i] = bool(rim.any()) and float(np.percentile(sharpness[rim], 25)) >= TABLE_EDGE_SHARPNESS
    if not table.any():
        return np.zeros((h, w), dtype=bool)
    mask = np.where(table[labels], 255, 0).astype(np.uint8)
    mask = cv2.dilate(mask, np.ones((3, 3), np.uint8))  # cover the page's blurred rim
    return cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST) > 0


def darkness(gray: np.ndarray) -> np.ndarray:
    """Ink map: uint8, 255 * (1 - pixel / local paper level); polarity, uneven light and the table undone.

    Dividing by the paper's local level (rather than subtracting it) also undoes shadows, which dim ink and
    paper by the same factor.
    """
    dark_on_light = gray if ink_is_dark(gray) else 255 - gray
    paper = paper_level(dark_on_light)
    # On a nearly black page the ratio would turn sensor noise into "ink": the level is floored.
    ink = cv2.divide(cv2.subtract(paper, dark_on_light), np.maximum(paper, 32), scale=255)
    ink[beyond_page(dark_on_light)] = 0
    return ink


def binarize(ink: np.ndarray) -> np.ndarray:
    """Ink mask (0/255) from the ink map: Otsu with hysteresis; a page without contrast gives no ink.

    Otsu alone cuts thin, blurred strokes into pieces and, on a page lit unevenly, picks up the faint
    leftovers of shadows. So pixels above Otsu's level (and at least half as dark as the darkest ink) seed
    the strokes, and each stroke then grows into its fainter neighbours down to ``WEAK_INK`` of that level
(printed rules, fainter than ink, mostly stay out).
    """
    blurred = cv2.GaussianBlur(ink, (3, 3), 0)
    if blurred.size == 0:
        return np.zeros_like(ink)
    peak = float(np.percentile(blurred, 99.8))
    if peak < 255 * MIN_INK_CONTRAST:
        return np.zeros_like(ink)
    otsu, _ = cv2.threshold(blurred, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    high = max(otsu, 0.5 * peak, 255 * MIN_INK_CONTRAST)
    strong = blurred > high
    weak = (blurred > WEAK_INK * high).astype(np.uint8)
    count, labels = cv2.connectedComponents(weak, connectivity=8)
    seeded = np.zeros(count, dtype=bool)
    seeded[np.unique(labels[strong])] = True
    seeded[0] = False
    return np.where(seeded[labels], 255, 0).astype(np.uint8)


def find_rules(mask: np.ndarray) -> list[tuple[float, float, float, float]]:
    """Long straight thin lines (ruled or squared paper, margin lines), at any small tilt.

    Returns segments (x1, y1, x2, y2). Only thin structures are searched (what an opening with a 7x7 square
    removes): pen strokes are thicker, and the search stays cheap. Digit strokes are also shorter than a
    rule must be.
    """
    h, w = mask.shape
    if min(h, w) < 16 or not mask.any():
        return []
    thin = cv2.subtract(mask, cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((7, 7), np.uint8)))
    short = min(h, w)
    edges = cv2.HoughLinesP(
        thin, 1, np.pi / 180, threshold=max(10, int(0.2 * short)), minLineLength=int(RULE_MIN_SPAN * short),
        maxLineGap=max(3, int(0.06 * short)),
    )
    if edges is None:
        return []
    return [tuple(segment) for segment in np.asarray(edges).reshape(-1, 4).astype(float)[:80]]


def _fit_thin_line(
    m: np.ndarray, xs: np.ndarray, slope: float, icept: float
) -> tuple[float, float, float, int, int, int] | None:
    """Refit y = slope * x + icept to the thin ink within 5 rows of it.

    Returns (slope, icept, thickness, support, first, last): only columns where the window holds a short run of
    ink with paper at both ends count (support); first and last are the outermost such columns.
    """
    h = m.shape[0]
    guess = np.rint(icept + xs * slope).astype(int)
    rows = np.clip(guess[:, None] + np.arange(-5, 6)[None, :], 0, h - 1)
    hits = m[rows, xs[:, None]] > 0
    counts = hits.sum(axis=1)
    thin = (counts > 0) & (counts <= 7) & ~hits[:, 0] & ~hits[:, -1]
    if thin.sum() < 8:
        return None
    centres = (rows * hits).sum(axis=1)[thin] / counts[thin]
    fit_slope, fit_icept = np.polyfit(xs[thin], centres, 1)
    supported = xs[thin]
    return (float(fit_slope), float(fit_icept), float(np.median(counts[thin])), int(thin.sum()),
            int(supported[0]), int(supported[-1]))


def _erase_rule(mask: np.ndarray, segment: tuple[float, float, float, float], guide: np.ndarray) -> None:
    """Erase one rule in place from ``mask`` (keeping the ink that touches or crosses it) and from ``guide``.

    The Hough segment is only roughly placed (one-degree steps), so the line is first refitted to the pixels
    near it in ``guide`` (the faint-ink mask, where rules are whole); a fit supported by less than
    ``RULE_MIN_SUPPORT`` of the image's width is no rule (a digit's straight stroke) and is left alone.
    Then a band as thick as the rule is cleared, except where ink continues just above or below the band:
    a stroke crossing the rule keeps its pixels, and a stroke lying along the rule keeps its full width (at
    the price of a stub of rule as long as the stroke, which only thickens its edge).
    """
    x1, y1, x2, y2 = segment
    horizontal = abs(x2 - x1) >= abs(y2 - y1)
    m = mask if horizontal else mask.T  # a view: erasing in m erases in mask
    g = guide if horizontal else guide.T
    if not horizontal:
        x1, y1, x2, y2 = y1, x1, y2, x2
    h, w = m.shape
    slope = (y2 - y1) / (x2 - x1) if x2 != x1 else 0.0
    lo, hi = int(max(0, min(x1, x2) - 8)), int(min(w, max(x1, x2) + 9))
    fit = _fit_thin_line(g, np.arange(lo, hi), slope, y1 - x1 * slope)  # refine on the segment itself
    if fit is None:
        return
    fit = _fit_thin_line(g, np.arange(w), *fit[:2])  # then follow it across the whole image
    if fit is None or fit[3] < max(8, RULE_MIN_SUPPORT * w):
        return
    fit_slope, fit_icept, thickness, _, first, last = fit
    reach = RULE_EDGE_REACH * w
    if first > reach or last < w - 1 - reach:
        return  # it ends inside the picture: a digit's own straight stroke, not a line printed across the page
    xs = np.arange(w)
    centre = np.rint(fit_icept + fit_slope * xs).astype(int)
    inside = (centre >= 0) & (centre < h)
    xs, centre = xs[inside], centre[inside]
    half = int(np.ceil(thickness / 2))
    above = np.clip(centre - half - 2, 0, h - 1)
    below = np.clip(centre + half + 2, 0, h - 1)
    touching = (m[above, xs] > 0) | (m[below, xs] > 0)
    rows = centre[None, :] + np.arange(-half, half + 1)[:, None]
    cols = np.broadcast_to(xs, rows.shape)
    inside = (rows >= 0) & (rows < h)
    m[rows[inside & ~touching], cols[inside & ~touching]] = 0
    g[rows[inside], cols[inside]] = 0  # the guide loses the whole rule: it is not found a second time


def _still_there(mask: np.ndarray, segment: tuple[float, float, float, float]) -> bool:
    """True when most points along the segment are still ink (Hough reports one rule several times)."""
    x1, y1, x2, y2 = segment
    t = np.linspace(0.0, 1.0, 32)
    xs = np.clip(np.rint(x1 + t * (x2 - x1)).astype(int), 0, mask.shape[1] - 1)
    ys = np.clip(np.rint(y1 + t * (y2 - y1)).astype(int), 0, mask.shape[0] - 1)
    top, left = max(int(ys.min()) - 2, 0), max(int(xs.min()) - 2, 0)
    near = cv2.dilate(mask[top : ys.max() + 3, left : xs.max() + 3], np.ones((5, 5), np.uint8))
    return bool((near[ys - top, xs - left] > 0).mean() > 0.5)


def faint_ink(ink: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mask of everything darker than the paper, however faintly: rules come out whole here, not just the
    pieces that touch the digit, so they can be found and followed."""
    level = max(255 * 0.6 * MIN_INK_CONTRAST, 0.3 * float(np.percentile(ink, 99.8)))
    return np.where((cv2.GaussianBlur(ink, (3, 3), 0) > level) | (mask > 0), 255, 0).astype(np.uint8)


def remove_rules(mask: np.ndarray, ink: np.ndarray | None = None) -> np.ndarray:
    """Erase ruled lines, squared-paper grids and margin lines; strokes that cross them survive.

    ``ink`` (the ink map the mask came from) lets rules be found in full even when only their pieces
    touching the digit made it into the mask.
    """
    guide = mask if ink is None else faint_ink(ink, mask)
    cleaned = mask.copy()
    for segment in find_rules(guide):
        if _still_there(guide, segment):
            _erase_rule(cleaned, segment, guide)
    return cleaned


def is_band(component: np.ndarray, shape: tuple[int, int]) -> bool:
    """True for a long, thin component (``component``: its 0/255 crop): a paper edge, a shadow's rim, a rule.

    It spans half the image or more, yet its strokes are thinner than 4 % of its length; a digit that
    large is drawn with a broader pen.
    """
    h, w = shape
    ch, cw = component.shape
    if cw < 0.5 * w and ch < 0.5 * h:
        return False
    return stroke_width(component) < 0.04 * max(ch, cw)


def _touches_border(stats_row: np.ndarray, shape: tuple[int, int]) -> bool:
    x, y, bw, bh, _ = stats_row
    return bool(x <= 0 or y <= 0 or x + bw >= shape[1] or y + bh >= shape[0])


def keep_digit(mask: np.ndarray) -> np.ndarray:
    """Keep the digit's strokes: the largest component and the sizeable ones near it; drop specks and edges."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return mask
    h, w = mask.shape
    def band(i: int) -> bool:
        x, y, bw, bh, _ = stats[i]
        return is_band(np.where(labels[y : y + bh, x : x + bw] == i, 255, 0).astype(np.uint8), (h, w))

    biggest = stats[1:, cv2.CC_STAT_AREA].max()
    candidates = [i for i in range(1, count) if stats[i, cv2.CC_STAT_AREA] >= 0.1 * biggest and not band(i)]
    if not candidates:
        # Only long thin things: a long thin digit (a "1") stands free, a page edge or a rule runs off the image.
        candidates = [i for i in range(1, count) if not _touches_border(stats[i], (h, w))]
        if not candidates:
            return np.zeros_like(mask)
    areas = stats[candidates, cv2.CC_STAT_AREA]
    order = [candidates[i] for i in np.argsort(areas)[::-1]]
    main = order[0]
    # A blob that touches the border is usually the table, a shadow's edge or the page's edge, not the digit;
    # but a digit cropped tightly touches it too, and then the specks around it must not win.
    for idx in order:
        if stats[idx, cv2.CC_STAT_AREA] < FREE_OVER_BORDER * areas.max():
            break
        if not _touches_border(stats[idx], (h, w)):
            main = idx
            break
    if _touches_border(stats[main], (h, w)) and max(stats[main, cv2.CC_STAT_HEIGHT], stats[main, cv2.CC_STAT_WIDTH]) < (
        TIGHT_CROP_MIN_SIDE * min(h, w)
    ):
        return np.zeros_like(mask)  # a sliver at the edge (page rim, a rule's end), not a tightly cropped digit
    keep = np.zeros(count, dtype=bool)
    keep[main] = True
    inner = [i for i in candidates if not _touches_border(stats[i], (h, w))]
    # Grow the digit with strokes the cleaning cut off (a 5's flag, a 4's stem): sizeable and close by.
    box = stats[main, :4].astype(float)
    marea = stats[main, cv2.CC_STAT_AREA]
    for _ in range(2):
        bx, by, bw, bh = box
        margin = 0.25 * max(bw, bh) + 2
        for idx in inner:
            x, y, cw, ch, area = stats[idx]
            if keep[idx] or area < max(4, 0.05 * marea):
                continue
            if x < bx + bw + margin and x + cw > bx - margin and y < by + bh + margin and y + ch > by - margin:
                keep[idx] = True
                nx, ny = min(bx, x), min(by, y)
                box = np.array([nx, ny, max(bx + bw, x + cw) - nx, max(by + bh, y + ch) - ny], float)
                bx, by, bw, bh = box
    return np.where(keep[labels], 255, 0).astype(np.uint8)


def stroke_width(mask: np.ndarray) -> float:
    """Typical stroke width in pixels: twice the distance-transform value along the strokes' ridges."""
    padded = cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)  # ink up to the edge is bounded
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, 3)
    ridge = (dist >= cv2.dilate(dist, np.ones((3, 3), np.uint8))) & (padded > 0)
    values = dist[ridge]
    return float(2.0 * np.median(values)) if values.size else 0.0


def crop(mask: np.ndarray) -> np.ndarray:
    """The bounding box of the ink."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return mask
    return mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def normalise_stroke(digit: np.ndarray) -> np.ndarray:
    """Bring the strokes to MNIST's width relative to the digit's size.

    Thin pens are thickened (they would vanish when shrunk to 20 pixels). Bold markers are thinned, unless
    thinning would cut a thin join (the bar of an open 4) or erase a part.
    """
    side = max(digit.shape)
    width = stroke_width(digit)
    if width <= 0:
        return digit
    delta = int(round((STROKE_RATIO * side - width) / 2))
    if delta == 0:
        return digit
    pad = abs(delta) + 1
    padded = cv2.copyMakeBorder(digit, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(delta) + 1, 2 * abs(delta) + 1))
    if delta > 0:
        return crop(cv2.dilate(padded, kernel))
    thinned = cv2.erode(padded, kernel)
    if cv2.connectedComponents(thinned)[0] != cv2.connectedComponents(padded)[0]:
        return digit  # thinning would cut a thin join (the bar of an open 4): leave the digit bold
    return crop(thinned)


def fit_box(digit: np.ndarray, box: int = MNIST_BOX) -> np.ndarray:
    """Scale (float32, area-averaged) so the longer side is ``box`` pixels, keeping the aspect ratio."""
    h, w = digit.shape
    scale = box / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(digit.astype(np.float32), (nw, nh), interpolation=interpolation)


def center_of_mass(field: np.ndarray) -> tuple[float, float]:
    """(row, column) centre of mass of a non-negative image; the geometric centre when it is empty."""
    total = float(field.sum())
    if total <= 0:
        return (field.shape[0] - 1) / 2, (field.shape[1] - 1) / 2
    ys, xs = np.indices(field.shape)
    return float((ys * field).sum() / total), float((xs * field).sum() / total)


def center_mnist(digit: np.ndarray) -> np.ndarray:
    """Fit into a 20x20 box keeping the aspect ratio, then move the centre of mass to (14, 14) in 28x28."""
    small = fit_box(digit)
    nh, nw = small.shape
    field = np.zeros((MNIST_SIZE, MNIST_SIZE), np.float32)
    top, left = (MNIST_SIZE - nh) // 2, (MNIST_SIZE - nw) // 2
    field[top : top + nh, left : left + nw] = small
    if field.sum() > 0:
        cy, cx = center_of_mass(field)
        shift = np.float32([[1, 0, MNIST_CENTRE - cx], [0, 1, MNIST_CENTRE - cy]])
        field = cv2.warpAffine(field, shift, (MNIST_SIZE, MNIST_SIZE), flags=cv2.INTER_LINEAR, borderValue=0)
    peak = field.max()
    return field / peak if peak > 0 else field


def photo_mask(gray: np.ndarray) -> np.ndarray:
    """The digit's ink as a 0/255 mask on the shrunk photo (empty when no ink is found)."""
    ink = darkness(shrink(gray))
    return keep_digit(remove_rules(binarize(ink), ink))


def to_mnist(image: np.ndarray) -> np.ndarray:
    """Decoded image (gray or BGR uint8) -> float32 28x28 in [0, 1], white ink on black, centred as MNIST."""
    gray = to_gray(image)
    if gray.size == 0:
        return np.zeros((MNIST_SIZE, MNIST_SIZE), np.float32)
    mnist_style = is_mnist_style(gray)
    if not mnist_style and max(gray.shape) <= MNIST_STYLE_MAX_SIDE and ink_is_dark(gray):
        gray = small_inverted(gray)  # a small scan or drawing, black on white: MNIST's convention but inverted
        mnist_style = is_mnist_style(gray)
    if mnist_style:
        if gray.shape == (MNIST_SIZE, MNIST_SIZE):
            return gray.astype(np.float32) / 255.0
        return center_mnist(crop(np.where(gray > 32, gray, 0).astype(np.uint8)))
    digit = crop(photo_mask(gray))
    if not digit.any():
        return np.zeros((MNIST_SIZE, MNIST_SIZE), np.float32)
    return center_mnist(normalise_stroke(digit))
