import re

from rest_framework.pagination import PageNumberPagination

from .errors import invalid

WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")


class Pagination(PageNumberPagination):
    """Page-number pagination that refuses what it does not understand.

    DRF's own quietly falls back to the default page size for a ``page_size`` that is
    not a number and cuts one over the maximum; here either is a 400 naming the
    parameter, as the schema's bounds say. A ``page`` past the last one stays a 404.
    """

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    last_page_strings = ()  # `page=last` is not part of the API

    def paginate_queryset(self, queryset, request, view=None):
        self._check(request, self.page_query_param, maximum=None)
        self._check(request, self.page_size_query_param, maximum=self.max_page_size)
        return super().paginate_queryset(queryset, request, view)

    @staticmethod
    def _check(request, name: str, maximum: int | None) -> None:
        given = request.query_params.getlist(name)
        if not given:
            return
        if len(given) > 1:
            raise invalid(name, "Give it once.")
        raw = given[0]
        if not WHOLE_NUMBER.fullmatch(raw) or int(raw) < 1 or (maximum is not None and int(raw) > maximum):
            bound = f"from 1 to {maximum}" if maximum else "from 1"
            raise invalid(name, f"A whole number {bound}.")

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            schema = parameter["schema"]
            schema["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                schema["maximum"] = self.max_page_size
                parameter["description"] = f"Results per page, 1 to {self.max_page_size} (default {self.page_size})."
            else:
                schema["maximum"] = 10**9 - 1
                parameter["description"] = "The page, from 1; one past the last is 404."
        return parameters
