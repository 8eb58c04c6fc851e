"""Importers that build nearstock instances from real public data (Olist, Brazil)."""

from engine.importers.olist import ATTRIBUTION, OlistImport, build_olist, import_olist
from engine.importers.olist_baseline import baseline_comparison, baseline_frame, delivery_baseline
from engine.importers.olist_config import (
    PRESETS,
    REGIONS,
    OlistConfig,
    Region,
    config_for,
    parse_region,
)
from engine.importers.olist_segments import customer_flags
from engine.importers.olist_source import OlistSource, OlistSourceError, read_olist

__all__ = [
    "ATTRIBUTION", "PRESETS", "REGIONS", "OlistConfig", "OlistImport", "OlistSource", "OlistSourceError",
    "Region", "baseline_comparison", "baseline_frame", "build_olist", "config_for", "customer_flags", "delivery_baseline",
    "import_olist",
    "parse_region", "read_olist",
]
