"""Installs the bundled models, the templates and the page's static files as data files (``share/image-classification-service/``).

They live at the top of the repository (training writes there), not inside the package, so ``pyproject.toml`` cannot
list them as package data; ``service.config.asset_dir`` finds this copy when the code does not run from a checkout.
"""

from pathlib import Path

from setuptools import setup

SHARE = Path("share") / "image-classification-service"


def data_files(*folders: str) -> list[tuple[str, list[str]]]:
    """(install folder, files) for every folder below ``folders`` that holds files, keeping the layout."""
    found: dict[str, list[str]] = {}
    for top in folders:
        for path in sorted(Path(top).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                found.setdefault(str(SHARE / path.parent), []).append(str(path))
    return sorted(found.items())


setup(data_files=data_files("models", "templates", "static"))
