"""Import timm despite the CUDA-torchvision / CPU-torch clash.

The torchvision wheel from the registry is a CUDA build. Next to a CPU build of torch its compiled
ops do not load, and ``torchvision/_meta_registrations.py`` then fails at import time with
``RuntimeError: operator torchvision::nms does not exist``. timm imports torchvision (for its FX
feature extraction), so ``import timm`` fails too. We use no torchvision op, so when, and only
when, that error occurs, an empty module stands in for ``torchvision._meta_registrations`` and the
import is retried. Import timm through :func:`import_timm`, never directly.
"""

from __future__ import annotations

import sys
import types
from types import ModuleType

_CLASH = "torchvision::nms does not exist"
_STUB = "torchvision._meta_registrations"


def _forget(*packages: str) -> None:
    """Drop ``packages`` and their submodules (partially imported) from ``sys.modules``."""
    for name in list(sys.modules):
        if any(name == p or name.startswith(p + ".") for p in packages):
            del sys.modules[name]


def import_timm() -> ModuleType:
    """Return the ``timm`` module, working around the torchvision clash only if it occurs."""
    try:
        import timm
    except RuntimeError as e:
        if _CLASH not in str(e):
            raise
        _forget("timm", "torchvision")
        sys.modules[_STUB] = types.ModuleType(_STUB)
        import timm
    return timm
