"""The rule between apps (README, "How the code is laid out"): an app reaches another
only through its ``services`` (to change it), ``selectors`` (to read it) and
``signals`` (its public event types and the words they carry, e.g. ``CancelReason``),
never through its models, tasks, admin or views. ``events`` is the machinery every app
builds on, used through its public modules; ``users.authentication`` is made to be
extended. Migrations are exempt (they use the historical models they are given).
``project`` is the site, not a domain: its helpers serve every app, and it composes
them (URLs, the admin's front page)."""

import ast
from pathlib import Path

from django.apps import apps
from django.conf import settings

PUBLIC = {"services", "selectors", "signals"}
ALSO_PUBLIC = {
    "events": {"types", "handlers", "subscriptions", "models", "admin", "public"},
    "users": {"authentication"},
}


def our_apps() -> dict[str, Path]:
    base = Path(settings.BASE_DIR).resolve()
    found = {}
    for config in apps.get_app_configs():
        path = Path(config.path).resolve()
        if path.parent == base and config.name != "project":
            found[config.name] = path
    return found


def imports_of(path: Path):
    """(line, imported module) for every absolute import in the file."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, []


def crossings(ours: dict[str, Path]) -> list[str]:
    """Every import of another of ``ours`` (name -> folder) past its public modules."""
    found = []
    for app, root in ours.items():
        for path in sorted(root.rglob("*.py")):
            if "migrations" in path.relative_to(root).parts:
                continue
            for line, module, names in imports_of(path):
                other, _, rest = module.partition(".")
                if other not in ours or other == app:
                    continue
                allowed = PUBLIC | ALSO_PUBLIC.get(other, set())
                # "from orders import selectors" names the module in the import list
                reached = [rest.split(".")[0]] if rest else names
                for part in reached:
                    if part not in allowed:
                        found.append(f"{path.relative_to(root.parent)}:{line} imports {other}.{part}")
    return found


def test_apps_reach_each_other_only_through_services_selectors_and_signals():
    assert our_apps().keys() >= {"orders", "payments", "customers", "notifications", "catalog", "users", "events"}
    assert crossings(our_apps()) == []


def test_the_rule_refuses_models_and_tasks_and_lets_selectors_and_migrations_through(tmp_path):
    for app in ("orders", "payments", "payments/migrations"):
        (tmp_path / app).mkdir(parents=True)
    (tmp_path / "payments" / "services.py").write_text(
        "from orders.models import Order\n"
        "from orders import selectors, tasks\n"
        "import orders.admin\n"
        "from orders.signals import CancelReason\n"
        "from payments.models import Payment\n"
    )
    (tmp_path / "payments" / "migrations" / "0002_x.py").write_text("from orders.models import Order\n")

    assert crossings({"orders": tmp_path / "orders", "payments": tmp_path / "payments"}) == [
        "payments/services.py:1 imports orders.models",
        "payments/services.py:2 imports orders.tasks",
        "payments/services.py:3 imports orders.admin",
    ]
