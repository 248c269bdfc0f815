"""Photo of a handwritten digit -> a 28x28 image in the MNIST convention (white ink on black, centred).

MNIST was made by scaling each digit to fit a 20x20 box (keeping its aspect ratio) and putting its centre of
mass at the centre of a 28x28 field. A phone photo of ink on paper differs in every respect: polarity, uneven
light, ruled lines, specks, the table beyond the paper's edge, size and stroke width. Each step below undoes one
of those differences; each is a pure function so tests and training can use them one by one.

All the cleaning happens on a copy shrunk to ``WORK_SIDE`` pixels: one digit needs no more, and the whole
pipeline then costs a few milliseconds whatever the camera's resolution (``test-data/score.py`` measures it).

Each stage has its own module (ink, rules, components, mnist); they are re-exported here.
"""

from service.preprocessing.digits.ink import (  # noqa: F401
    WORK_SIDE,
    MIN_INK_CONTRAST,
    DARK_GROUND,
    WEAK_INK,
    TABLE_EDGE_SHARPNESS,
    TABLE_MIN_CONTACT,
    to_gray,
    shrink,
    ink_is_dark,
    paper_level,
    beyond_page,
    darkness,
    darkness_and_page,
    binarize,
)
from service.preprocessing.digits.rules import (  # noqa: F401
    RULE_MIN_SPAN,
    RULE_MIN_SUPPORT,
    RULE_EDGE_REACH,
    BEYOND_PAGE_SHARE,
    find_rules,
    faint_ink,
    remove_rules,
)
from service.preprocessing.digits.components import (  # noqa: F401
    TIGHT_CROP_MIN_SIDE,
    FREE_OVER_BORDER,
    BAND_MAX_BULGE,
    RIVAL_MIN_AREA,
    RIVAL_MIN_SIDE,
    SAME_INK_MIN_AREA,
    SAME_INK_MIN_SIDE,
    SAME_INK_MIN_DARKNESS,
    PATTERN_MIN_PIECES,
    STRIPE_MAX_BULGE,
    label_components,
    stroke_width,
    is_band,
    keep_digit,
    has_rival,
    in_pattern,
    runs_across,
)
from service.preprocessing.digits.mnist import (  # noqa: F401
    MNIST_SIZE,
    MNIST_BOX,
    MNIST_CENTRE,
    MNIST_STYLE_MAX_SIDE,
    STROKE_RATIO,
    is_mnist_style,
    small_inverted,
    crop,
    normalise_stroke,
    thicken_small,
    fit_box,
    center_of_mass,
    center_mnist,
    photo_mask,
    to_mnist,
)
