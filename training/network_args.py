"""Which ``network_args`` each network accepts, and their types: kept apart from ``networks`` so a config can be
validated (e.g. by the API) without importing Keras."""

from __future__ import annotations

NUMBER = (int, float)
ACTIVATIONS = ("relu", "relu6", "elu", "selu", "gelu", "swish", "silu", "mish", "leaky_relu", "tanh", "sigmoid",
               "softplus")

NETWORK_ARGS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "mlp": {"activation": str, "dropout_amount": NUMBER, "units": int, "layers_count": int},
    "lenet5": {"activation": str, "dropout_amount": NUMBER},
    "cnn": {"activation": str, "dropout_amount": NUMBER, "width": int, "head_units": int},
    "flowers_cnn": {"activation": str, "dropout_amount": NUMBER},
    "flowers_resnet": {"activation": str, "dropout_amount": NUMBER, "inner_size": int, "width": int},
    "mugs_cnn": {"activation": str, "dropout_amount": NUMBER, "width": int},
}
