"""The few private methods of drf-spectacular that ``project.openapi.schema.ApiSchema``
overrides or calls (it has no public hook for responses or request bodies). An upgrade
that renames one or changes its parameters fails here, by name, instead of leaving the
document without its error answers or closed bodies."""

import inspect

import pytest
from drf_spectacular.openapi import AutoSchema

from project.openapi.schema import PRIVATE_API, ApiSchema


@pytest.mark.parametrize(("name", "parameters"), PRIVATE_API.items(), ids=PRIVATE_API.keys())
def test_the_private_methods_we_rely_on_are_still_there_with_their_parameters(name, parameters):
    method = getattr(AutoSchema, name, None)

    assert method is not None, f"drf-spectacular's AutoSchema has no {name} any more"
    assert tuple(inspect.signature(method).parameters) == parameters


def test_every_private_method_the_schema_overrides_is_listed():
    overridden = {
        name
        for name, value in vars(ApiSchema).items()
        if name.startswith("_") and not name.startswith("__") and hasattr(AutoSchema, name) and callable(value)
    }

    assert overridden <= set(PRIVATE_API)
