"""One idiom for packages whose names import their modules on first use (PEP 562).

``vtkdicom-app --help``, ``import vtkdicom_app`` and the napari plugin must not import numpy,
VTK or pydicom before they are needed, so packages list their public names and the module
each lives in, and resolve them in ``__getattr__``::

    _LAZY = {"load": "vtkdicom_app.io.loader", "tools": "vtkdicom_app.segmentation.tools"}
    __getattr__, __dir__ = lazy_names(__name__, _LAZY)

A name whose module path ends with the name itself (``tools`` above) is the module.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(package: str, table: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` resolving the names in ``table`` lazily.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    table : mapping of str to str
        Public name -> the module that defines it (or, for a submodule, the module itself).

    Returns
    -------
    tuple of callable
        Assign them to the package's ``__getattr__`` and ``__dir__``.
    """

    def __getattr__(name: str) -> Any:
        module_name = table.get(name)
        if module_name is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(module_name)
        value = module if module_name.rsplit(".", 1)[-1] == name else getattr(module, name)
        setattr(sys.modules[package], name, value)  # cached: __getattr__ runs once per name
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(table))

    return __getattr__, __dir__
