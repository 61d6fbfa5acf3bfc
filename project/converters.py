from catalog.models import SKU_PATTERN


class SkuConverter:
    """Only well-formed SKUs reach the view; anything else is a plain 404."""

    regex = SKU_PATTERN

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
