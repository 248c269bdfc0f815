"""Photo models (flowers, mugs): decoded image -> RGB float32 in [0, 255] at the network's input size.

Training loads its images through this same function, so a model sees identical pixels in training and serving.
"""

from __future__ import annotations

import cv2
import numpy as np


def to_rgb_input(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Squash-resize (as Keras' ``image_dataset_from_directory``) to ``size`` = (height, width); RGB float32.

    Downscaling uses area interpolation (no aliasing from large photos), upscaling bilinear.
    """
    height, width = size
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    h, w = image.shape[:2]
    if (h, w) != (height, width):
        shrinking = h * w > height * width
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return rgb.astype(np.float32)
