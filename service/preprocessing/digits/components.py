"""Which ink is the digit: the connected pieces of the mask that belong together, without specks, the page's
edges or the table's rim."""

from __future__ import annotations

import cv2
import numpy as np

# A digit that touches the image's edge was cropped tightly, so it is large: its box's longer side is at least
# this fraction of the image's short side (smaller things at the edge are slivers of page rim or rule).
TIGHT_CROP_MIN_SIDE = 0.25
# A free-standing component is taken for the digit over a larger one touching the border if it is at least
# this fraction of the larger one's area (specks around a tightly cropped digit are far smaller).
FREE_OVER_BORDER = 0.15
# A band (page edge, shadow's rim) is nearly straight: its smallest enclosing rectangle is at most this fraction
# as wide as it is long.
BAND_MAX_BULGE = 0.2
# Another figure standing apart from the digit (not grown into it) with at least this fraction of its ink and of its
# longer side makes the picture one of several things (scribbled marks, stripes, a word), not of one digit.
RIVAL_MIN_AREA = 0.25
RIVAL_MIN_SIDE = 0.5
# A smaller mark standing apart is a rival too when it is written with the same pen: at least SAME_INK_MIN_AREA of
# the figure's ink and SAME_INK_MIN_SIDE of its longer side, and as dark (its median darkness at least
# SAME_INK_MIN_DARKNESS of the figure's). Scribbled marks spread over a page are; the remains of a rule or the rim of
# a shadow beside a digit are fainter than its ink. Chosen on renders of one seed: of 5,000 rendered non-digits, it
# refuses 20 that the network accepted; of 4,385 rendered digits read right, 3 (a 1 in faint pencil beside a rule's
# remains as faint, a 5 whose flag stands far from its body, a figure of which the preprocessing kept a loop). On
# another seed's 3,000 and 3,000: 13 more non-digits and 2 digits refused. No real-digits or test-data input changes.
SAME_INK_MIN_AREA = 0.1
SAME_INK_MIN_SIDE = 0.3
SAME_INK_MIN_DARKNESS = 0.85
# This many pieces running off the picture beside the figure, each with at least RIVAL_MIN_AREA of its ink, make
# the figure one element of a pattern (stripes, the remains of a grid, foliage). Chosen on held-in renders: of
# 4,240 rendered digit photos, 4 have five such pieces and none six; of 3,630 non-digits, 67 have six or more.
PATTERN_MIN_PIECES = 6
# A figure that is one straight stroke (its smallest enclosing rectangle at most this fraction as wide as long)
# running off the picture on two or more sides needs only one such piece beside it to be a pattern: a rule of a
# blank page, one of a few wide stripes. Chosen on renders of one seed: of 2,000 rendered digits, 9 such strokes (all
# tightly cropped 1s), none with a piece beside it; of 2,000 non-digits, 31 such strokes that the network reads
# as a digit, 25 with one. On another seed's 3,000 and 3,000, the check refused 43 more non-digits and 3 digits, in
# each of which the preprocessing had kept a page's edge, not the digit.
STRIPE_MAX_BULGE = 0.25


def label_components(mask: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """8-connected components of a 0/255 mask: (count with the background, labels, stats), as
    ``cv2.connectedComponentsWithStats`` gives them. Grana's block-based algorithm gives the same labels and stats
    as OpenCV's default choice, in about a quarter of the time on a shrunk photo's mask (0.15 against 0.5 ms for
    320x240, one core)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(mask, 8, cv2.CV_32S, cv2.CCL_GRANA)
    return count, labels, stats


def stroke_width(mask: np.ndarray) -> float:
    """Typical stroke width in pixels: twice the distance-transform value along the strokes' ridges."""
    padded = cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)  # ink up to the edge is bounded
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, 3)
    ridge = (dist >= cv2.dilate(dist, np.ones((3, 3), np.uint8))) & (padded > 0)
    values = dist[ridge]
    return float(2.0 * np.median(values)) if values.size else 0.0


def is_band(component: np.ndarray, shape: tuple[int, int]) -> bool:
    """True for a long, thin component (``component``: its 0/255 crop): a paper edge, a shadow's rim, a rule.

    It spans half the image or more, its strokes are thinner than 4 % of its length, and it is nearly straight
    (its smallest enclosing rectangle is thin): a digit drawn with a thin pen is as long and as thin, but it
    curves. Only a piece that also runs off the picture is taken for one (``keep_digit``): a thin pen's long
    straight stroke (a 1's stem) ends inside the picture.
    """
    h, w = shape
    ch, cw = component.shape
    if cw < 0.5 * w and ch < 0.5 * h:
        return False
    if stroke_width(component) >= 0.04 * max(ch, cw):
        return False
    return _straight(component, BAND_MAX_BULGE)


def _straight(mask: np.ndarray, max_bulge: float) -> bool:
    """Is the mask's ink nearly straight: its smallest enclosing rectangle at most ``max_bulge`` as wide as long?"""
    _, (side_a, side_b), _ = cv2.minAreaRect(cv2.findNonZero(mask))
    return min(side_a, side_b) <= max_bulge * max(side_a, side_b)


