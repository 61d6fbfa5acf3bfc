"""The servers the run uses, made ready for it: PostgreSQL, RabbitMQ or Redis.

At the start of a run the bench's database is dropped and created again, its
RabbitMQ vhost created if missing (and its queues purged once the app is loaded), or
its Redis db flushed. Each server's version is read for the report.

Migrating an empty database takes most of a smoke run's setup, so the first run keeps
its freshly migrated database as a template (``<name>_template``, labelled with a
fingerprint of the migrations) and later runs create theirs as a copy of it when the
migrations are the same. ``manage.py migrate`` still runs on every database, copy or
not: on an up-to-date copy it finds nothing to do.
"""

import subprocess
import time

import psycopg
from psycopg import sql

from .environment import DEFAULT_BROKER_SERVERS, Resources

DEFAULT_REDIS = DEFAULT_BROKER_SERVERS["redis"]
CONSUMERS_GONE_TIMEOUT = 10.0  # seconds for the broker to notice a killed worker


def recreate_database(res: Resources, fingerprint: str) -> bool:
    """Drop the run's database (disconnecting whatever a killed run left on it) and
    create it again: a copy of the template database when that was made from the same
    migrations (its comment holds their ``fingerprint``), empty otherwise. Returns
    whether it is a copy."""
    template = template_name(res)
    with psycopg.connect(res.maintenance_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(res.database_name)))
        found = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [template]
        ).fetchone()
        copy = found is not None and found[0] == fingerprint
        create = "CREATE DATABASE {} TEMPLATE {}" if copy else "CREATE DATABASE {}"
        conn.execute(sql.SQL(create).format(sql.Identifier(res.database_name), sql.Identifier(template)))
    return copy


def save_template(res: Resources, fingerprint: str) -> None:
    """Keep the freshly migrated database as the template of the next runs. Nothing
    may be connected to it meanwhile (the bench connects only after this)."""
    template = sql.Identifier(template_name(res))
    with psycopg.connect(res.maintenance_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(template))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(template, sql.Identifier(res.database_name)))
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(template, sql.Literal(fingerprint)))


def template_name(res: Resources) -> str:
    return f"{res.database_name}_template"


def prepare_broker(res: Resources) -> None:
    """RabbitMQ: the vhost, with guest's permissions, unless guest can use it already
    (asked over AMQP: rabbitmqctl takes a second a call). Redis: the db flushed."""
    if res.broker == "rabbitmq":
        if _amqp_server_properties(res.broker_url) is None:
            if res.vhost not in _rabbitmqctl("list_vhosts", "--quiet", "--no-table-headers").split():
                _rabbitmqctl("add_vhost", res.vhost)
            _rabbitmqctl("set_permissions", "-p", res.vhost, "guest", ".*", ".*", ".*")
    else:
        import redis

        redis.Redis.from_url(res.broker_url).flushdb()


def _amqp_server_properties(url: str) -> dict | None:
    """The server's properties, or None if ``url`` cannot be connected to (a missing
    vhost, no permission, no server)."""
    import kombu

    try:
        with kombu.Connection(url, connect_timeout=5) as conn:
            conn.connect()
            return conn.connection.server_properties
    except Exception:  # refused, no such vhost, not allowed: all mean "not usable as it is"
        return None


def purge_task_queues() -> int:
    """Drop every message on the app's task queues (a killed run's leftovers, or a
    backlog given up on); returns how many were waiting. Needs Django set up, and no
    worker running.

    A killed worker's unacked messages go back to their queue only once the broker has
    seen its connection close: on RabbitMQ the purge waits until no queue has a
    consumer left; on Redis it deletes them from where the transport keeps them (Redis
    would hand them out again an hour later)."""
    from project.celery import app

    app.amqp.queues  # noqa: B018 - reading it binds the task queues to their exchange
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        queues = [queue.bind(channel) for queue in app.conf.task_queues]
        deadline = time.monotonic() + CONSUMERS_GONE_TIMEOUT
        while conn.transport.driver_type == "amqp" and time.monotonic() < deadline:
            if not any(queue.queue_declare().consumer_count for queue in queues):
                break
            time.sleep(0.05)
        purged = sum(queue.purge() or 0 for queue in queues)
        if conn.transport.driver_type == "redis":
            channel.client.delete(channel.unacked_key, channel.unacked_index_key, channel.unacked_mutex_key)
    return purged


def _rabbitmqctl(*args: str) -> str:
    return subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, text=True).stdout


def versions(res: Resources) -> dict[str, str]:
    """The servers' versions, as they report them (the broker not used by this run
    too, when it answers)."""
    import redis

    with psycopg.connect(res.database_url, autocommit=True) as conn:
        found = {"PostgreSQL": conn.execute("SHOW server_version").fetchone()[0]}
    amqp_url = res.broker_url if res.broker == "rabbitmq" else DEFAULT_BROKER_SERVERS["rabbitmq"]
    properties = _amqp_server_properties(amqp_url) or {}
    found["RabbitMQ"] = str(properties.get("version", "not reachable"))
    redis_url = res.broker_url if res.broker == "redis" else DEFAULT_REDIS
    try:
        found["Redis"] = redis.Redis.from_url(redis_url, socket_timeout=2).info("server")["redis_version"]
    except redis.RedisError:
        found["Redis"] = "not reachable"
    return found
