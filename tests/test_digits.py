"""Photo -> MNIST preprocessing, one step at a time, on small synthetic images whose answer is known.

Known limit (not tested as passing): ink massed wider than a quarter of the image's short side (a very bold 2
cropped through its base) cannot be told from a shadow by the paper-level estimate and is partly lost.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from service.preprocessing import digits

TEST_DATA = Path(__file__).resolve().parent.parent / "test-data"


def page(h: int = 240, w: int = 320, paper: int = 235) -> np.ndarray:
    return np.full((h, w), paper, np.uint8)


def write(image: np.ndarray, text: str = "7", at: tuple[int, int] = (120, 170), scale: float = 3.0,
          thickness: int = 9, ink: int = 30) -> np.ndarray:
    cv2.putText(image, text, at, cv2.FONT_HERSHEY_SIMPLEX, scale, ink, thickness, cv2.LINE_AA)
    return image


def ink_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(ys.min()), int(ys.max()), int(xs.min()), int(xs.max())


def digit_mask(h: int = 240, w: int = 320) -> np.ndarray:
    """The ink of a clean ``write`` as a 0/255 mask: what each cleaning step should give back."""
    return np.where(write(page(h, w)) < 128, 255, 0).astype(np.uint8)


# ------------------------------------------------------------------ polarity


@pytest.mark.parametrize(
    ("image", "dark"),
    [
        (write(page()), True),
        (255 - write(page()), False),
        (write(page(paper=180), ink=60), True),
        (cv2.resize(255 - write(page()), (28, 28), interpolation=cv2.INTER_AREA), False),
    ],
    ids=["dark-on-light", "light-on-dark", "grey-paper-pencil", "small-white-on-black"],
)
def test_ink_polarity(image: np.ndarray, dark: bool) -> None:
    assert digits.ink_is_dark(image) is dark


def test_ink_is_dark_on_a_page_half_in_shadow() -> None:
    image = write(page()).astype(np.float32)
    image[:, 100:] *= 0.45  # more than half the page in deep shadow
    assert digits.ink_is_dark(image.astype(np.uint8))


@pytest.mark.parametrize("invert", [False, True], ids=["dark-ink", "light-ink"])
def test_darkness_makes_ink_bright_and_paper_black(invert: bool) -> None:
    image = write(page())
    ink = digits.darkness(255 - image if invert else image)
    stroke = digit_mask() > 0
    assert ink[stroke].mean() > 150
    assert ink[~stroke].mean() < 20


# ------------------------------------------------------------------ uneven light, table, threshold


def test_binarize_finds_the_digit_under_a_shadow_and_a_gradient() -> None:
    h, w = 240, 320
    light = np.linspace(1.0, 0.6, w, dtype=np.float32)[None, :] * np.ones((h, 1), np.float32)
    light[:, 200:] *= 0.6  # a shadow falls across the digit's right half
    image = (write(page(h, w)).astype(np.float32) * light).astype(np.uint8)
    mask = digits.binarize(digits.darkness(image))
    truth = digit_mask(h, w) > 0
    found = mask > 0
    assert (found & truth).sum() > 0.9 * truth.sum()
    assert (found & ~truth).sum() < 0.1 * truth.sum()


def test_table_beyond_the_page_is_not_ink() -> None:
    image = np.full((240, 320), 60, np.uint8)  # dark table
    image[20:230, 30:300] = 230  # the page
    write(image)
    assert digits.beyond_page(image)[5, 5]
    assert not digits.beyond_page(image)[120, 160]
    mask = digits.photo_mask(image)
    assert ink_box(mask) == ink_box(digit_mask())


@pytest.mark.parametrize("image", [page(), np.zeros((50, 60), np.uint8), np.full((300, 400), 128, np.uint8)],
                         ids=["white", "black", "grey"])
def test_blank_page_has_no_ink(image: np.ndarray) -> None:
    assert not digits.binarize(digits.darkness(image)).any()
    assert not digits.to_mnist(image).any()


def test_blank_paper_with_grain_gives_zeros() -> None:
    rng = np.random.default_rng(0)
    image = np.clip(page() + rng.normal(0, 3, (240, 320)), 0, 255).astype(np.uint8)
    assert not digits.to_mnist(image).any()


def test_blank_ruled_paper_with_a_table_edge_gives_zeros() -> None:
    image = page()
    for y in range(20, 240, 30):
        cv2.line(image, (0, y), (319, y + 3), 170, 2)
    cv2.line(image, (40, 0), (40, 239), 120, 2)
    image[228:, :] = 70  # the table along the bottom edge
    assert not digits.to_mnist(image).any()


# ------------------------------------------------------------------ rules and specks


@pytest.mark.parametrize("tilt", [0, 6, -10], ids=["level", "tilted-down", "tilted-up"])
def test_ruled_lines_are_removed_and_the_digit_kept(tilt: int) -> None:
    mask = digit_mask()
    with_rules = mask.copy()
    for y in range(30, 240, 45):  # rules crossing the whole page, some through the digit
        cv2.line(with_rules, (0, y), (319, y + tilt), 255, 2)
    cv2.line(with_rules, (40, 0), (42, 239), 255, 2)  # a margin line
    cleaned = digits.remove_rules(with_rules)
    truth = mask > 0
    near_ink = cv2.dilate(mask, np.ones((11, 11), np.uint8)) > 0  # rules may leave stubs where they touch ink
    assert not cleaned[~near_ink].any()
    assert (cleaned[truth] > 0).sum() > 0.97 * truth.sum()


def ruled_page_on_a_table(margin: bool) -> np.ndarray:
    """A "7" on ruled paper whose margin line runs from the top down to the table showing along the bottom."""
    image = page()
    for y in range(25, 200, 30):
        cv2.line(image, (0, y), (319, y + 3), 170, 2)
    if margin:
        cv2.line(image, (60, 0), (62, 239), 120, 2)
    image[205:, :] = 60  # the table beyond the page's edge
    return write(image, "7", at=(150, 170))


def test_a_rule_ending_at_the_pages_edge_is_removed() -> None:
    """A line printed across the page ends where the page does, inside the picture when the table shows: it is
    still a rule, and the digit reaches the network as it would without it."""
    image = ruled_page_on_a_table(margin=True)
    ink, beyond = digits.darkness_and_page(image)
    assert beyond[230, 60] and not beyond[100, 60]
    mask = digits.binarize(ink)
    assert mask[100:190, 58:65].any()  # the margin line is ink, until the rules are removed
    assert not digits.remove_rules(mask, ink, beyond)[100:190, 58:65].any()
    with_margin, without = digits.to_mnist(image), digits.to_mnist(ruled_page_on_a_table(margin=False))
    assert np.abs(with_margin - without).max() < 0.05


@pytest.mark.parametrize("text", ["1", "4", "7", "2"])
def test_digits_are_not_taken_for_rules(text: str) -> None:
    mask = np.where(write(page(), text, at=(110, 200), scale=4.5, thickness=6) < 128, 255, 0).astype(np.uint8)
    assert (digits.remove_rules(mask) == mask).all()


def test_a_bold_one_half_the_page_tall_is_not_a_rule() -> None:
    tall_one = np.zeros((240, 320), np.uint8)
    cv2.line(tall_one, (160, 60), (150, 180), 255, 12)
    assert (digits.remove_rules(tall_one) == tall_one).all()


THIN_PEN_STROKES = {  # digits as polylines in a 240x180 crop, as a thin ballpoint writes them
    "1": [[(70, 40), (95, 20), (95, 215)], [(70, 215), (120, 215)]],
    "4": [[(40, 25), (35, 160), (160, 155)], [(120, 90), (122, 225)]],
    "7": [[(35, 25), (140, 20), (95, 220)]],
}


@pytest.mark.parametrize("text", sorted(THIN_PEN_STROKES))
def test_thin_long_strokes_of_a_tightly_cropped_digit_are_not_rules(text: str) -> None:
    # The digit's straight strokes span most of the picture, yet end inside it: a rule runs across the page.
    image = np.full((240, 180), 200, np.uint8)
    for stroke in THIN_PEN_STROKES[text]:
        cv2.polylines(image, [np.array(stroke, np.int32)], False, 60, 2, cv2.LINE_AA)
    truth = image < 130
    found = digits.photo_mask(image) > 0
    assert (found & truth).sum() > 0.95 * truth.sum()


def test_a_one_pixel_line_on_a_dark_canvas_is_light_ink() -> None:
    canvas = np.full((104, 104), 26, np.uint8)  # the line covers well under 1 % of the canvas
    cv2.line(canvas, (60, 20), (40, 85), 255, 1)
    assert not digits.ink_is_dark(canvas)
    assert digits.to_mnist(canvas).sum() > 20


def test_a_thin_curved_digit_touching_the_edge_is_not_a_page_edge() -> None:
    image = np.full((240, 240), 210, np.uint8)  # a 3 in a thin pen, its lower curve cut by the crop
    curve = [(70, 40), (120, 35), (140, 70), (110, 110), (150, 150), (140, 210), (100, 239), (60, 215)]
    cv2.polylines(image, [np.array(curve, np.int32)], False, 50, 2, cv2.LINE_AA)
    truth = image < 130
    found = digits.photo_mask(image) > 0
    assert (found & truth).sum() > 0.9 * truth.sum()


def test_specks_and_border_blobs_are_dropped() -> None:
    mask = digit_mask()
    noisy = mask.copy()
    rng = np.random.default_rng(1)
    for _ in range(30):
        y, x = int(rng.integers(0, 240)), int(rng.integers(0, 320))
        if not mask[max(0, y - 30) : y + 30, max(0, x - 30) : x + 30].any():
            cv2.circle(noisy, (x, y), 1, 255, -1)
    noisy[:, :12] = 255  # a dark strip along the edge (a shadow, the table)
    kept = digits.keep_digit(noisy)
    assert (kept == mask).all()


def test_small_digit_on_a_vignetted_ruled_page_is_found() -> None:
    h, w = 480, 640
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    light = 1.0 - 0.45 * (((yy - h / 2) / h) ** 2 + ((xx - w / 2) / w) ** 2) * 2  # darker towards the corners
    image = np.full((h, w), 235, np.float32)
    for y in range(25, h, 38):
        cv2.line(image, (0, y), (w - 1, y + 4), 175, 2)
    clean = np.full((h, w), 235, np.uint8)
    write(clean, "5", at=(300, 250), scale=1.4, thickness=4)  # about 40 pixels tall: 8 % of the short side
    image = np.minimum(image, clean.astype(np.float32)) * light
    truth = cv2.resize((clean < 128).astype(np.uint8), (320, 240), interpolation=cv2.INTER_AREA) > 0
    found = digits.photo_mask(image.astype(np.uint8)) > 0
    assert found[~cv2.dilate(truth.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)].sum() == 0  # stubs only
    assert (found & truth).sum() > 0.7 * truth.sum()


@pytest.mark.parametrize("text", ["3", "5", "7", "8"])  # a bold 2 cut through its base: see the module note
def test_tightly_cropped_digit_touching_the_edges_is_kept_over_specks(text: str) -> None:
    image = np.full((200, 150), 235, np.uint8)
    cv2.putText(image, text, (8, 190), cv2.FONT_HERSHEY_SIMPLEX, 6.2, 30, 7, cv2.LINE_AA)
    image[190:, :] = image[189]  # the crop cuts through the digit's lowest stroke
    truth = image < 128
    cv2.circle(image, (140, 8), 2, 60, -1)  # specks elsewhere in the crop
    cv2.circle(image, (4, 100), 1, 90, -1)
    found = digits.photo_mask(image) > 0
    assert (found & truth).sum() / (found | truth).sum() > 0.9


def test_every_stroke_of_a_digit_written_in_pieces_is_kept() -> None:
    # A 1 in three strokes that do not touch: a long stem, a short flag and a small foot (a few percent of the ink).
    mask = np.zeros((240, 320), np.uint8)
    cv2.line(mask, (160, 40), (160, 200), 255, 4)
    cv2.line(mask, (150, 52), (132, 66), 255, 3)
    cv2.line(mask, (150, 208), (172, 208), 255, 2)
    kept = digits.keep_digit(mask)
    assert (kept == mask).all()


def test_broken_strokes_near_the_digit_are_kept() -> None:
    mask = digit_mask()
    top, bottom, left, right = ink_box(mask)
    mask[top + 20 : top + 26, :] = 0  # cut the digit in two
    kept = digits.keep_digit(mask)
    assert ink_box(kept) == (top, bottom, left, right)


def test_component_labels_are_opencvs_default_ones() -> None:
    """The faster labelling must give the very labels and stats the default one gives (random blobs)."""
    rng = np.random.default_rng(3)
    for _ in range(20):
        mask = np.where(cv2.GaussianBlur(rng.uniform(0, 255, (240, 320)), (0, 0), 4) > 128, 255, 0).astype(np.uint8)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        fast = digits.label_components(mask)
        assert fast[0] == count and (fast[1] == labels).all() and (fast[2] == stats).all()


def test_a_second_figure_standing_apart_means_no_single_digit() -> None:
    """Two marks of like size far apart (two digits, scribbled marks): the photo does not show one digit."""
    image = write(page(240, 480), "7", at=(40, 170), scale=3.0)
    write(image, "3", at=(330, 170), scale=2.6)
    ink = digits.darkness(image)
    cleaned = digits.remove_rules(digits.binarize(ink), ink)
    assert digits.has_rival(cleaned, digits.keep_digit(cleaned))
    assert not digits.photo_mask(image).any()
    assert not digits.to_mnist(image).any()  # the gate then answers "not a digit"


def test_specks_far_away_and_the_pages_edge_are_not_rivals() -> None:
    image = write(page())
    for x, y in ((20, 20), (290, 30), (25, 215)):
        cv2.circle(image, (x, y), 3, 40, -1)  # specks: far smaller than the digit
    image[:, -14:] = 20  # the table beyond the page's edge, as long as the digit and longer
    ink = digits.darkness(image)
    cleaned = digits.remove_rules(digits.binarize(ink), ink)
    assert not digits.has_rival(cleaned, digits.keep_digit(cleaned))
    assert digits.to_mnist(image).any()


def one_and_a_mark(mark_ink: int) -> np.ndarray:
    """A "1" and, far from it, a shorter stroke of ``mark_ink``: too small for a rival by its size alone."""
    image = page()
    cv2.line(image, (200, 60), (200, 180), 30, 8, cv2.LINE_AA)
    cv2.line(image, (50, 40), (60, 90), mark_ink, 8, cv2.LINE_AA)
    return image


def test_a_smaller_mark_of_the_same_pen_is_a_rival() -> None:
    """Marks of one pen spread over a page (scribbles, ticks): one of them alone would reach the network as a "1"."""
    image = one_and_a_mark(30)
    ink = digits.darkness(image)
    cleaned = digits.remove_rules(digits.binarize(ink), ink)
    kept = digits.keep_digit(cleaned)
    assert kept.any() and not digits.has_rival(cleaned, kept)  # by size alone it is none
    assert digits.has_rival(cleaned, kept, ink=ink)
    assert not digits.to_mnist(image).any()  # the gate then answers "not a digit"


def test_a_fainter_mark_beside_a_digit_is_no_rival() -> None:
    """The remains of a rule or a smudge beside a digit are fainter than its ink: the digit is still read."""
    image = one_and_a_mark(120)
    ink = digits.darkness(image)
    cleaned = digits.remove_rules(digits.binarize(ink), ink)
    kept = digits.keep_digit(cleaned)
    assert cleaned[40:90, 45:65].any()  # the faint mark is in the mask: it is its darkness that clears it
    assert not digits.has_rival(cleaned, kept, ink=ink)
    assert digits.to_mnist(image).any()


def test_a_digits_own_pieces_are_no_rivals() -> None:
    mask = digit_mask()
    top, bottom, left, right = ink_box(mask)
    mask[top + 20 : top + 26, :] = 0  # cut the digit in two: keep_digit joins the pieces again
    assert not digits.has_rival(mask, digits.keep_digit(mask))


def stripes(gap: int, width: int, h: int = 240, w: int = 320) -> np.ndarray:
    """Diagonal dark stripes over the whole picture: a striped cloth or wallpaper."""
    image = page(h, w)
    for x in range(-h, w, gap):
        cv2.line(image, (x, h), (x + h, 0), 40, width, cv2.LINE_AA)
    return image


@pytest.mark.parametrize(("gap", "width"), [(24, 6), (40, 12)])
def test_one_stripe_of_a_striped_picture_is_no_digit(gap: int, width: int) -> None:
    """Every stripe runs off the picture, so none is a rival; one kept alone would reach the network as a "1"."""
    image = stripes(gap, width)
    ink = digits.darkness(image)
    cleaned = digits.remove_rules(digits.binarize(ink), ink)
    kept = digits.keep_digit(cleaned)
    assert kept.any() and not digits.has_rival(cleaned, kept)
    assert digits.in_pattern(cleaned, kept)
    assert not digits.to_mnist(image).any()  # the gate then answers "not a digit"


def few_stripes(count: int, width: int, h: int = 240, w: int = 320) -> np.ndarray:
    """A few wide, slightly slanted stripes across the picture: a striped cloth seen close up, or thick rules."""
    image = page(h, w)
    for k in range(count):
        y = int((k + 0.5) * h / count)
        cv2.line(image, (0, y - 20), (w, y + 20), 40, width, cv2.LINE_AA)
    return image


@pytest.mark.parametrize("count", [2, 3])
def test_one_of_a_few_stripes_running_across_is_no_digit(count: int) -> None:
    """Too few pieces for a pattern by their number, but the kept one is a straight stroke crossing the picture."""
    image = few_stripes(count, 24)
    ink = digits.darkness(image)
    cleaned = digits.remove_rules(digits.binarize(ink), ink)
    kept = digits.keep_digit(cleaned)
    assert kept.any() and not digits.has_rival(cleaned, kept)
    assert digits.runs_across(kept) and count - 1 < digits.PATTERN_MIN_PIECES
    assert digits.in_pattern(cleaned, kept)
    assert not digits.to_mnist(image).any()


def test_a_tightly_cropped_one_running_off_the_picture_alone_is_still_read() -> None:
    """A 1 cropped at both ends runs across the picture too; with nothing beside it, it stays a digit."""
    image = page()
    cv2.line(image, (150, 0), (170, 239), 30, 14, cv2.LINE_AA)
    ink = digits.darkness(image)
    cleaned = digits.remove_rules(digits.binarize(ink), ink)
    kept = digits.keep_digit(cleaned)
    assert digits.runs_across(kept)
    assert not digits.in_pattern(cleaned, kept)
    assert digits.to_mnist(image).any()


def test_a_digit_beside_the_tables_edge_and_a_shadow_is_no_pattern() -> None:
    """A few large pieces at the border (the table, a shadow's rim, a corner of another sheet) are the scene."""
    image = write(page())
    image[:, -14:] = 20
    image[-10:, :] = 30
    image[:40, :12] = 25
    ink = digits.darkness(image)
    cleaned = digits.remove_rules(digits.binarize(ink), ink)
    assert not digits.in_pattern(cleaned, digits.keep_digit(cleaned))
    assert digits.to_mnist(image).any()


# ------------------------------------------------------------------ size, aspect ratio, centring


@pytest.mark.parametrize(("h", "w"), [(100, 20), (20, 100), (60, 60), (7, 3), (300, 150)])
def test_fit_box_keeps_the_aspect_ratio_within_20_pixels(h: int, w: int) -> None:
    fitted = digits.fit_box(np.full((h, w), 255, np.uint8))
    assert max(fitted.shape) == 20
    assert fitted.shape[0] / fitted.shape[1] == pytest.approx(h / w, rel=0.2, abs=0.1)


@pytest.mark.parametrize(
    ("h", "w", "shape"),
    [(120, 40, "bar"), (40, 120, "bar"), (90, 90, "ring"), (150, 60, "wedge"), (60, 150, "wedge")],
)
def test_center_mnist_puts_the_centre_of_mass_at_14_14(h: int, w: int, shape: str) -> None:
    digit = np.zeros((h, w), np.uint8)
    if shape == "bar":
        digit[:] = 255
    elif shape == "ring":
        cv2.circle(digit, (w // 2, h // 2), min(h, w) // 2 - 2, 255, 8)
    else:  # lopsided: the centre of mass is far from the box's centre
        cv2.fillPoly(digit, [np.array([[0, 0], [w - 1, 0], [0, h - 1]], np.int32)], 255)
    out = digits.center_mnist(digit)
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert out.max() == pytest.approx(1.0) and out.min() >= 0.0
    cy, cx = digits.center_of_mass(out)
    assert abs(cy - 14.0) < 0.5 and abs(cx - 14.0) < 0.5
    top, bottom, left, right = ink_box(out > 0.05)
    assert max(bottom - top + 1, right - left + 1) <= 22  # the 20x20 box plus the anti-aliased rim
    assert (bottom - top + 1) / (right - left + 1) == pytest.approx(h / w, rel=0.35)


def test_thin_strokes_are_thickened_and_bold_ones_thinned_without_breaking() -> None:
    thin = np.zeros((200, 200), np.uint8)
    cv2.circle(thin, (100, 100), 80, 255, 3)
    assert digits.stroke_width(digits.normalise_stroke(thin)) > 2 * digits.stroke_width(thin)
    bold = np.zeros((200, 200), np.uint8)
    cv2.circle(bold, (100, 100), 70, 255, 50)
    cv2.line(bold, (100, 0), (100, 199), 255, 2)  # a thin join must survive thinning
    thinned = digits.normalise_stroke(bold)
    assert digits.stroke_width(thinned) < digits.stroke_width(bold)
    assert cv2.connectedComponents(thinned)[0] - 1 == 1


# ------------------------------------------------------------------ the public entry


@pytest.mark.parametrize("digit", range(10))
def test_28x28_mnist_digits_pass_through_unchanged(digit: int) -> None:
    image = cv2.imread(str(TEST_DATA / "special" / f"mnist28-{digit}.png"), cv2.IMREAD_GRAYSCALE)
    if image is None:
        pytest.skip("test-data/special/mnist28-*.png missing (run test-data/make_test_data.py)")
    out = digits.to_mnist(image)
    assert out.dtype == np.float32 and out.shape == (28, 28)
    assert (out * 255 == image).all()
    assert (digits.to_mnist(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)) == out).all()


@pytest.mark.parametrize("digit", range(10))
def test_28x28_black_on_white_digits_come_back_as_mnist(digit: int) -> None:
    image = cv2.imread(str(TEST_DATA / "special" / f"mnist28-{digit}.png"), cv2.IMREAD_GRAYSCALE)
    if image is None:
        pytest.skip("test-data/special/mnist28-*.png missing (run test-data/make_test_data.py)")
    assert (digits.to_mnist(255 - image) * 255 == image).all()


def test_small_pencil_digit_on_grey_paper_is_inverted_and_stretched() -> None:
    image = cv2.imread(str(TEST_DATA / "special" / "mnist28-4.png"), cv2.IMREAD_GRAYSCALE)
    pencil = np.clip(200 - cv2.resize(image, (48, 48)) * 0.5, 0, 255).astype(np.uint8)
    out = digits.to_mnist(pencil)
    assert out.max() == pytest.approx(1.0)
    cy, cx = digits.center_of_mass(out)
    assert abs(cy - 14) < 0.5 and abs(cx - 14) < 0.5
    assert out[0].max() == 0 and out[:, 0].max() == 0  # the grey paper became black


def test_larger_white_on_black_digit_is_centred_like_mnist() -> None:
    image = cv2.resize(cv2.imread(str(TEST_DATA / "special" / "mnist28-7.png"), cv2.IMREAD_GRAYSCALE), (56, 56))
    out = digits.to_mnist(image)
    cy, cx = digits.center_of_mass(out)
    assert abs(cy - 14) < 0.5 and abs(cx - 14) < 0.5


@pytest.mark.parametrize("colour", [False, True], ids=["gray", "bgr"])
def test_photo_of_a_digit_becomes_mnist_like(colour: bool) -> None:
    image = write(page(600, 800), at=(300, 400), scale=8.0, thickness=20)
    if colour:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    out = digits.to_mnist(image)
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() == pytest.approx(1.0)
    cy, cx = digits.center_of_mass(out)
    assert abs(cy - 14) < 0.5 and abs(cx - 14) < 0.5
    top, bottom, left, right = ink_box(out > 0.05)
    assert 19 <= bottom - top + 1 <= 22  # a "7" is taller than wide: its height fills the 20-pixel box


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((1, 1), np.uint8),
        np.full((1, 1), 255, np.uint8),
        np.zeros((2, 3, 3), np.uint8),
        np.full((3000, 4000), 200, np.uint8),
        np.random.default_rng(2).integers(0, 256, (500, 400, 3), dtype=np.uint8),
        np.tile(np.arange(256, dtype=np.uint8), (256, 1)),
        np.zeros((0, 5), np.uint8),
    ],
    ids=["1x1-black", "1x1-white", "2x3-bgr", "huge-flat", "noise", "ramp", "empty"],
)
def test_odd_images_do_not_crash(image: np.ndarray) -> None:
    out = digits.to_mnist(image)
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0


