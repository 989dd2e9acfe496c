"""Following NextToken: every page, or every item, of a paginated operation.

    for user in items(backend.call, "ListUsers", {"CollectionId": "c", "MaxResults": 500}, "Users"):
        ...

`pages` takes the call as one function of the request (`lambda request: backend.call("ListFaces",
request)`), so an adapter can put its own logging or conversion around each request. A service
that answers a page with the very token that asked for it would loop forever: that raises
RepeatedTokenError instead, as botocore's paginator does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any


class RepeatedTokenError(RuntimeError):
    """A page came back with the token it was requested with."""

    def __init__(self, input_token: str, token: Any):
        super().__init__(f"The same next token was received twice: {{{input_token!r}: {token!r}}}")
        self.input_token = input_token
        self.token = token


def pages(call: Callable[[dict], dict], params: Mapping[str, Any], *, input_token: str = "NextToken",
          output_token: str = "NextToken") -> Iterator[dict]:
    """Each response page of `call`, the first one asked with `params` (which may carry a token to
    start from), each next one with the previous page's `output_token`, until a page has none."""
    request = dict(params)
    sent: Any = None  # the token this generator put in the request (a caller's starting token is not checked)
    while True:
        page = call(dict(request))
        yield page
        token = page.get(output_token)
        if not token:
            return
        if sent is not None and token == sent:
            raise RepeatedTokenError(input_token, token)
        request[input_token] = sent = token


def items(call: Callable[[str, dict], dict], operation: str, params: Mapping[str, Any], result_key: str) -> Iterator[Any]:
    """Every item under `result_key` of every page of `operation` (`call` is a backend's call)."""
    for page in pages(lambda request: call(operation, request), params):
        yield from page.get(result_key) or []
