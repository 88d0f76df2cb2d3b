"""Small sweeps for tests/test_sweeps.py, registered through $ESCAPE_NTK_SWEEPS=sweep_fixtures.

They run the library's own task (escape_ntk.sweeps.ntk_regression) at small sizes, plus two
test-only tasks: one that records which process ran it, one that fails on purpose.
"""

import os
from pathlib import Path

from escape_ntk.pipeline import Sweep, grid, task_version
from escape_ntk.sweeps import ntk_regression

PID_DIR_ENV = "SWEEP_FIXTURE_PID_DIR"


@task_version("1")
def tiny_task(**kw):
    """ntk_regression, and (if $SWEEP_FIXTURE_PID_DIR is set) a file named after this process."""
    where = os.environ.get(PID_DIR_ENV)
    if where:
        Path(where, str(os.getpid())).touch()
    return ntk_regression(**kw)


def flaky_task(*, x, device, dtype):
    """x^2, except that x = 1 raises (a task that fails must not stop the sweep)."""
    if x == 1:
        raise ValueError("x = 1 fails on purpose")
    return {"square": float(x * x)}


_SMALL = {"m": 64, "ridges": [1e-3, 1e-1], "n_test": 100, "act": "softplus_shift"}

#: 6 tasks of a few ms each.
TINY = Sweep("test-tiny", tiny_task, grid(d=[6], n=[16, 32, 64], seed=[0, 1]), fixed=_SMALL, rtol=1e-9, atol=1e-12)

#: 16 tasks of about 0.1-0.3 s each on one core: long enough to be interrupted mid-run.
SLOW = Sweep("test-slow", ntk_regression, grid(seed=range(16)),
             fixed={"d": 10, "n": 600, "m": 1000, "ridges": [1e-4, 1e-2, 1.0], "n_test": 1000,
                    "act": "softplus_shift"})

FLAKY = Sweep("test-flaky", flaky_task, grid(x=[0, 1, 2]), version="1")
