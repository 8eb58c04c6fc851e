"""Fulfilment and execution: orders meet forward stock, then the day is executed as it happens.

* :func:`allocate_orders` — realised orders against the forward stock plan;
* :func:`execute_day` — an instance's day executed R times with the dispatch policy in the loop
  (discrete-event simulation, :mod:`engine.simulate.execute`), outcomes in the scorecard's table;
* :func:`execute_problem_day` — one replication of a dispatch problem's day;
* :func:`check_execution` — the independent checker of an executed log.
"""

from engine.simulate.execute import ExecutedDay, ExecutionParams, PlanRejected, execute_problem_day
from engine.simulate.fulfil import ALLOCATED_COLUMNS, allocate_orders
from engine.simulate.logcheck import check_execution
from engine.simulate.replicate import (
           OUTCOME_COLUMNS,
           ExecutionResult,
           execute_day,
           execution_params,
)

__all__ = ["ALLOCATED_COLUMNS", "OUTCOME_COLUMNS", "ExecutedDay", "ExecutionParams", "ExecutionResult", "PlanRejected",
           "allocate_orders", "check_execution", "execute_day", "execute_problem_day", "execution_params"]
