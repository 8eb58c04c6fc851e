"""Service-quality indicators, the scorecard, and data protection of what a run exports."""

from engine.quality.indicators import (
    DECISIONS,
    FACTORS,
    INDICATOR_BY_NAME,
    INDICATORS,
    Context,
    Indicator,
    default_targets,
)
from engine.quality.privacy import (
    COORD_DECIMALS,
    EXPORT_POLICY,
    FilePolicy,
    PrivacyReport,
    courier_manifest,
    export_privacy,
    read_export,
)
from engine.quality.scorecard import Scorecard, build_scorecard, mean_ci, responsive_indicators

__all__ = ["COORD_DECIMALS", "DECISIONS", "EXPORT_POLICY", "FACTORS", "INDICATORS", "INDICATOR_BY_NAME", "Context",
           "FilePolicy", "Indicator", "PrivacyReport", "Scorecard", "build_scorecard", "courier_manifest",
           "default_targets", "export_privacy", "mean_ci", "read_export", "responsive_indicators"]
