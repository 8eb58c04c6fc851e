"""Geometry helpers: properties of the weighted geometric median and k-medians."""

from __future__ import annotations

import datetime as dt

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from engine.importers.geo import geometric_median, project, unproject, weighted_kmedians
from engine.importers.olist_config import parse_region
from engine.importers.olist_demand import black_fridays

points = arrays(np.float64, st.tuples(st.integers(2, 25), st.just(2)), elements=st.floats(-50, 50))


def cost(xy: np.ndarray, w: np.ndarray, z: np.ndarray) -> float:
    return float((w * np.hypot(*(xy - z).T)).sum())


@given(points, st.integers(0, 2**31 - 1))
def test_geometric_median_beats_mean_and_points(xy: np.ndarray, seed: int) -> None:
    w = np.random.default_rng(seed).uniform(0.1, 3.0, len(xy))
    z = geometric_median(xy, w)
    best = cost(xy, w, z)
    mean = (xy * w[:, None]).sum(axis=0) / w.sum()
    assert best <= cost(xy, w, mean) + 1e-6
    assert all(best <= cost(xy, w, p) + 1e-4 for p in xy)


@given(points, st.integers(1, 4), st.integers(0, 2**31 - 1))
def test_kmedians_labels_are_nearest_and_seeded(xy: np.ndarray, k: int, seed: int) -> None:
    w = np.random.default_rng(seed).uniform(0.1, 3.0, len(xy))
    c, labels, total = weighted_kmedians(xy, w, k, np.random.default_rng(seed))
    d = np.hypot(xy[:, None, 0] - c[None, :, 0], xy[:, None, 1] - c[None, :, 1])
    assert np.allclose(d[np.arange(len(xy)), labels], d.min(axis=1))
    assert total <= cost(xy, w, geometric_median(xy, w)) + 1e-6  # k >= 1 centres never worse than one
    c2, labels2, total2 = weighted_kmedians(xy, w, k, np.random.default_rng(seed))
    assert np.array_equal(c, c2) and total == total2


@given(st.floats(-30, 0), st.floats(-60, -35))
def test_projection_round_trips(lat: float, lon: float) -> None:
    xy = project(np.array([lat]), np.array([lon]), -23.5, -46.6)
    la, lo = unproject(xy, -23.5, -46.6)
    assert abs(la[0] - lat) < 1e-9 and abs(lo[0] - lon) < 1e-9


def test_black_friday_dates() -> None:
    days = black_fridays(dt.date(2016, 1, 1), dt.date(2018, 12, 31))
    assert days == [dt.date(2016, 11, 25), dt.date(2017, 11, 24), dt.date(2018, 11, 23)]
    assert all(d.weekday() == 4 for d in days)


def test_regions() -> None:
    assert parse_region("sp-city").city == "sao paulo"
    assert parse_region("state:sp,rj").states == ("SP", "RJ")
    r = parse_region("city:Campinas/sp")
    assert r.city == "campinas" and r.states == ("SP",)
    import pytest

    from engine.errors import ConfigError
    for bad in ("mars", "state:", "state:S1", "city:campinas"):
        with pytest.raises(ConfigError):
            parse_region(bad)
