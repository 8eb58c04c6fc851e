"""Isolated run: ``python -m engine.bench.worker`` reads one run spec (JSON) on stdin and
prints one result (JSON) on stdout. A crash or a hang costs only this process.

Started by an executor (which sets ``NEARSTOCK_BENCH_PARENT`` to its own pid and makes the
worker lead a new session), the worker on Linux must not outlive that parent, even if the
parent is killed with SIGKILL and has no chance to clean up. The kernel's parent-death
signal (``prctl(PR_SET_PDEATHSIG)``) does that for one process, but a run may start solver
processes of its own (the stocking MIP back-ends do). So the worker forks: the original
process only supervises; its parent-death signal is SIGTERM, on which it kills its whole
process group (the run and everything the run started) with SIGKILL. The child runs the
spec. Run by hand (no ``NEARSTOCK_BENCH_PARENT``) the worker just runs the spec.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
import traceback

from engine.bench.executors import PARENT_ENV  # loaded with the package anyway

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _die_with_parent(sig: int, parent: int) -> bool:
    """Ask the kernel to send ``sig`` when the parent exits; False if it is already gone."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
            return True  # no parent-death signal here: the executor's own kill still applies
    except (OSError, AttributeError):
        return True
    # the parent may have died before the request took effect: then we were re-parented
    return os.getppid() == parent


def _kill_own_group(signum: int, frame: object) -> None:
    os.killpg(os.getpgrp(), signal.SIGKILL)  # kills this process too


def _supervise() -> int | None:
    """Fork under a supervisor when started by an executor on Linux.

    Returns the exit code the supervisor should exit with, or None in the process that
    runs the spec (also when there is nothing to supervise).
    """
    parent = os.environ.get(PARENT_ENV, "")
    if not sys.platform.startswith("linux") or not parent.isdigit() or os.getpgrp() != os.getpid():
        return None  # not our own process group: never kill a group we do not lead
    signal.signal(signal.SIGTERM, _kill_own_group)
    if not _die_with_parent(signal.SIGTERM, int(parent)):
        return 1  # the executor is gone: nobody wants this run
    supervisor = os.getpid()
    child = os.fork()
    if child == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if not _die_with_parent(signal.SIGKILL, supervisor):
            os._exit(1)
        return None
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:  # pragma: no cover - retried by Python itself (PEP 475)
            continue
    code = os.waitstatus_to_exitcode(status)
    if code < 0:  # the run was killed by a signal: end the same way, so the executor sees it
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    return code


def main() -> int:
    supervised = _supervise()
    if supervised is not None:
        return supervised
    spec = json.loads(sys.stdin.read())
    try:
        from engine.bench.tasks import execute

        result = execute(spec)
        out = {"ok": True, "result": result}
    except Exception as exc:  # noqa: BLE001 - recorded as the run's error, never raised further
        out = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-4000:]}
    sys.stdout.write("\n" + json.dumps(out, default=_default) + "\n")
    sys.stdout.flush()
    return 0


def _default(obj: object) -> object:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    return str(obj)


if __name__ == "__main__":
    raise SystemExit(main())
