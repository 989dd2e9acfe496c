"""The service model as the command line sees it: botocore shape objects and command names.

Shapes are read through app.core.service_model (the engine's one source of truth) and wrapped
in botocore's own `Shape` classes, so the CLI can use botocore's parameter validator and walk
members, types, limits and documentation exactly as the aws CLI does.
"""

from __future__ import annotations

import functools
import html
import re

from botocore import xform_name
from botocore.model import ShapeResolver, StructureShape

from app.core import service_model


class _ShapeLookup:
    """The mapping ShapeResolver reads: shape name -> the model's shape dict."""

    def __getitem__(self, name: str) -> dict:
        return service_model.shape(name)  # KeyError for an unknown name, as ShapeResolver expects


@functools.lru_cache(maxsize=1)
def _resolver() -> ShapeResolver:
    return ShapeResolver(_ShapeLookup())


# aws CLI command name (kebab case, as botocore's xform_name makes it) -> operation name
COMMANDS: dict[str, str] = {xform_name(op, "-"): op for op in service_model.OPERATIONS}


def command_name(operation: str) -> str:
    return xform_name(operation, "-")


def cli_name(member: str) -> str:
    """The option for a member: CollectionId -> --collection-id."""
    return "--" + xform_name(member, "-")


def _named(operation: str, suffix: str, expected: dict | None) -> StructureShape | None:
    if expected is None:
        return None
    name = f"{operation}{suffix}"
    # Rekognition names its shapes <Operation>Request/Response; check it rather than assume it.
    if service_model.shape(name) is not expected:
        raise LookupError(f"the model's {suffix.lower()} shape of {operation} is not named {name}")
    return _resolver().get_shape_by_name(name)


@functools.cache
def input_shape(operation: str) -> StructureShape:
    return _named(operation, "Request", service_model.input_shape(operation))


@functools.cache
def output_shape(operation: str) -> StructureShape | None:
    return _named(operation, "Response", service_model.output_shape(operation))


@functools.lru_cache(maxsize=1)
def _paginators() -> dict:
    from botocore.loaders import create_loader

    return create_loader().load_service_model("rekognition", "paginators-1")["pagination"]


def paginator(operation: str) -> dict | None:
    """botocore's paginator config for the operation, or None when it does not paginate.

    Only plain top-level member names are used as tokens and result keys; a config that uses
    a JMESPath expression would be misread, so it is refused here.
    """
    config = _paginators().get(operation)
    if config is None:
        return None
    names = [config["input_token"], config["output_token"], config.get("limit_key", "")]
    names += _as_list(config.get("result_key")) + list(config.get("non_aggregate_keys", ()))
    if not all(isinstance(n, str) and n.isidentifier() for n in names if n):
        raise NotImplementedError(f"paginator config of {operation} uses expressions: {config}")
    return config


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def result_keys(config: dict) -> list[str]:
    return _as_list(config.get("result_key"))


def documentation_summary(text: str | None) -> str:
    """The first sentence of a model documentation string, without its HTML."""
    plain = html.unescape(re.sub(r"<[^>]+>", "", text or "")).strip()
    plain = re.sub(r"\s+", " ", plain)
    match = re.match(r"(.+?[.!?])(\s|$)", plain)
    return match.group(1) if match else plain
