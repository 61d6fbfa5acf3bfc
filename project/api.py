"""Small helpers every controller uses."""


def validated(serializer_class, data, **kwargs) -> dict:
    """Validate request data with ``serializer_class``; a 400 naming the fields if not."""
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
