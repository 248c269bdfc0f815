"""The image classification service: ``create_app()`` is the one place that wires everything together.

``create_app`` is re-exported lazily so that ``import service.inference`` or ``service.cli`` (the batch CLI) never
imports Flask: a CLI-only install stays light and starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from service.factory import configure_logging, create_app

__all__ = ["configure_logging", "create_app"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from service import factory

        return getattr(factory, name)
    raise AttributeError(f"module 'service' has no attribute {name!r}")
