"""Synthetic training images for the digit model: realistic photos, drawings and scans of MNIST training digits
(``digits``) and images that are not one handwritten digit (``negatives``), rendered with numpy and OpenCV only so
a pool of CPU workers can make tens of thousands of them in minutes (``cache``).

Every renderer takes a ``numpy.random.Generator`` and draws all its randomness from it: the same seed gives the
same bytes. The output is what an image decoder gives the service: uint8 BGR (H, W, 3) or gray (H, W).
"""
