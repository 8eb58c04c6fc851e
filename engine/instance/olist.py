"""Olist real-data import (the implementation lives in :mod:`engine.importers`)."""

from engine.importers import (
    OlistConfig,
    OlistImport,
    build_olist,
    config_for,
    import_olist,
    read_olist,
)

__all__ = ["OlistConfig", "OlistImport", "build_olist", "config_for", "import_olist", "read_olist"]
