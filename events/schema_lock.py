"""Published payload schemas, kept so that a payload cannot change under its version.

``events/schemas.lock.json`` holds the JSON Schema of every event type's payload at
every version it was published with. A type whose current schema differs from the one
recorded for its version changed without a version bump: a consumer (a handler reading
stored events, a webhook receiver, a stream subscriber) would get a shape its version
does not promise. The fix is a new version (and an upcaster from the old one,
``EventType.upcaster``), then ``manage.py events schemas --record`` to add it. Recorded
versions are never rewritten.
"""

import json
from pathlib import Path

from . import types
from .asyncapi import payload_schema

# Per event type, per version, that version's payload JSON Schema.
SchemaLock = dict[str, dict[str, types.JSONObject]]

LOCK_FILE = Path(__file__).with_name("schemas.lock.json")


def load(path: Path | None = None) -> SchemaLock:
    path = path or LOCK_FILE
    if not path.exists():
        return {}
    lock: SchemaLock = json.loads(path.read_text())
    return lock


def problems(lock: SchemaLock | None = None) -> list[str]:
    """What is wrong between the declared event types and the recorded schemas: empty
    if every type's current version is recorded with the schema it has now."""
    lock = load() if lock is None else lock
    found = []
    for event_type in types.all_types():
        recorded = lock.get(event_type.name, {})
        current = payload_schema(event_type)
        version = str(event_type.version)
        if version not in recorded:
            newest = max((int(v) for v in recorded), default=0)
            if newest > event_type.version:
                found.append(
                    f"{event_type.name} is v{event_type.version}, but v{newest} was published: versions only go up"
                )
            else:
                found.append(
                    f"{event_type.name} v{version} is not recorded: run `python manage.py events schemas --record`"
                )
        elif _shape(recorded[version]) != _shape(current):
            found.append(
                f"{event_type.name} v{version}: its payload schema changed without a version bump. Give the type "
                f"version={event_type.version + 1} and an upcaster from v{version}, then run "
                "`python manage.py events schemas --record`"
            )
    return found


# Words for people, not part of the shape a consumer relies on: rewording a docstring
# (pydantic makes it the schema's description) is no new version.
_PROSE = frozenset({"title", "description"})


def _shape(schema: object) -> object:
    """The schema without its prose, for comparing shapes."""
    if isinstance(schema, dict):
        return {k: _shape(v) for k, v in schema.items() if k not in _PROSE or not isinstance(v, str)}
    if isinstance(schema, list):
        return [_shape(v) for v in schema]
    return schema


def record(path: Path | None = None) -> list[str]:
    """Add every type's current version that is not recorded yet; never rewrite a
    recorded one (``problems`` reports those). Returns what was added."""
    path = path or LOCK_FILE
    lock = load(path)
    added = []
    for event_type in types.all_types():
        versions = lock.setdefault(event_type.name, {})
        version = str(event_type.version)
        if version not in versions:
            versions[version] = payload_schema(event_type)
            added.append(f"{event_type.name} v{version}")
    path.write_text(json.dumps(lock, indent=2, sort_keys=True) + "\n")
    return added
