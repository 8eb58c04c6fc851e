"""The instant-delivery model: pickup service, the off-time rule, guaranteed pay, service weight.

Small hand-made problems whose times can be worked out on paper, then the same rules through
both back-ends, the checker and the event-driven execution.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.dispatch import DISPATCH, DispatchProblem, check_solution, dispatch, problem_from_frames
from engine.dispatch.policy import make_policy
from engine.dispatch.problem import CROWD, DispatchInputError
from engine.dispatch.schedule import Trip, build_result, evaluate_trip, screen
from engine.simulate.execute import ExecutionParams, execute_problem_day
from engine.simulate.logcheck import check_execution
from engine.solver import Settings, SolveStats, SolveStatus
from tests.dispatch.helpers import tiny_frames

BACKENDS = DISPATCH.available()
QUIET = ExecutionParams.deterministic()


def line_problem(*, n: int = 2, m: int = 1, ready: float = 20.0, handover: float = 4.0,
                 start: float = 0.0, end: float = np.inf, pickup_end: float | None = None,
                 due: float = 100.0, **kw: object) -> DispatchProblem:
    """One restaurant at location 0, ``n`` doors at 1..n, couriers starting at n+1.

    Travel minutes: courier start -> restaurant 5, restaurant -> door i 7 i, door i -> door j
    7 |i - j|; every order ready at ``ready``, 3 min drop-off service, capacity 4.
    """
    L = n + 2
    pos = np.array([0.0, *[7.0 * (i + 1) for i in range(n)], -5.0])
    T = np.abs(pos[:, None] - pos[None, :])
    loc = list(range(L))
    return DispatchProblem(
        loc_ids=tuple(f"l{i}" for i in loc), loc_lat=np.zeros(L), loc_lon=pos / 100.0,
        dist_km=T / 2.0, time_min=T, warehouse_ids=("R",), warehouse_loc=np.array([0]),
        order_ids=tuple(f"o{i}" for i in range(n)), order_loc=np.arange(1, n + 1),
        order_wh=np.zeros(n, int), ready=np.full(n, ready), due=np.full(n, due), size=np.ones(n),
        service=np.full(n, 3.0), special=np.zeros(n, bool), penalty=np.full(n, 1000.0),
        courier_ids=tuple(f"c{v}" for v in range(m)), courier_profile=np.full(m, CROWD),
        start_loc=np.full(m, n + 1), start_min=np.full(m, start), end_loc=np.full(m, -1),
        courier_warehouse=np.full(m, -1), capacity=np.full(m, 4.0), end_min=np.full(m, end),
        max_work=np.full(m, np.inf), fixed_cost=np.zeros(m), cost_per_km=np.full(m, 0.01),
        cost_per_hour=np.zeros(m), pay_per_delivery=np.full(m, 10.0), may_carry_special=np.ones(m, bool),
        accept_prob=np.ones(m), pickup_service=np.array([handover]),
        pickup_end=None if pickup_end is None else np.full(m, pickup_end), **kw,
    )


# ---- 1. pickup service --------------------------------------------------------------------------
def test_trip_times_with_pickup_service_by_hand() -> None:
    P = line_problem(ready=20.0, handover=4.0)
    ev = evaluate_trip(P, Trip(0, 0, (0, 1), start_loc=3, start_min=0.0))
    # at the restaurant at 5, waits for the food until 20, hands over until 24
    pick = ev.rows[1]
    assert (pick["arrive_min"], pick["depart_min"]) == (5.0, 24.0)
    assert ev.pickup_start == 20.0 and ev.depart == 24.0
    assert ev.begins == [31.0, 41.0]  # 24 + 7; 31 + 3 service + 7
    assert ev.end_min == 44.0
    assert ev.work_min == 5.0 + (44.0 - 20.0)  # the ride there and everything from the pickup on
    # food ready before the courier arrives: the pickup starts on arrival
    early = evaluate_trip(line_problem(ready=0.0), Trip(0, 0, (0,), 3, 0.0))
    assert early.pickup_start == 5.0 and early.depart == 9.0 and early.begins == [16.0]


def test_default_pickup_service_is_zero_and_keeps_old_times() -> None:
    P = line_problem(handover=0.0)
    assert replace(P, pickup_service=None).pickup_service.tolist() == [0.0]
    ev = evaluate_trip(P, Trip(0, 0, (0,), 3, 0.0))
    assert ev.depart == 20.0 and ev.begins == [27.0]


def test_checker_rejects_a_plan_that_ignores_the_pickup_service() -> None:
    with_it = line_problem(handover=4.0)
    without = replace(with_it, pickup_service=np.array([0.0]))
    res = build_result(without, [Trip(0, 0, (0, 1), 3, 0.0)], SolveStats("test", SolveStatus.FEASIBLE))
    assert check_solution(without, res) == []
    problems = check_solution(with_it, res)
    assert any("leaves the warehouse at 20.00, before 24.00" in p and "pickup service" in p for p in problems)
    good = build_result(with_it, [Trip(0, 0, (0, 1), 3, 0.0)], SolveStats("test", SolveStatus.FEASIBLE))
    assert check_solution(with_it, good) == []


def test_screen_counts_the_pickup_service_against_the_deadline() -> None:
    # ready 20 + 4 hand-over + 7 ride = 31: a deadline of 30 cannot be made, 31 can
    assert not screen(line_problem(n=1, due=30.0))[0].any()
    assert screen(line_problem(n=1, due=31.0))[0].all()
    assert screen(line_problem(n=1, due=30.0, handover=3.0))[0].all()


def test_negative_pickup_service_is_refused() -> None:
    with pytest.raises(DispatchInputError, match="pickup_service"):
        line_problem(handover=-1.0)
    with pytest.raises(DispatchInputError, match="pickup_service: expected 1"):
        replace(line_problem(), pickup_service=np.array([1.0, 2.0]))


def test_problem_from_frames_takes_the_pickup_service() -> None:
    wh, orders, couriers = tiny_frames(1, n=6)
    P = problem_from_frames(wh, orders, couriers, pickup_service_min=3.0)
    assert P.pickup_service.tolist() == [3.0, 3.0]
    wh["pickup_service_min"] = [1.0, 5.0]
    assert problem_from_frames(wh, orders, couriers).pickup_service.tolist() == [1.0, 5.0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_backends_plan_with_the_pickup_service(backend: str) -> None:
    """Tight deadlines that only a plan counting the hand-over meets exactly: both back-ends'
    plans pass the checker, and the one order that needs the hand-over-free minute is dropped."""
    P = line_problem(n=3, m=2, handover=4.0, due=39.0)
    # with the hand-over: o0 at 31, o1 at 38 direct (39 ok), o2 at 45 direct (too late)
    r = dispatch(P, Settings(backend=backend, time_limit=0.3, seed=1))
    assert check_solution(P, r) == []
    a = r.assignments.set_index("order")
    assert a.loc["o2", "status"] == "unserved"
    assert a.loc["o0", "status"] == "served" and a.loc["o1", "status"] == "served"
    assert (a.loc[a["status"] == "served", "depart_min"] == 24.0).all()


def _day(handover: float, seed: int = 2, **frames: object) -> tuple[DispatchProblem, np.ndarray]:
    wh, orders, couriers = tiny_frames(seed, n=10, **frames)  # type: ignore[arg-type]
    P = problem_from_frames(wh, orders, couriers, decline_cost=4.0, assign_crowd=False, pickup_service_min=handover)
    return P, orders["ready_min"].to_numpy(float) - 8.0


@pytest.mark.parametrize("policy,backend", [("greedy", None), ("rolling", "pyvrp"), ("rolling", "ortools")])
def test_executed_pickup_takes_the_service_and_eta_equals_arrival(policy: str, backend: str | None) -> None:
    P, created = _day(handover=3.0)
    settings_ = Settings(backend=backend or "pyvrp", time_limit=0.3, seed=1)
    pol = make_policy(policy, settings_, period=5)
    params = replace(QUIET, max_late_min=60.0)
    day = execute_problem_day(P, created, pol, params, seed=3)
    assert check_execution(day) == []
    st_ = day.stops
    pick = st_[st_["kind"] == "pickup"]
    assert len(pick)
    trip_ready = (st_[st_["kind"] == "dropoff"].assign(ready=lambda d: d["order"].map(
        dict(zip(P.order_ids, P.ready, strict=True)))).groupby(["courier", "trip"])["ready"].max())
    start = np.maximum(pick["arrive_min"].to_numpy(), trip_ready.loc[list(zip(pick["courier"], pick["trip"],
                                                                               strict=True))].to_numpy())
    assert pick["depart_min"].to_numpy() == pytest.approx(start + 3.0)
    done = day.orders[day.orders["state"] == "delivered"]
    assert len(done)
    # deterministic execution: the plan's ETA is the executed arrival, to the second
    assert done["eta_min"].to_numpy() == pytest.approx(done["arrived_min"].to_numpy(), abs=1e-6)


def test_logcheck_rejects_a_pickup_shorter_than_the_service() -> None:
    P, created = _day(handover=3.0)
    day = execute_problem_day(P, created, make_policy("greedy", period=5), QUIET, seed=0)
    assert check_execution(day) == []
    stops = day.stops.copy()
    i = stops.index[stops["kind"] == "pickup"][0]
    stops.loc[i, "depart_min"] -= 2.0
    stops.loc[stops.index > i, ["arrive_min", "depart_min"]] -= 2.0  # as if the whole trip were earlier
    bad = replace(day, stops=stops)
    assert any("pickup service" in p for p in check_execution(bad))


# ---- 2. the off-time rule -----------------------------------------------------------------------
def test_pickup_end_defaults_to_no_limit_beyond_end_min() -> None:
    P = line_problem(end=300.0)
    assert P.pickup_end.tolist() == [np.inf] and P.work_end.tolist() == [300.0]
    assert replace(P, end_min=np.array([400.0])).work_end.tolist() == [400.0]
    assert line_problem(end=300.0, pickup_end=250.0).work_end.tolist() == [250.0]


def test_no_pickup_after_off_time_but_drop_offs_may_finish_later() -> None:
    # food ready at 20: a courier off at 20 may still start that pickup and deliver at 31, 41
    on_time = line_problem(ready=20.0, pickup_end=20.0)
    assert screen(on_time)[0].all()
    res = build_result(on_time, [Trip(0, 0, (0, 1), 3, 0.0)], SolveStats("t", SolveStatus.FEASIBLE))
    assert check_solution(on_time, res) == []
    assert res.assignments["arrive_min"].tolist() == [31.0, 41.0]  # after the off time: allowed
    # off at 19.5: the pickup cannot start any more
    late = line_problem(ready=20.0, pickup_end=19.5)
    assert not screen(late)[0].any()
    problems = check_solution(late, res)
    assert any("starts its pickup at 20.00, after the courier's last pickup minute 19.50" in p for p in problems)
    # end_min still bounds the end of the trip
    short = line_problem(ready=20.0, pickup_end=20.0, end=40.0)
    assert any("after the shift/availability end" in p for p in check_solution(short, res))


@pytest.mark.parametrize("backend", BACKENDS)
def test_backends_respect_the_off_time(backend: str) -> None:
    """Two couriers: one off before the food is ready, one off after; only the second serves."""
    P = line_problem(n=2, m=2, ready=20.0)
    P = replace(P, pickup_end=np.array([18.0, 25.0]), start_min=np.array([0.0, 10.0]))
    r = dispatch(P, Settings(backend=backend, time_limit=0.3, seed=1))
    assert check_solution(P, r) == []
    a = r.assignments
    assert (a["status"] == "served").all() and (a["courier"] == "c1").all()
    # and with the second off at 19 too, nobody may take them
    P2 = replace(P, pickup_end=np.array([18.0, 19.0]))
    r2 = dispatch(P2, Settings(backend=backend, time_limit=0.3, seed=1))
    assert (r2.assignments["status"] == "unserved").all()


def test_a_courier_past_its_off_time_gets_no_work_in_the_execution() -> None:
    """Orders arriving after every courier's off time are not picked up; drop-offs of trips
    started before it finish after it."""
    P = line_problem(n=2, m=1, ready=20.0, pickup_end=21.0)
    P = replace(P, ready=np.array([20.0, 40.0]), due=np.array([60.0, 80.0]))
    day = execute_problem_day(P, np.array([10.0, 30.0]), make_policy("greedy", period=2),
                              replace(QUIET, max_late_min=30.0), seed=0)
    assert check_execution(day) == []
    o = day.orders.set_index("order")
    assert o.loc["o0", "state"] == "delivered" and o.loc["o0", "arrived_min"] == pytest.approx(31.0)
    assert o.loc["o1", "state"] == "slow"
    # the executed log checker sees a pickup started after the off time (deterministic travel)
    broken = replace(day, problem=replace(P, pickup_end=np.array([19.0])))
    assert any("after its last pickup minute" in p for p in check_execution(broken))


# ---- the invariants ---------------------------------------------------------------------------------
@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 9), n_crowd=st.integers(0, 3),
       handover=st.lists(st.floats(0, 12), min_size=2, max_size=2),
       off=st.lists(st.floats(-30, 200), min_size=5, max_size=5), hourly=st.floats(0, 40),
       weight=st.sampled_from([0.5, 1.0, 4.0]), backend=st.sampled_from(BACKENDS))
def test_property_plans_with_random_pickup_service_and_off_times_pass_the_checker(
        seed: int, n: int, n_crowd: int, handover: list[float], off: list[float], hourly: float,
        weight: float, backend: str) -> None:
    wh, orders, couriers = tiny_frames(seed, n=n, n_fleet=2, n_crowd=n_crowd, special_share=0.3)
    wh["pickup_service_min"] = handover
    # some couriers go off duty before, during or after the orders: latest pickup start only
    couriers["pickup_end_min"] = 600.0 + np.asarray(off[:len(couriers)])
    couriers.loc[couriers["kind"] == "crowd", "end_min"] = np.inf
    couriers["hourly_guarantee"] = np.where(couriers["kind"] == "crowd", hourly, 0.0)
    couriers["guarantee_hours"] = 2.0
    P = problem_from_frames(wh, orders, couriers, decline_cost=4.0)
    r = dispatch(P, Settings(backend=backend, time_limit=0.1, seed=seed, options={"service_weight": weight}))
    assert check_solution(P, r) == []
    n_v = np.array([(r.assignments["courier"] == c).sum() for c in P.courier_ids], dtype=float)
    assert r.cost["per_delivery"] + r.cost["guarantee"] == pytest.approx(
        float(np.maximum(P.pay_per_delivery * n_v, P.guarantee).sum()), abs=1e-4)
    served = r.assignments["status"] == "served"
    # every served order was picked up by a courier not yet off duty
    pick = r.routes[r.routes["kind"] == "pickup"]
    cidx = {c: i for i, c in enumerate(P.courier_ids)}
    wix = {w: i for i, w in enumerate(P.warehouse_ids)}
    start = pick["depart_min"].to_numpy() - P.pickup_service[pick["warehouse"].map(wix).to_numpy(int)]
    assert (start <= P.pickup_end[pick["courier"].map(cidx).to_numpy(int)] + 1e-6).all()
    assert served.sum() == len(r.routes[r.routes["kind"] == "delivery"])


# ---- 3. guaranteed hourly pay -----------------------------------------------------------------
def test_pay_with_the_guarantee_by_hand() -> None:
    # 10 per delivery, 15 an hour for 2 h 20 min = 35 guaranteed
    P = line_problem(m=1, hourly_guarantee=np.array([15.0]), guarantee_hours=np.array([140 / 60]))
    assert P.guarantee == pytest.approx([35.0])
    assert P.free_deliveries() == pytest.approx([3.5])
    assert P.marginal_pay([3]).tolist() == [0.0] and P.marginal_pay([4]).tolist() == pytest.approx([5.0])
    assert P.pay_parts([2]) == pytest.approx((20.0, 15.0))  # 2 paid deliveries + 15 top-up = 35
    assert P.pay_parts([5]) == pytest.approx((50.0, 0.0))
    done = replace(P, deliveries_done=np.array([2.0]))
    assert done.free_deliveries() == pytest.approx([1.5])
    assert done.marginal_pay([1]).tolist() == [0.0] and done.marginal_pay([2]).tolist() == pytest.approx([5.0])
    # the default: no guarantee, plain per-delivery pay; guarantee hours default to the shift
    plain = line_problem(end=150.0)
    assert plain.guarantee.tolist() == [0.0] and plain.guarantee_hours == pytest.approx([2.5])
    assert plain.pay_parts([2]) == (20.0, 0.0)


def test_build_result_reports_pay_with_the_guarantee() -> None:
    P = line_problem(m=2, hourly_guarantee=np.array([15.0, 15.0]), guarantee_hours=np.array([2.0, 2.0]))
    res = build_result(P, [Trip(0, 0, (0, 1), 3, 0.0)], SolveStats("t", SolveStatus.FEASIBLE))
    c = res.cost
    assert c["per_delivery"] == 20.0 and c["guarantee"] == 10.0 + 30.0  # the unused courier is paid too
    assert c["operating"] == pytest.approx(c["fixed"] + c["distance"] + c["time"] + 20.0 + 40.0)
    assert "guarantee" in line_problem().n_couriers * ["guarantee"] and \
        build_result(line_problem(), [], SolveStats("t", SolveStatus.FEASIBLE)).cost["guarantee"] == 0.0


def _two_couriers(guarantee: float) -> DispatchProblem:
    """Courier c0 starts a little farther away than c1 (more km); c0 may have a guarantee."""
    P = line_problem(n=2, m=2, ready=30.0, hourly_guarantee=np.array([guarantee, 0.0]),
                     guarantee_hours=np.array([4.0, 4.0]))
    L = P.n_orders + 2
    T = np.vstack([np.asarray(P.time_min[0]), np.full((1, L), 6.0)])
    T = np.hstack([T, np.full((L + 1, 1), 6.0)])
    T[-1, -1] = 0.0
    D = T / 2.0
    return replace(P, loc_ids=(*P.loc_ids, "far"), loc_lat=np.zeros(L + 1), loc_lon=np.zeros(L + 1),
                   time_min=T, dist_km=D, start_loc=np.array([L, L - 1]), cost_per_km=np.array([1.0, 1.0]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_planning_loads_the_courier_who_is_paid_anyway(backend: str) -> None:
    plain = dispatch(_two_couriers(0.0), Settings(backend=backend, time_limit=0.3, seed=1))
    assert set(plain.assignments["courier"]) == {"c1"}  # nearer, same pay per delivery
    P = _two_couriers(15.0)  # c0: 60 guaranteed = 6 deliveries at no extra pay
    paid = dispatch(P, Settings(backend=backend, time_limit=0.3, seed=1))
    assert check_solution(P, paid) == []
    assert set(paid.assignments["courier"]) == {"c0"}
    assert paid.cost["per_delivery"] + paid.cost["guarantee"] == pytest.approx(60.0)


def test_ortools_prices_the_guarantee_exactly_beyond_the_free_deliveries() -> None:
    """c0 has one free delivery left. Both orders on c0: 3 + 7 km + 10 pay = 20; both on c1:
    2.5 + 7 + 20 = 29.5; one each: 6.5 + 9.5 km + 10 = 26. The exact price picks the first."""
    P = replace(_two_couriers(15.0), deliveries_done=np.array([5.0, 0.0]))
    assert P.free_deliveries() == pytest.approx([1.0, 0.0])
    r = dispatch(P, Settings(backend="ortools", time_limit=0.3, seed=1))
    assert check_solution(P, r) == []
    n = np.array([(r.assignments["courier"] == c).sum() for c in P.courier_ids])
    assert n.tolist() == [2, 0]
    assert P.marginal_pay(n).sum() == pytest.approx(10.0)  # one paid delivery beyond the guarantee
    assert r.cost["distance"] + r.cost["fixed"] == pytest.approx(10.0)


def test_executed_day_cost_counts_the_guarantee_and_the_view_the_deliveries() -> None:
    P, created = _day(handover=2.0)
    crowd = P.courier_profile == CROWD
    P = replace(P, hourly_guarantee=np.where(crowd, 12.0, 0.0), guarantee_hours=np.where(crowd, 1.0, 0.0),
                accept_prob=np.ones(P.n_couriers))
    seen: list[np.ndarray] = []
    given_: list[int] = []

    class Spy:
        name, period = "spy", 5.0

        def __init__(self) -> None:
            self.inner = make_policy("greedy", period=5)

        def decide(self, view):  # type: ignore[no-untyped-def]
            assert view.deliveries is not None
            seen.append(view.deliveries.copy())
            trips = self.inner.decide(view)
            given_.append(sum(len(t.orders) for t in trips))
            return trips

    day = execute_problem_day(P, created, Spy(), replace(QUIET, max_late_min=60.0), seed=1)
    assert check_execution(day) == []
    drops = day.stops[day.stops["kind"] == "dropoff"]["courier"].value_counts()
    n = np.array([float(drops.get(c, 0)) for c in P.courier_ids])
    c = day.cost()
    assert c["per_delivery"] == pytest.approx(float((P.pay_per_delivery * n).sum()))
    assert c["per_delivery"] + c["guarantee"] == pytest.approx(
        float(np.maximum(P.pay_per_delivery * n, P.guarantee).sum()))
    # every epoch sees the orders of every trip accepted before it (offers here are all accepted)
    assert [float(x.sum()) for x in seen] == pytest.approx(np.cumsum([0, *given_[:-1]]).tolist())
    assert float(seen[-1].sum()) + given_[-1] == pytest.approx(n.sum())


def test_the_epoch_problem_carries_each_couriers_deliveries_so_far() -> None:
    from engine.dispatch.policy import EpochView, epoch_problem

    P = line_problem(n=2, m=2, hourly_guarantee=np.array([15.0, 0.0]), guarantee_hours=np.array([2.0, 2.0]))
    view = EpochView(t=0.0, next_t=2.0, problem=P, pending=np.array([0, 1]), available=np.ones(2, bool),
                     free_min=np.zeros(2), loc=P.start_loc.copy(), work_used=np.zeros(2), used=np.zeros(2, bool),
                     trips_done=np.zeros(2, int), hard_due=P.due, deliveries=np.array([2.0, 7.0]))
    sub, _, cour = epoch_problem(view)
    assert cour.tolist() == [0, 1]
    assert sub.deliveries_done.tolist() == [2.0, 7.0]
    assert sub.free_deliveries() == pytest.approx([1.0, 0.0])  # 30 guaranteed = 3 deliveries, 2 made


# ---- 4. service against money -------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_service_weight_trades_penalties_against_pay(backend: str) -> None:
    # one order, penalty 8, pay 10 per delivery: cheaper to leave it out unless service weighs more
    P = replace(line_problem(n=1), penalty=np.array([8.0]))
    run = lambda w: dispatch(P, Settings(backend=backend, time_limit=0.2, seed=1,  # noqa: E731
                                         options={} if w is None else {"service_weight": w}))
    assert run(None).assignments["status"].tolist() == ["unserved"]
    assert run(1.0).assignments["status"].tolist() == ["unserved"]
    heavy = run(3.0)
    assert heavy.assignments["status"].tolist() == ["served"]
    assert heavy.cost["unserved_penalty"] == 0.0 and heavy.cost["per_delivery"] == 10.0  # money stays money


def test_service_weight_scales_lateness_in_ortools() -> None:
    # served 5 min late (ready 20 + 4 + 7 = 31 against 26): pay 10 + 5 x 1 late = 15 against a penalty of 12
    P = replace(line_problem(n=1, due=26.0, late_weight=np.array([1.0])), penalty=np.array([12.0]),
                max_late_min=30.0)
    one = dispatch(P, Settings(backend="ortools", time_limit=0.2))
    assert one.assignments["status"].tolist() == ["unserved"]
    two = dispatch(P, Settings(backend="ortools", time_limit=0.2, options={"service_weight": 2.0}))
    assert two.assignments["status"].tolist() == ["served"]  # 10 + 10 < 24
    assert two.assignments["late_min"].tolist() == [5.0] and check_solution(P, two) == []


@pytest.mark.parametrize("bad", [0, -1.0, "2", True, float("nan")])
def test_service_weight_must_be_a_positive_number(bad: object) -> None:
    from engine.errors import ConfigError

    DISPATCH.check(Settings(backend="pyvrp", options={"service_weight": 2.0}))
    for backend in BACKENDS:
        with pytest.raises(ConfigError, match="service_weight must be a number > 0"):
            dispatch(line_problem(), Settings(backend=backend, time_limit=0.1, options={"service_weight": bad}))


@pytest.mark.parametrize("policy,backend", [("greedy", None), ("rolling", "pyvrp"), ("rolling", "ortools")])
def test_executed_days_keep_the_off_time_and_the_plan(policy: str, backend: str | None) -> None:
    """Crowd couriers off duty mid-peak with open drop-off ends: no executed pickup starts
    after a courier's off time, some drop-offs end after it, and ETA == arrival."""
    wh, orders, couriers = tiny_frames(4, n=14, n_fleet=1, n_crowd=3, special_share=0.0)
    crowd = couriers["kind"] == "crowd"
    couriers.loc[crowd, "pickup_end_min"] = [625.0, 640.0, 700.0]
    couriers.loc[crowd, "end_min"] = np.inf
    couriers["acceptance_probability"] = 1.0
    P = problem_from_frames(wh, orders, couriers, assign_crowd=False, pickup_service_min=2.0)
    created = orders["ready_min"].to_numpy(float) - 8.0
    pol = make_policy(policy, Settings(backend=backend or "pyvrp", time_limit=0.3, seed=2), period=4)
    day = execute_problem_day(P, created, pol, replace(QUIET, max_late_min=45.0), seed=5)
    assert check_execution(day) == []
    st_ = day.stops
    cidx = {c: i for i, c in enumerate(P.courier_ids)}
    pick = st_[st_["kind"] == "pickup"]
    v = pick["courier"].map(cidx).to_numpy(int)
    assert (pick["depart_min"].to_numpy() - 2.0 <= P.pickup_end[v] + 1e-6).all()
    drop = st_[st_["kind"] == "dropoff"]
    assert (drop["depart_min"].to_numpy() > P.pickup_end[drop["courier"].map(cidx).to_numpy(int)]).any()
    done = day.orders[day.orders["state"] == "delivered"]
    assert len(done) and done["eta_min"].to_numpy() == pytest.approx(done["arrived_min"].to_numpy(), abs=1e-6)


def test_the_pipeline_problem_takes_the_manifests_pickup_service(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from engine.dispatch import build_problem, orders_for_day
    from engine.instance import load_instance
    from tests.helpers import tiny_copy

    inst = load_instance(tiny_copy(tmp_path / "tiny"))
    orders = orders_for_day(inst, inst.orders["date"].min()).head(20)
    P = build_problem(inst, orders, assign_crowd=False)
    want = inst.manifest.simulation.pickup_service_min
    assert want > 0 and (P.pickup_service == want).all()
