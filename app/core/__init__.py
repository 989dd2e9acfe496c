"""Qt-free engine: validation, errors, operations, SQLite store, vector search, reports."""
