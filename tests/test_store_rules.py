"""Only app/core touches the store: every other package goes through the backend's methods.

Checked on the source of every module outside app/core: no `.store` attribute (the engine's
SQLite store), no `.execute`/`.executemany`/`.executescript` call, no import of sqlite3 or of
the core modules that work on a connection (app.core.store, app.core.records), and no SQL
statement in a string.
"""

import ast
import re
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app"

SQL_CALLS = {"execute", "executemany", "executescript"}
STORE_MODULES = ("sqlite3", "app.core.store", "app.core.records")
# statements as this code base writes them (keywords in capitals), so UI text such as "Select a face
# from the grid" is not taken for SQL
SQL_TEXT = re.compile(r"\b(SELECT\s.*?\sFROM\s|INSERT\s+(OR\s+[A-Z]+\s+)?INTO\s|DELETE\s+FROM\s|UPDATE\s+\w+\s+SET\s|"
                      r"CREATE\s+(TABLE|INDEX)\s|PRAGMA\s+\w+)")


def store_uses(source: str, package: str):
    """(line, what) for each use of the store or of SQL in `source`, a module of `package`."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr == "store":
            yield node.lineno, ".store"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SQL_CALLS:
            yield node.lineno, f".{node.func.attr}()"
        elif isinstance(node, ast.Import):
            yield from ((node.lineno, f"import {a.name}") for a in node.names if a.name.startswith(STORE_MODULES))
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                module = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([module] if module else []))
            names = [module] + [f"{module}.{a.name}" for a in node.names]
            if any(n == m or n.startswith(m + ".") for n in names for m in STORE_MODULES):
                yield node.lineno, f"from {module} import ..."
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL_TEXT.search(node.value):
            yield node.lineno, f"SQL text {node.value[:40]!r}"


def test_no_module_outside_core_touches_the_store_or_sql():
    files = [p for p in sorted(APP.rglob("*.py")) if "core" not in p.relative_to(APP).parts[:1]]
    assert len(files) > 50
    bad = [f"{path.relative_to(APP.parent)}:{line}: {what}"
           for path in files
           for line, what in store_uses(path.read_text(), ".".join(path.relative_to(APP.parent).parts[:-1]))]
    assert not bad, "\n".join(bad)


def test_the_checker_sees_each_form():
    source = '''
import sqlite3
from app.core import records
from ..core.store import Store
from app.core.records import get_user
def f(engine, conn):
    with engine.store.read() as c:
        c.execute("SELECT COUNT(*) FROM faces WHERE user_pk = ?", (1,))
    conn.executemany(q, rows)
    return "INSERT INTO faces VALUES (1)"
'''
    found = sorted(store_uses(source, "app.capture"))
    assert found == [(2, "import sqlite3"), (3, "from app.core import ..."), (4, "from app.core.store import ..."),
                     (5, "from app.core.records import ..."), (7, ".store"), (8, ".execute()"),
                     (8, "SQL text 'SELECT COUNT(*) FROM faces WHERE user_pk'"), (9, ".executemany()"),
                     (10, "SQL text 'INSERT INTO faces VALUES (1)'")]
    assert not list(store_uses("x = engine.describe_user('c', 'u')\ntext = 'Select a face from the grid'\n", "app.gui"))