def _touches_border(stats: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """For one component's stats row, or element-wise for a table of them: does its box reach the image's edge?"""
    x, y, bw, bh = (stats[..., k] for k in range(4))
    return (x <= 0) | (y <= 0) | (x + bw >= shape[1]) | (y + bh >= shape[0])


Components = tuple[int, np.ndarray, np.ndarray]  # what label_components returns


def keep_digit(mask: np.ndarray, components: Components | None = None) -> np.ndarray:
    """Keep the digit's strokes: the largest component and the sizeable ones near it; drop specks and edges.
    ``components``: the mask's labelling, when the caller has it already."""
    count, labels, stats = components or label_components(mask)
    if count <= 1:
        return mask
    h, w = mask.shape
    def band(i: int) -> bool:
        x, y, bw, bh, _ = stats[i]
        return _touches_border(stats[i], (h, w)) and is_band(
            np.where(labels[y : y + bh, x : x + bw] == i, 255, 0).astype(np.uint8), (h, w))

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
    # Grow the digit with the other strokes of the same figure (a 5's flag, a 4's stem, a 1's foot, a thin stroke
    # broken where the pen lifted): every sizeable piece near the figure's box, until no more join, so a chain of
    # pieces joins however it was cut. Bands (page edges, shadows' rims) and pieces at the border stay out.
    marea = stats[main, cv2.CC_STAT_AREA]
    inner = [i for i in range(1, count) if stats[i, cv2.CC_STAT_AREA] >= max(4, 0.05 * marea)
             and not _touches_border(stats[i], (h, w)) and (i in candidates or not band(i))]
    bx, by, bw, bh = stats[main, :4].astype(float)
    grown = True
    while grown:
        grown = False
        margin = 0.25 * max(bw, bh) + 2
        for idx in inner:
            x, y, cw, ch, _ = stats[idx]
            if keep[idx]:
                continue
            if x < bx + bw + margin and x + cw > bx - margin and y < by + bh + margin and y + ch > by - margin:
                keep[idx] = grown = True
                nx, ny = min(bx, x), min(by, y)
                bx, by, bw, bh = nx, ny, max(bx + bw, x + cw) - nx, max(by + bh, y + ch) - ny
    return np.where(keep[labels], 255, 0).astype(np.uint8)


def _other_pieces(mask: np.ndarray, kept: np.ndarray,
                  components: Components | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The mask's components apart from the kept figure: (labels, stats table without the background, which rows
    are not the figure's own pieces, which rows reach the image's edge). Row ``i`` of the table is label ``i + 1``."""
    _, labels, stats = components or label_components(mask)
    table = stats[1:]  # one row per component, the background dropped
    other = np.ones(len(table), dtype=bool)
    other[np.unique(labels[kept > 0]) - 1] = False  # the kept figure's own pieces
    return labels, table, other, _touches_border(table, mask.shape)


def in_pattern(mask: np.ndarray, kept: np.ndarray, components: Components | None = None) -> bool:
    """Is the figure ``keep_digit`` kept one of many sizeable pieces that run off the picture?

    ``has_rival`` leaves pieces at the border out, because one or two of them are the scene around a digit (a
    page's edge, a shadow, the table). Many of them, each of comparable ink, are a pattern the figure is part of:
    a striped cloth, a grid whose lines were removed in pieces, leaves. A page with a digit has a few at most.
    When the figure itself is a straight stroke running across the picture (``runs_across``), one is enough.
    """
    if not kept.any():
        return False
    _, table, other, at_border = _other_pieces(mask, kept, components)
    sizeable = table[:, cv2.CC_STAT_AREA] >= RIVAL_MIN_AREA * np.count_nonzero(kept)
    pieces = int((other & at_border & sizeable).sum())
    return pieces >= PATTERN_MIN_PIECES or (pieces >= 1 and runs_across(kept))


def runs_across(kept: np.ndarray) -> bool:
    """Is the figure one straight stroke that runs off the picture on two or more sides?

    A rule of a page or a stripe crosses the picture; a written digit ends inside it. A tightly cropped 1 can run
    off at both ends too, which is why ``in_pattern`` also asks for another piece running off beside it.
    """
    x, y, w, h = cv2.boundingRect(kept)
    height, width = kept.shape
    if int(x <= 0) + int(y <= 0) + int(x + w >= width) + int(y + h >= height) < 2:
        return False
    return _straight(kept, STRIPE_MAX_BULGE)


def has_rival(mask: np.ndarray, kept: np.ndarray, components: Components | None = None,
              ink: np.ndarray | None = None) -> bool:
    """Does ``mask`` hold, apart from the figure ``keep_digit`` kept (``kept``), another free-standing figure of
    comparable size, or a smaller one of the same ink? ``components``: the mask's labelling, when the caller has it
    already; ``ink``: the darkness image the mask was cut from (without it, only size counts).

    ``keep_digit`` already joins every sizeable piece near the figure, so what is left and still large stands
    apart from it: a second mark, stripe or word. The picture then shows several things, and reading one of them
    as "the digit" would answer for a piece of it. Pieces touching the border (the page's edge, a shadow's rim,
    the table) do not count: they are the scene, not figures.
    """
    if not kept.any():
        return False
    labels, table, other, at_border = _other_pieces(mask, kept, components)
    _, _, w, h = cv2.boundingRect(kept)
    width, height, area = table[:, cv2.CC_STAT_WIDTH], table[:, cv2.CC_STAT_HEIGHT], table[:, cv2.CC_STAT_AREA]
    kept_area, kept_side, side = np.count_nonzero(kept), max(w, h), np.maximum(width, height)
    apart = other & ~at_border
    if (apart & (area >= RIVAL_MIN_AREA * kept_area) & (side >= RIVAL_MIN_SIDE * kept_side)).any():
        return True
    if ink is None:
        return False
    marks = np.flatnonzero(apart & (area >= SAME_INK_MIN_AREA * kept_area) & (side >= SAME_INK_MIN_SIDE * kept_side))
    if not marks.size:
        return False
    level = SAME_INK_MIN_DARKNESS * float(np.median(ink[kept > 0]))
    for row in marks:
        x, y, bw, bh = table[row, :4]
        box = (slice(y, y + bh), slice(x, x + bw))
        if float(np.median(ink[box][labels[box] == row + 1])) >= level:
            return True
    return False
