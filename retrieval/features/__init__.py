"""Feature modules: each ``retrieval/features/<topic>.py`` registers what its topic adds to the core.

A feature module registers watchlist matchers (``services.watchlists.register_matcher``),
media-page panels and timeline tracks (``services.panels``). ``RetrievalConfig.ready``
imports every module in this package, so adding a feature never means editing a
shared file. Keep these modules small: registration only; logic stays in services.
"""

from __future__ import annotations

import importlib
import pkgutil


def load_all() -> list[str]:
    """Import every feature module once (idempotent); returns their names."""
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
    for name in names:
        importlib.import_module(f"{__name__}.{name}")
    return names
