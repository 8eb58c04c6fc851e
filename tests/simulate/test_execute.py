"""The event-driven execution: the dispatcher in the loop, couriers executing legs."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.dispatch import problem_from_frames
from engine.dispatch.policy import EpochView, make_policy
from engine.dispatch.schedule import Trip
from engine.simulate import execute as ex
from engine.simulate.execute import R_HARD, ExecutionParams, PlanRejected, execute_problem_day
from engine.simulate.logcheck import check_execution
from engine.solver import Settings
from tests.dispatch.helpers import tiny_frames

QUIET = ExecutionParams.deterministic()


def day_problem(seed: int = 0, **kw):
    wh, orders, couriers = tiny_frames(seed, **kw)
    P = problem_from_frames(wh, orders, couriers, decline_cost=4.0, assign_crowd=False)
    created = orders["ready_min"].to_numpy(float) - 8.0
    return P, created


def final_ok(day) -> None:
    assert check_execution(day) == []
    assert day.orders["state"].isin(ex.FINAL).all()
    assert len(day.orders) == day.problem.n_orders


@pytest.mark.parametrize("policy", ["greedy", "waves", "rolling"])
def test_each_policy_executes_a_consistent_day(policy: str) -> None:
    P, created = day_problem(3, n=14)
    pol = make_policy(policy, Settings(backend="pyvrp", time_limit=0.5, seed=1), period=5)
    day = execute_problem_day(P, created, pol, ExecutionParams(), seed=4)
    final_ok(day)
    o = day.orders
    done = o["state"].isin(["delivered", "damaged"])
    assert done.sum() > 0
    # nobody is assigned before the order exists, nor delivered before it is ready
    assert (o.loc[done, "assigned_min"] >= o.loc[done, "created_min"] - 1e-9).all()
    assert (o.loc[done, "picked_min"] >= o.loc[done, "ready_min"] - 1e-9).all()
    kinds = set(day.events["kind"])
    assert {"created", "offered", "accepted", "arrived_pickup", "picked", "arrived_dropoff", "delivered"} <= kinds


def test_same_seed_same_log_and_another_seed_differs() -> None:
    P, created = day_problem(5, n=12)

    def run(seed: int) -> str:
        pol = make_policy("greedy", period=5)
        return execute_problem_day(P, created, pol, ExecutionParams(travel_noise_cv=0.3), seed=seed).events.to_csv(index=False)

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_a_slow_first_leg_delays_every_later_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    P, created = day_problem(1, n=10, n_crowd=0)
    base = execute_problem_day(P, created, make_policy("greedy", period=5), QUIET, seed=0)
    monkeypatch.setattr(ex._Streams, "courier_leg", lambda self, v: 3.0)  # rides to the warehouse 3x slower
    slow = execute_problem_day(P, created, make_policy("greedy", period=5), QUIET, seed=0)
    final_ok(slow)
    a = base.orders.set_index("order")
    b = slow.orders.set_index("order")
    both = a["state"].eq("delivered") & b["state"].eq("delivered")
    assert (b.loc[both, "arrived_min"] >= a.loc[both, "arrived_min"] - 1e-9).all()
    assert (b.loc[both, "arrived_min"] > a.loc[both, "arrived_min"] + 1e-6).any()


def test_declined_offers_go_back_to_the_pool_and_not_to_the_same_courier_that_epoch() -> None:
    wh, orders, couriers = tiny_frames(2, n=8, n_fleet=0, n_crowd=3, special_share=0.0)
    couriers["acceptance_probability"] = 0.0
    P = problem_from_frames(wh, orders, couriers, assign_crowd=False)
    created = orders["ready_min"].to_numpy(float) - 8.0
    day = execute_problem_day(P, created, make_policy("greedy", period=5), QUIET, seed=1)
    final_ok(day)
    o = day.orders
    assert (o["state"] == "slow").all()  # nobody ever accepts
    assert (o["declines"] > 0).any()
    offered = day.events[day.events["kind"] == "offered"]
    assert not offered.duplicated(["minute", "order"]).any()
    declined = day.events[day.events["kind"] == "declined"]
    # after a decline that courier is not offered anything in the same epoch
    for r in declined.itertuples(index=False):
        again = offered[(offered["courier"] == r.courier) & (offered["minute"] == r.minute)]
        assert set(again["order"]) == set(declined[(declined["courier"] == r.courier)
                                                   & (declined["minute"] == r.minute)]["order"])


def test_no_shows_are_noticed_and_the_work_replanned() -> None:
    wh, orders, couriers = tiny_frames(4, n=10, n_fleet=1, n_crowd=4, special_share=0.0)
    couriers["acceptance_probability"] = 1.0
    P = problem_from_frames(wh, orders, couriers, assign_crowd=False)
    created = orders["ready_min"].to_numpy(float) - 8.0
    params = ExecutionParams.deterministic(crowd_no_show=1.0, no_show_detect_min=7.0)
    day = execute_problem_day(P, created, make_policy("greedy", period=5), params, seed=2)
    final_ok(day)
    ev = day.events
    ns = ev[ev["kind"] == "no_show"]
    assert len(ns) > 0
    acc = ev[ev["kind"] == "accepted"].drop_duplicates(["order", "courier"], keep="first").set_index(["order", "courier"])
    for r in ns.itertuples(index=False):
        assert r.minute == pytest.approx(acc.loc[(r.order, r.courier), "minute"] + 7.0)
        # the courier who did not show is never offered work again
        later = ev[(ev["kind"] == "offered") & (ev["courier"] == r.courier) & (ev["minute"] > r.minute)]
        assert later.empty
    # every crowd courier fails to show, so whatever was delivered came by the fleet
    delivered = day.orders[day.orders["state"].isin(["delivered", "damaged"])]
    assert (delivered["courier_kind"] == "fleet").all()


def test_late_orders_are_delivered_late_until_the_hard_limit() -> None:
    wh, orders, couriers = tiny_frames(6, n=12, n_fleet=1, n_crowd=0, n_wh=1, special_share=0.0)
    orders["due_min"] = orders["ready_min"] + 6.0  # a promise one courier cannot keep for everyone
    P = problem_from_frames(wh, orders, couriers, assign_crowd=False)
    created = orders["ready_min"].to_numpy(float) - 8.0
    soft = execute_problem_day(P, created, make_policy("greedy", period=5), ExecutionParams.deterministic(max_late_min=600), seed=0)
    final_ok(soft)
    s = soft.orders
    assert (s["state"] == "delivered").all()
    assert (s["late_min"] > 0).any()
    hard = execute_problem_day(P, created, make_policy("greedy", period=5), ExecutionParams.deterministic(max_late_min=0), seed=0)
    final_ok(hard)
    h = hard.orders
    assert (h["state"] == "slow").any()
    assert set(h.loc[h["state"] == "slow", "reason"]) <= {R_HARD, ex.R_END}
    assert (h.loc[h["state"] == "delivered", "late_min"] <= 1e-6).all()


@dataclass
class _BadPolicy:
    """Gives every pending order to courier 0 at once: over its capacity."""

    period: float = 5.0
    name: str = "bad"
    log: list = field(default_factory=list)

    def decide(self, view: EpochView) -> list[Trip]:
        P = view.problem
        if not len(view.pending):
            return []
        w = int(P.order_wh[view.pending[0]])
        same = tuple(int(i) for i in view.pending if P.order_wh[i] == w)
        v = int(np.flatnonzero(P.courier_warehouse == w)[0])
        return [Trip(v, w, same, int(view.loc[v]), float(view.free_min[v]))]


def test_a_plan_failing_the_checker_is_refused_before_execution() -> None:
    wh, orders, couriers = tiny_frames(0, n=12, n_fleet=2, n_crowd=0)
    orders["size_m3"] = 0.05  # two fit in the 0.08 m3 van, not all
    orders["created"] = 600.0
    P = problem_from_frames(wh, orders, couriers, assign_crowd=False)
    with pytest.raises(PlanRejected, match="capacity"):
        execute_problem_day(P, np.full(P.n_orders, 600.0), _BadPolicy(), QUIET, seed=0)


def test_returns_are_picked_up_by_an_idle_courier_and_claims_have_times() -> None:
    P, created = day_problem(8, n=12)
    params = ExecutionParams.deterministic(return_rate=1.0, damage_rate_fleet=1.0, damage_rate_crowd=0.0)
    day = execute_problem_day(P, created, make_policy("greedy", period=5), params, seed=3)
    final_ok(day)
    o = day.orders
    delivered = o["state"] == "delivered"
    assert o.loc[delivered, "returned"].all()
    assert o.loc[delivered, "return_picked_min"].notna().any()
    picked = o["return_picked_min"].notna()
    assert (o.loc[picked, "return_picked_min"] >= o.loc[picked, "return_requested_min"]).all()
    damaged = o["state"] == "damaged"
    assert damaged.any() and (o.loc[damaged, "courier_kind"] == "fleet").all()
    assert o.loc[damaged, "claim"].all() and o.loc[damaged, "claim_resolved_min"].notna().all()
    assert {"return_requested", "return_picked", "return_received", "claim_opened", "claim_resolved"} <= set(day.events["kind"])


@given(seed=st.integers(0, 10_000), n=st.integers(1, 12), n_fleet=st.integers(0, 2), n_crowd=st.integers(0, 3),
       cv=st.sampled_from([0.0, 0.2, 0.5]), late=st.sampled_from([0.0, 30.0, 240.0]))
def test_property_every_order_ends_once_and_the_log_is_consistent(seed, n, n_fleet, n_crowd, cv, late) -> None:
    wh, orders, couriers = tiny_frames(seed, n=n, n_fleet=n_fleet, n_crowd=n_crowd)
    P = problem_from_frames(wh, orders, couriers, assign_crowd=False)
    created = orders["ready_min"].to_numpy(float) - 8.0
    params = ExecutionParams(travel_noise_cv=cv, max_late_min=late, crowd_no_show=0.2, return_rate=0.3,
                             pickup_service_min=0.0 if cv == 0 else 2.0)
    day = execute_problem_day(P, created, make_policy("greedy", period=5), params, seed=seed)
    final_ok(day)
    o = day.orders
    fin = day.events[day.events["kind"].isin(["delivered", "lost", "moved_to_slow"])]
    assert fin["order"].value_counts().reindex(o["order"]).eq(1).all()
    done = o["state"].isin(["delivered", "damaged"])
    if cv == 0:  # executed as planned: nobody arrives after the hard limit
        assert (o.loc[done, "arrived_min"] <= o.loc[done, "hard_due_min"] + 1e-6).all()


def test_checker_catches_a_courier_in_two_places() -> None:
    P, created = day_problem(3, n=10)
    day = execute_problem_day(P, created, make_policy("greedy", period=5), QUIET, seed=0)
    assert check_execution(day) == []
    st_ = day.stops.copy()
    first = st_[st_["kind"] == "dropoff"].index[0]
    st_.loc[first, "arrive_min"] -= 30.0  # teleport: arrives before it could have
    from dataclasses import replace
    bad = replace(day, stops=st_)
    assert any("faster than its minimum" in p or "reached before" in p for p in check_execution(bad))
    o = day.orders.copy()
    o.loc[o.index[0], "state"] = "pending"
    assert any("final state" in p for p in check_execution(replace(day, orders=o)))
    assert isinstance(day.to_dict()["orders"], int)
    assert isinstance(day.to_frame(), pd.DataFrame)


def test_executed_cost_prices_what_was_executed() -> None:
    P, created = day_problem(2, n=10)
    day = execute_problem_day(P, created, make_policy("greedy", period=5), QUIET, seed=0)
    c = day.cost()
    assert c["operating"] == pytest.approx(c["fixed"] + c["distance"] + c["time"] + c["per_delivery"])
    crowd_drops = day.stops[(day.stops["kind"] == "dropoff") & (day.stops["courier_kind"] == "crowd")]
    pay = dict(zip(P.courier_ids, P.pay_per_delivery, strict=True))
    assert c["per_delivery"] == pytest.approx(sum(pay[x] for x in crowd_drops["courier"]))
    assert c["distance"] > 0


def test_a_courier_who_does_not_show_up_drives_none_of_its_later_trips() -> None:
    """Found by hypothesis: a crowd courier accepted a second trip while its first was pending; the
    first was a no-show, and the second was driven from where the first would have ended."""
    from engine.simulate.logcheck import check_execution as check

    wh, orders, couriers = tiny_frames(2745, n=9, n_fleet=0, n_crowd=2)
    P = problem_from_frames(wh, orders, couriers, assign_crowd=False)
    created = orders["ready_min"].to_numpy(float) - 8.0
    params = ExecutionParams(travel_noise_cv=0.0, max_late_min=0.0, crowd_no_show=0.2, pickup_service_min=2.0)
    day = execute_problem_day(P, created, make_policy("matching", period=5), params, seed=2745)
    assert check(day) == []
    ev = day.events
    gone = set(ev.loc[ev["kind"] == "no_show", "courier"])
    assert gone  # the case has a no-show
    for c in gone:
        first = ev.loc[(ev["kind"] == "no_show") & (ev["courier"] == c), "minute"].min()
        later = ev[(ev["courier"] == c) & (ev["minute"] > first) & ev["kind"].isin(["picked", "delivered"])]
        assert later.empty, f"courier {c} worked after it did not show up"
