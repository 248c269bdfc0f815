"""Pure preprocessing functions shared by the service, the CLI and training: bytes -> image -> model input."""

from service.preprocessing.decode import ImageFormat, decode_image, image_size, sniff_format
from service.preprocessing.digits import to_mnist
from service.preprocessing.rgb import to_rgb_input

__all__ = ["ImageFormat", "decode_image", "image_size", "sniff_format", "to_mnist", "to_rgb_input"]
