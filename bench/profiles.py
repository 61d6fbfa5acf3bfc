"""How long and how big: the full benchmark and the smoke run (``--smoke``).

Every duration is in seconds. The smoke profile runs every section with tiny sizes so
that CI can check the harness end to end in well under a minute; its figures mean
nothing about speed.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    # Setup
    products: int
    customers: int
    # Load driver
    connections: int  # closed loop: concurrent connections
    first_warmup: float  # seconds of traffic to each endpoint before the first section
    warmup: float  # closed loop: seconds run before measuring
    closed_seconds: float  # closed loop: seconds measured
    open_seconds: float  # open loop: seconds of arrivals at one rate
    open_fractions: tuple[float, ...]  # open-loop rates, as fractions of the bare endpoint's peak
    # Settling between measurements: wait this long for the worker to drain the
    # backlog, else start from fresh tables (see bench.state).
    drain_wait: float
    # Pipeline section
    pipeline_rates: tuple[float, ...]  # orders/s, stepped up until one is not sustained
    step_seconds: float
    step_drain_seconds: float  # a sustained step's backlog must be gone this long after it
    half_rate_seconds: float
    sample_interval: float
    # Growth section
    line_counts: tuple[int, ...]
    growth_orders: int  # orders in the tables for the "full tables" measurements
    growth_pipeline_seconds: float
    growth_default_rate: float  # orders/s when the pipeline section did not run
    # Workers section
    preload_orders: int
    worker_concurrencies: tuple[int, ...]
    worker_step_seconds: float
    # Bounds
    settle_timeout: float  # the longest wait for a backlog to drain before a verification


FULL = Profile(
    name="full",
    products=1000,
    customers=200,
    connections=16,
    first_warmup=3.0,
    warmup=2.0,
    closed_seconds=15.0,
    open_seconds=12.0,
    open_fractions=(0.25, 0.5, 0.75, 0.9),
    drain_wait=20.0,
    # About 10 % apart, so that the highest sustained rate is known to within that.
    pipeline_rates=(10, 12, 14, 16, 18, 20, 22, 24, 27, 30, 33, 36, 40, 45, 50, 55, 60, 70, 80, 100, 120, 150, 200),
    step_seconds=20.0,
    step_drain_seconds=5.0,
    half_rate_seconds=30.0,
    sample_interval=0.5,
    line_counts=(1, 10, 100),
    growth_orders=1_000_000,
    growth_pipeline_seconds=20.0,
    growth_default_rate=20.0,
    preload_orders=1000,
    worker_concurrencies=(1, 2, 4),
    worker_step_seconds=10.0,
    settle_timeout=120.0,
)

SMOKE = Profile(
    name="smoke",
    products=100,
    customers=20,
    connections=1,
    first_warmup=0.5,
    warmup=0.2,
    closed_seconds=0.5,
    open_seconds=0.5,
    open_fractions=(0.5,),
    drain_wait=0.5,
    pipeline_rates=(5, 10),
    step_seconds=1.0,
    step_drain_seconds=2.0,
    half_rate_seconds=1.0,
    sample_interval=0.2,
    line_counts=(1, 10, 100),
    growth_orders=2_000,
    growth_pipeline_seconds=1.0,
    growth_default_rate=5.0,
    preload_orders=10,
    worker_concurrencies=(1, 2),
    worker_step_seconds=1.0,
    settle_timeout=30.0,
)
