"""`rekurator export-report`: the versioned JSON report of the workspace's operations journal.

    rekurator export-report [--output-file PATH] [--collection-id C] [--since-seq N]

The document is app.core.report's (ReportVersion 1.1, resources/report.schema.json): every
journaled operation after sequence number N (of collection C), with per-face outcomes and a
per-user summary. With --output-file it is written there as UTF-8 JSON (replacing the file in
one step, the same bytes as the window's File ▸ Export) and nothing is printed; otherwise it is printed
like any response (--output, --query).
"""

from __future__ import annotations

from pathlib import Path

from app.workflows.journal_report import journal_report, write_report

from .exit_codes import SUCCESS, ConfigurationError, UsageError
from .global_options import parse_command_args, raising_parser
from .render import render


def _parser():
    parser = raising_parser(prog="rekurator export-report",
                            description="Write the JSON report of the operations journal.")
    parser.add_argument("--output-file", metavar="<path>", help="Write the report to this file instead of stdout.")
    parser.add_argument("--collection-id", metavar="<value>", help="Only operations on this collection.")
    parser.add_argument("--since-seq", type=int, default=0, metavar="<n>",
                        help="Only operations after this journal sequence number (default 0: all).")
    parser.add_argument("-h", "--help", action="store_true", help="Show this help.")
    return parser


def run_export_report(session, argv: list[str]) -> int:
    args = parse_command_args(_parser(), argv, session.stdout)
    if args is None:
        return SUCCESS
    if args.since_seq < 0:
        raise UsageError("argument --since-seq: must be 0 or more")
    report = journal_report(session.engine(), since_seq=args.since_seq, collection_id=args.collection_id)
    session.debug.note(f"Report of {len(report['Operations'])} journal entries")
    if args.output_file is None:
        render("ExportReport", report, session.output, session.stdout)
        return SUCCESS
    path = Path(args.output_file).expanduser()
    try:
        write_report(report, path)
    except OSError as exc:
        raise ConfigurationError(f"Cannot write the report to {path}: {exc}") from None
    return SUCCESS

