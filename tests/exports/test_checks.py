"""The sinks' settings are checked at start, and the enabled sinks named in the log."""

from django.core import checks

from exports.checks import check_export_settings, describe


def test_no_sink_is_enabled_by_default():
    assert describe() == "exports: no stream sink enabled"
    assert check_export_settings() == []


def test_the_enabled_sinks_are_named_without_their_credentials(settings):
    settings.EVENTS_EXPORT_REDIS_URL = "redis://user:s3cret@cache.internal:6380/2"
    settings.EVENTS_EXPORT_KAFKA_BOOTSTRAP = "kafka-1:9092,kafka-2:9092"

    line = describe()

    assert line == (
        "exports: public events exported to redis (redis://cache.internal:6380/2), kafka (kafka-1:9092,kafka-2:9092)"
    )
    assert "s3cret" not in line


def test_a_sink_url_of_the_wrong_kind_fails_the_check(settings):
    settings.EVENTS_EXPORT_NATS_URL = "http://127.0.0.1:4222"
    settings.EVENTS_EXPORT_PREFIX = "orderflow.>"

    problems = check_export_settings()

    assert [p.id for p in problems] == ["exports.E001", "exports.E001"]
    assert all(p.level == checks.ERROR for p in problems)
    assert "EVENTS_EXPORT_NATS_URL" in problems[0].msg
    assert "EVENTS_EXPORT_PREFIX" in problems[1].msg
