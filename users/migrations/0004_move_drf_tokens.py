"""Move DRF authtoken keys to digests, so that nobody is signed out by the upgrade.

Before, each user had at most one plain-text key in ``authtoken_token``. Each becomes an
``ApiToken`` holding only the key's digest (the same HMAC as ``users.tokens``, frozen
here as a migration must be), named "signed in before the upgrade", valid for
``TOKEN_TTL`` from now and sliding with use like any other. The client keeps sending the
key it has and is still let in. Then the plain-text table is dropped, with its content
types and permissions: a backup taken afterwards holds no key.

A database that never had DRF's authtoken table (a new one) has nothing to move.
"""

from datetime import datetime, timezone

from django.conf import settings
from django.db import migrations
from django.utils.crypto import salted_hmac
from django.utils.dateparse import parse_datetime

DRF_TABLE = "authtoken_token"
NAME = "signed in before the upgrade"


def _digest(key: str) -> str:
    return salted_hmac("orderflow.users.api-token", key, secret=settings.SECRET_KEY, algorithm="sha256").hexdigest()


def _aware(value) -> datetime:
    moment = value if isinstance(value, datetime) else parse_datetime(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def move_drf_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if DRF_TABLE not in connection.introspection.table_names():
        return
    ApiToken = apps.get_model("users", "ApiToken")
    now = datetime.now(timezone.utc)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {schema_editor.quote_name('key')}, user_id, created FROM {DRF_TABLE}")
        rows = cursor.fetchall()
    ApiToken.objects.using(connection.alias).bulk_create(
        ApiToken(
            user_id=user_id,
            name=NAME,
            digest=_digest(key),
            created_at=_aware(created),
            expires_at=now + settings.TOKEN_TTL,
        )
        for key, user_id, created in rows
    )
    schema_editor.execute(f"DROP TABLE {DRF_TABLE}")
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.using(connection.alias).filter(app_label="authtoken").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("users", "0003_api_tokens"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    # Not reversible: the keys are gone once hashed, which is the point.
    operations = [migrations.RunPython(move_drf_tokens, migrations.RunPython.noop)]
