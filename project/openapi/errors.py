"""The error answers in the document: the ``Error`` component (the one format of
``project/errors.py``) and what each status means in this API, with an example."""

ERROR_COMPONENT = "Error"
ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error answer of the API has this shape.",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {
                    "type": "string",
                    "description": "A stable machine-readable word: invalid, parse_error, not_authenticated, "
                    "authentication_failed, permission_denied, not_found, conflict, unprocessable, "
                    "payload_too_large, unsupported_media_type, throttled, server_error, ...",
                },
                "message": {"type": "string", "description": "A sentence for people."},
                "fields": {
                    "type": "object",
                    "description": "On validation errors (code `invalid`): each offending input (a body field, "
                    "a query parameter or a header) with its messages; a nested input (an order's `items`) "
                    "has the same structure per line or field. `non_field_errors` holds what concerns the "
                    "input as a whole.",
                    "additionalProperties": {"anyOf": [{"type": "array", "items": {}}, {"type": "object"}]},
                },
            },
            "required": ["code", "message"],
        }
    },
    "required": ["error"],
}

# What each status means in this API, and an example of its body.
ERRORS = {
    400: ("Invalid input: the fields that are wrong are named in `fields`.", "invalid"),
    401: ("No credentials, or credentials that are not valid.", "not_authenticated"),
    403: ("Not allowed for this account.", "permission_denied"),
    404: ("Not found, or not the caller's.", "not_found"),
    409: ("Conflicts with the current state.", "conflict"),
    413: ("The request body is too large.", "payload_too_large"),
    # gunicorn refuses a request line over 4094 bytes before Django sees it, in HTML.
    414: ("The URL is too long: refused by the HTTP server (gunicorn) before the API, as HTML.", None),
    415: ("The request body is not `application/json`.", "unsupported_media_type"),
    422: ("This Idempotency-Key was used with a different request.", "unprocessable"),
    429: ("Too many requests: try again after `Retry-After` seconds.", "throttled"),
    500: ("Something went wrong on our side (never caused by the input).", "server_error"),
}
EXAMPLE_MESSAGES = {
    "not_authenticated": ("Authentication credentials were not provided.", None),
    "permission_denied": ("You do not have permission to perform this action.", None),
    "not_found": ("Not found.", None),
    "conflict": ("The request conflicts with the current state.", None),
    "payload_too_large": ("The request body is too large.", None),
    "unsupported_media_type": ('Unsupported media type "text/plain" in request.', None),
    "unprocessable": ("This Idempotency-Key was used with a different request.", None),
    "throttled": ("Request was throttled. Expected available in 42 seconds.", None),
    "server_error": ("Something went wrong on our side.", None),
}
