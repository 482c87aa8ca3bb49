"""Dataset adapters: each turns a dataset root in its published layout into manifest items.

Importing this package registers every adapter; `get_adapter(name)` looks one up.
"""

from deepfake_detector.data.adapters import celebdf, dfdc, dfdc_faces, dftimit, ffpp, folder  # noqa: F401
from deepfake_detector.data.adapters.base import ADAPTERS, Item, LayoutError, get_adapter

__all__ = ["ADAPTERS", "Item", "LayoutError", "get_adapter"]
