import pytest

from app.core.engine import Engine
from tests.core.fakes import RegisteredAnalyzer


@pytest.fixture
def analyzer():
    return RegisteredAnalyzer()


@pytest.fixture
def engine(tmp_path, analyzer):
    with Engine(tmp_path / "ws", analyzer=analyzer) as eng:
        yield eng
