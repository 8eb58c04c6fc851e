"""Service-quality indicators and the scorecard."""

from engine.quality.indicators import FACTORS, INDICATOR_BY_NAME, INDICATORS, Context, Indicator
from engine.quality.privacy import courier_manifest, privacy_checks, privacy_score
from engine.quality.scorecard import Scorecard, build_scorecard, mean_ci

__all__ = ["courier_manifest", "privacy_checks", "privacy_score", "FACTORS", "INDICATORS", "INDICATOR_BY_NAME", "Context", "Indicator", "Scorecard", "build_scorecard", "mean_ci"]
