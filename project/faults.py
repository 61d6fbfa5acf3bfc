"""Fault hooks for the fault tests (tests/faults) and the soak script (scripts/soak.py).

Inert unless the environment asks for them: with neither variable set, ``crash_point``
is one test of an empty dict and ``publish_copies`` returns a constant.

``ORDERFLOW_CRASH_POINTS`` names the points where the process kills itself with
SIGKILL (no cleanup, no atexit, no rollback sent: the database and the broker see the
connection drop, as after a power cut or the OOM killer), comma-separated, each with
an optional rule:

    ORDERFLOW_CRASH_POINTS="events.after_commit:every=4,payments.after_charge:p=0.25"

* ``NAME`` or ``NAME:every=1``: die every time the point is reached;
* ``NAME:every=N``: die the Nth, 2Nth, ... time this process reaches it, so a stream of
  work keeps flowing between the kills (a restarted process counts from zero);
* ``NAME:p=F``: die with probability F each time.

The points, each where a crash does the most harm to the work in hand:

* ``events.after_commit``: the transaction that recorded an event has committed and
  its caller has not answered yet (in the web process: the order is placed, the client
  gets a dropped connection instead of its 201; the dispatcher sends the event all the
  same);
* ``events.before_publish``: the dispatcher has written a batch's handler runs and
  claimed its events, and published none of their tasks (in the relay: the events
  stay undispatched until their claim runs out, then go out again);
* ``events.before_mark``: the dispatcher has published a batch's tasks and not yet
  marked its events dispatched (in the relay: the tasks go out a second time once the
  claim runs out; the handlers run each once);
* ``payments.after_charge``: the gateway took the money, the payment and
  ``payment.captured`` are not written yet (in a worker: the retry must not charge
  again);
* ``exports.after_publish``: a stream sink has the event, its handler run is not
  marked done (in a worker: the run again must not add it to the stream twice).

``ORDERFLOW_PUBLISH_COPIES=N`` (default 1) publishes every handler task N times, so
the broker delivers each one N times, copies racing each other on the workers.

Before dying, the process writes ``orderflow-fault: crash point NAME`` to stderr, so a
test can count the kills in its logs.
"""

import os
import random
import signal
from dataclasses import dataclass

CRASH_LINE = "orderflow-fault: crash point"


@dataclass
class _Rule:
    every: int = 1
    probability: float = 1.0
    hits: int = 0


def _parse(spec: str) -> dict[str, _Rule]:
    rules: dict[str, _Rule] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, option = item.partition(":")
        rule = _Rule()
        if option:
            key, _, value = option.partition("=")
            try:
                if key == "every" and int(value) >= 1:
                    rule.every = int(value)
                elif key == "p" and 0.0 <= float(value) <= 1.0:
                    rule.probability = float(value)
                else:
                    raise ValueError
            except ValueError:
                raise ValueError(
                    f"ORDERFLOW_CRASH_POINTS: {item!r}: the rule is every=N (N >= 1) or p=F (0 <= F <= 1)"
                ) from None
        rules[name.strip()] = rule
    return rules


_rules = _parse(os.environ.get("ORDERFLOW_CRASH_POINTS", ""))
_copies = max(1, int(os.environ.get("ORDERFLOW_PUBLISH_COPIES", "1") or 1))


def is_armed(name: str) -> bool:
    """Whether ``ORDERFLOW_CRASH_POINTS`` names ``name`` (so a caller can skip the work of
    reaching a point nobody asked for)."""
    return name in _rules


def crash_point(name: str) -> None:
    """SIGKILL this process here if ``ORDERFLOW_CRASH_POINTS`` names ``name`` (and its
    rule says this time)."""
    if not _rules:
        return
    rule = _rules.get(name)
    if rule is None:
        return
    rule.hits += 1
    if rule.hits % rule.every or random.random() >= rule.probability:
        return
    # Straight to file descriptor 2: no buffer to lose, whoever wrapped sys.stderr.
    os.write(2, f"{CRASH_LINE} {name} (pid {os.getpid()}): SIGKILL\n".encode())
    os.kill(os.getpid(), signal.SIGKILL)


def publish_copies() -> int:
    """How many times to publish each handler task (``ORDERFLOW_PUBLISH_COPIES``)."""
    return _copies