def test_thin_strokes_of_a_small_scan_reach_mnist_width():
    """A 50-pixel scan of a ballpoint 0 (2-pixel strokes) must not reach the network as a faint hairline."""
    scan = np.full((50, 50), 250, np.uint8)
    cv2.ellipse(scan, (25, 25), (10, 20), 0, 0, 360, 30, 2)
    bright = int((digits.to_mnist(scan) > 0.5).sum())
    # An MNIST 0 has about 130 pixels over half brightness; the hairline left about 56.
    assert bright >= 75, f"only {bright} pixels of the 0 are over half brightness: a hairline"


def test_bold_small_digits_are_not_thickened():
    digit = np.zeros((40, 30), np.uint8)
    cv2.ellipse(digit, (15, 20), (10, 15), 0, 0, 360, 255, 6)
    assert digits.thicken_small(digit) is digit


def test_crop_is_the_bounding_box_of_every_nonzero_pixel() -> None:
    rng = np.random.default_rng(0)
    for _ in range(300):
        mask = np.zeros((int(rng.integers(1, 120)), int(rng.integers(1, 120))), np.uint8)
        for _ in range(int(rng.integers(0, 4))):
            y, x = int(rng.integers(0, mask.shape[0])), int(rng.integers(0, mask.shape[1]))
            mask[y : y + int(rng.integers(1, 30)), x : x + int(rng.integers(1, 30))] = int(rng.integers(1, 256))
        ys, xs = np.nonzero(mask)
        expected = mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1] if ys.size else mask
        assert np.array_equal(digits.crop(mask), expected)
