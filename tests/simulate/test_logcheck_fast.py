"""The vectorised executed-log checker finds exactly what the straightforward one finds.

``tests/simulate/reference_logcheck.py`` is the checker as first written (a loop over couriers
and trips); the product's ``check_execution`` does the same checks over all stops at once. On
clean days and on days broken in every way the checks look for, both report the same problems.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.dispatch.policy import make_policy
from engine.simulate.execute import ExecutionParams, execute_problem_day
from engine.simulate.logcheck import check_execution
from tests.simulate.reference_logcheck import check_execution as reference
from tests.simulate.test_execute import day_problem


def _day(seed: int, policy: str = "greedy"):
    P, created = day_problem(seed, n=14)
    params = ExecutionParams(travel_noise_cv=0.2, return_rate=0.3, crowd_no_show=0.1)
    return execute_problem_day(P, created, make_policy(policy, period=5), params, seed=seed)


@pytest.fixture(scope="module")
def days():
    return [_day(s) for s in range(3)] + [_day(5, "rolling")]


def _same(day) -> list[str]:
    a, b = check_execution(day), reference(day)
    assert sorted(a) == sorted(b)
    return a


def test_clean_days_pass_both(days) -> None:
    for d in days:
        assert _same(d) == []


def _broken(day, how: str, k: int):
    s = day.stops.copy()
    rows = s.index[s["kind"] == {"no_start": "start", "overload": "pickup", "early": "pickup",
                                 "handover": "pickup", "where": "start"}.get(how, "dropoff")]
    r = rows[k % len(rows)]
    if how == "teleport":
        s.loc[r, "arrive_min"] -= 30.0
    elif how == "backwards":
        s.loc[r, "depart_min"] = s.loc[r, "arrive_min"] - 5.0
    elif how == "no_start":
        s.loc[r, "kind"] = "pickup"
    elif how == "overload":
        s.loc[r, "load_m3"] += 100.0
    elif how == "early":
        s.loc[r, "depart_min"] -= 50.0
    elif how == "handover":
        s.loc[r, "depart_min"] = s.loc[r, "arrive_min"]
    elif how == "where":
        s.loc[r, "loc"] = int(s.loc[r, "loc"]) + 1
    elif how == "stranger":
        s.loc[r, "courier"] = "NOBODY"
    elif how == "missing":
        s = s.drop(index=r)
    elif how == "twice":
        s = pd.concat([s, s.loc[[r]]])  # the same drop-off executed twice
    elif how == "slow_service":
        s.loc[r, "depart_min"] = s.loc[r, "arrive_min"]
    return replace(day, stops=s.reset_index(drop=True))


@pytest.mark.parametrize("how", ["teleport", "backwards", "no_start", "overload", "early", "handover", "where",
                                 "stranger", "missing", "twice", "slow_service"])
def test_every_kind_of_break_is_found_by_both(days, how: str) -> None:
    found = 0
    for k, d in enumerate(days):
        found += bool(_same(_broken(d, how, k)))
    assert found  # the break is caught at least on some day (both checkers agree everywhere)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 3), shift=st.lists(st.floats(-20, 20, allow_nan=False), min_size=1, max_size=6),
       rows=st.lists(st.integers(0, 10_000), min_size=1, max_size=6))
def test_random_time_shifts_agree(seed: int, shift: list[float], rows: list[int]) -> None:
    d = _day(seed)
    s = d.stops.copy()
    for x, r in zip(shift, rows, strict=False):
        i = s.index[r % len(s)]
        col = "arrive_min" if r % 2 else "depart_min"
        s.loc[i, col] = float(s.loc[i, col]) + x
    _same(replace(d, stops=s))


def test_both_agree_on_a_day_of_many_trips() -> None:
    P, created = day_problem(7, n=60)
    d = execute_problem_day(P, created, make_policy("greedy", period=5), ExecutionParams(travel_noise_cv=0.1),
                            seed=7)
    assert len(d.stops) > 100
    assert _same(d) == []
    assert np.isfinite(d.stops["arrive_min"]).all()
