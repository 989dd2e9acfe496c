"""What the window and the command line both do, written once and free of Qt.

- photo_files / photo_import: finding photos under files and folders, their ExternalImageIds, and
  importing them into a collection (analysed here and stored in batches, or sent with IndexFaces
  to a backend that analyses them itself), with per-file results, progress and cancel hooks.
- journal_report: the JSON report of the operations journal, built and written to a file the
  same way, byte for byte, from every surface.
- paging: following NextToken through ListCollections, ListFaces, ListUsers and the like.

These modules use the backend's public methods only (the operations, `store_analyzed`,
`analyzer_for_collection`, `journal_entries`): never the store or SQL. They import no Qt and none
of the adapters (app.gui, app.cli, app.server); tests/test_import_rules.py holds them to that.
"""
