"""Both backends implement the whole contract of app.core.backend.Backend, with the same parameters."""

import inspect

import pytest

from app.core.backend import Backend
from app.core.engine import Engine
from app.core.extension_model import EXTENSIONS
from app.core.service_model import OPERATIONS, method_name
from app.remote.curation_backend import RemoteCurationBackend

MEMBERS = sorted(name for name in dir(Backend) if not name.startswith("_"))


def test_the_contract_lists_every_operation():
    for operation in OPERATIONS + EXTENSIONS:
        assert method_name(operation) in MEMBERS
    assert {"face_thumbnails", "plan_association", "apply_change_set", "journal_entries"} <= set(MEMBERS)
    assert {"workspace", "capabilities"} <= set(Backend.__annotations__)


def test_both_backends_are_backends_with_nothing_left_abstract():
    assert issubclass(Engine, Backend) and issubclass(RemoteCurationBackend, Backend)
    assert not Engine.__abstractmethods__ and not RemoteCurationBackend.__abstractmethods__


@pytest.mark.parametrize("cls", [Engine, RemoteCurationBackend])
@pytest.mark.parametrize("name", MEMBERS)
def test_backend_provides_member(cls, name):
    assert hasattr(cls, name), f"{cls.__name__} lacks {name}"
    wanted, got = getattr(Backend, name), getattr(cls, name)
    params = lambda f: [p.name for p in inspect.signature(f).parameters.values()]  # noqa: E731
    assert params(got) == params(wanted), f"{cls.__name__}.{name} takes {params(got)}, the contract {params(wanted)}"
