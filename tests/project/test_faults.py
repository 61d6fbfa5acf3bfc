"""The fault hooks (project/faults.py): inert unless named, and a real SIGKILL when due."""

import signal
import subprocess
import sys

import pytest
from django.conf import settings

from project import faults

# Reaches the point five times, printing the count after each pass it survives.
PROGRAM = """
from project.faults import crash_point
for n in range(1, 6):
    crash_point("payments.after_charge")
    print(n, flush=True)
"""


def run_with(crash_points: str | None) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin"}
    if crash_points is not None:
        env["ORDERFLOW_CRASH_POINTS"] = crash_points
    return subprocess.run(
        [sys.executable, "-c", PROGRAM], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )


def test_a_point_not_named_does_nothing():
    unset = run_with(None)
    other = run_with("events.after_commit")
    for done in (unset, other):
        assert done.returncode == 0
        assert done.stdout.split() == ["1", "2", "3", "4", "5"]


def test_every_nth_pass_kills_the_process_with_sigkill_and_says_so():
    done = run_with("payments.after_charge:every=3")
    assert done.returncode == -signal.SIGKILL
    assert done.stdout.split() == ["1", "2"]  # the third pass never printed
    assert f"{faults.CRASH_LINE} payments.after_charge" in done.stderr


def test_probability_zero_never_kills_and_one_always_does():
    assert run_with("payments.after_charge:p=0").returncode == 0
    always = run_with("payments.after_charge:p=1")
    assert always.returncode == -signal.SIGKILL
    assert always.stdout == ""


@pytest.mark.parametrize("spec", ["x:every=0", "x:p=2", "x:sometimes=1", "x:every=many"])
def test_a_malformed_rule_is_refused(spec):
    with pytest.raises(ValueError, match=r"the rule is every=N \(N >= 1\) or p=F"):
        faults._parse(spec)
