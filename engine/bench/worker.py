"""Isolated run: ``python -m engine.bench.worker`` reads one run spec (JSON) on stdin and
prints one result (JSON) on stdout. A crash or a hang costs only this process."""

from __future__ import annotations

import json
import sys
import traceback


def main() -> int:
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
