from django.db import migrations

# PostgreSQL: when a transaction that wrote an event commits, NOTIFY events_stream with
# the event's stream ("order:42"), so each web process's live order streams (live.hub)
# wake only the streams of that order, which then read the new events from the table.
# Row-level, beside the relay's payload-less statement-level NOTIFY events_recorded
# (migration 0006, kept as it is); PostgreSQL folds a transaction's identical
# notifications into one, so an order's several events in one commit wake it once.
NOTIFY_STREAM = """
CREATE FUNCTION events_event_notify_stream() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('events_stream', NEW.stream);
    RETURN NULL;
END;
$$;
CREATE TRIGGER events_event_notify_stream AFTER INSERT ON events_event
    FOR EACH ROW EXECUTE FUNCTION events_event_notify_stream();
"""
DROP_NOTIFY_STREAM = """
DROP TRIGGER IF EXISTS events_event_notify_stream ON events_event;
DROP FUNCTION IF EXISTS events_event_notify_stream();
"""


def notify_stream(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(NOTIFY_STREAM)


def drop_notify_stream(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_NOTIFY_STREAM)


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0006_outbox_dispatcher"),
    ]

    operations = [
        migrations.RunPython(notify_stream, drop_notify_stream),
    ]
