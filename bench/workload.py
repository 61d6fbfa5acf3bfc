"""What the load driver sends: order bodies over the seeded catalog, spread over the
seeded customers' tokens, encoded once before a measurement (``load.RequestPool``).

* spread: each order has ``lines`` lines of distinct products drawn at random from the
  whole catalog (1,000 products): little contention on any one product's row;
* hot: every order is one unit of ``HOT-1``, a flash sale: every request locks the
  same product row.

A fixed random seed makes every run send the same requests.
"""

import json
import random
from dataclasses import dataclass
from pathlib import Path

from .load import RequestPool, post

ORDERS_PATH = "/api/v1/orders"
BARE_PATH = "/api/v1/bench/bare-orders"
POOL_SIZE = 2000  # distinct pre-encoded requests per pool
SEED = 20_240_601


@dataclass(frozen=True)
class Workload:
    skus: list[str]
    hot_sku: str
    tokens: list[str]

    @classmethod
    def load(cls, path: Path) -> "Workload":
        data = json.loads(path.read_text())
        return cls(skus=data["skus"], hot_sku=data["hot_sku"], tokens=data["tokens"])

    def bodies(self, catalog: str, lines: int, count: int) -> list[bytes]:
        rng = random.Random(SEED + lines)
        bodies = []
        for _ in range(count):
            skus = [self.hot_sku] if catalog == "hot" else rng.sample(self.skus, lines)
            items = [{"sku": sku, "quantity": 1} for sku in skus]
            bodies.append(json.dumps({"items": items, "payment_token": "tok_ok"}).encode())
        return bodies

    def pool(self, path: str, *, port: int, catalog: str = "spread", lines: int = 2) -> RequestPool:
        """Requests to ``path``; the i-th is sent with the i-th token (round robin)."""
        host = f"127.0.0.1:{port}"
        bodies = self.bodies(catalog, lines, POOL_SIZE)
        return RequestPool(
            [post(path, body, token=self.tokens[i % len(self.tokens)], host=host) for i, body in enumerate(bodies)]
        )
