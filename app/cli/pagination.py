"""Client-side pagination with the aws CLI's semantics (botocore's PageIterator).

Pages are fetched by following NextToken; --page-size sets MaxResults on each call, --max-items
caps the items output and ends with a resume token, and --starting-token resumes there. Resume
tokens are encoded as botocore encodes them (base64 of {"NextToken": ..., "boto_truncate_amount": n}),
so a token printed by rekurator works with `aws --starting-token` and the other way round.
Quirks kept on purpose, because the aws CLI has them: --max-items and --starting-token slice
only the first result key (ListCollections' FaceModelVersions is not sliced with CollectionIds,
and is emptied on a resumed first page).
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from app.workflows.paging import RepeatedTokenError, pages

from .exit_codes import CliError, ParamError
from .model import result_keys


class PaginationError(CliError):
    exit_code = 255


@dataclass
class Pages:
    pages: list[dict]
    result_keys: list[str]
    non_aggregate: dict = field(default_factory=dict)
    resume_token: str | None = None

    def full_result(self) -> dict:
        """All pages merged into one response, as botocore's build_full_result does."""
        complete: dict = {}
        for page in self.pages:
            for key in self.result_keys:
                value = page.get(key)
                if value is None:
                    continue
                existing = complete.get(key)
                if existing is None:
                    complete[key] = copy.copy(value)
                elif isinstance(value, list):
                    existing.extend(value)
                elif isinstance(value, (int, float, str)):
                    complete[key] = existing + value
        _merge(complete, self.non_aggregate)
        if self.resume_token is not None:
            complete["NextToken"] = self.resume_token
        return complete

    def text_pages(self) -> list[dict]:
        """The per-page documents the aws CLI's text output prints (result keys only after page 1)."""
        out = []
        for i, page in enumerate(self.pages):
            current = dict(self.non_aggregate) if i == 0 else {}
            for key in self.result_keys:
                current[key] = page.get(key)
            out.append(current)
        if self.resume_token is not None:
            out.append({"NextToken": {"NextToken": self.resume_token}})
        return out


def _merge(base: dict, extra: dict) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def encode_token(token: dict) -> str:
    return base64.b64encode(json.dumps(token).encode("utf-8")).decode("utf-8")


def decode_starting_token(text: str, input_token: str) -> tuple[dict, int]:
    """(the service token dict, how many items of the first page to skip)."""
    try:
        token = json.loads(base64.b64decode(text, validate=True).decode("utf-8"))
        if not isinstance(token, dict):
            raise ValueError("not an object")
        skip = token.pop("boto_truncate_amount", 0)
        if set(token) != {input_token} or not isinstance(skip, int):
            raise ValueError("unexpected members")
        return token, skip
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        pass
    # botocore's older form, "<token>___<skip>", or a bare service token
    parts = text.split("___")
    skip = 0
    if len(parts) == 2:
        try:
            skip = int(parts.pop())
        except ValueError:
            parts = [text]
    if len(parts) != 1:
        raise ParamError("--starting-token", f"Bad starting token: {text}")
    return {input_token: None if parts[0] == "None" else parts[0]}, skip


def paginate(call: Callable[[dict], dict], params: dict, config: dict, *, starting_token: str | None = None,
             page_size: int | None = None, max_items: int | None = None) -> Pages:
    input_token, output_token = config["input_token"], config["output_token"]
    keys = result_keys(config)
    primary = keys[0]
    kwargs = dict(params)
    next_token: dict = {input_token: None}
    skip = 0
    if starting_token is not None:
        next_token, skip = decode_starting_token(starting_token, input_token)
        _inject(kwargs, next_token)
    if page_size is not None:
        kwargs[config["limit_key"]] = page_size
    result = Pages([], keys)
    total = 0
    first = True
    try:
        for page in pages(call, kwargs, input_token=input_token, output_token=output_token):
            starting_truncation = 0
            if first:
                if starting_token is not None:
                    starting_truncation = skip
                    data = page.get(primary)
                    page[primary] = data[skip:] if isinstance(data, (list, str)) else None
                    for key in keys[1:]:  # botocore empties the other result keys of a resumed page
                        sample = page.get(key)
                        page[key] = [] if isinstance(sample, list) else "" if isinstance(sample, str) else \
                            sample if isinstance(sample, (int, float)) else None
                result.non_aggregate = {key: page.get(key) for key in config.get("non_aggregate_keys", ())}
                first = False
            items = page.get(primary) or []
            if max_items is not None and total + len(items) > max_items:
                keep = max_items - total
                page[primary] = items[:keep]
                result.pages.append(page)
                result.resume_token = encode_token({**next_token, "boto_truncate_amount": keep + starting_truncation})
                return result
            result.pages.append(page)
            total += len(items)
            next_token = {input_token: page.get(output_token) or None}
            if next_token[input_token] is not None and max_items is not None and total == max_items:
                result.resume_token = encode_token(next_token)
                return result
    except RepeatedTokenError as exc:
        raise PaginationError(str(exc)) from None
    return result


def _inject(kwargs: dict, token: dict) -> None:
    for name, value in token.items():
        if value is not None and value != "None":
            kwargs[name] = value
        else:
            kwargs.pop(name, None)
