"""The OpenAPI document: what drf-spectacular sees in the views, plus what it cannot see.

* ``schema`` — ``ApiSchema`` (``DEFAULT_SCHEMA_CLASS``): the error answers each
  operation can give, which operations need no login, closed request bodies, one tag per
  app; the few private methods of drf-spectacular it must override are listed in
  ``PRIVATE_API`` and pinned by ``tests/project/test_openapi_private_api.py``;
* ``errors`` — the one error format (the ``Error`` component) and what each status means;
* ``inputs`` — what DRF refuses of an input that the library does not write down;
* ``links`` — the OpenAPI links that chain operations (a postprocessing hook), which
  Schemathesis's stateful phase follows;
* ``description.md`` — the API's description, shown at the top of the docs.
"""
