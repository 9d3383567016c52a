"""The `coin-gateway` command line.

    coin-gateway doc validate FILE
    coin-gateway doc merge FILE [FILE ...]
    coin-gateway doc diff OLD NEW
    coin-gateway doc translate FILE --to xmpp|sip [--from xmpp|sip] [address options]
    coin-gateway uri to-xmpp URI                   [address options]
    coin-gateway uri to-sip URI                    [address options]
    coin-gateway check-config --config FILE

Address options: --component-domain, --sip-domain, --shared-domain (repeatable), or --config FILE.

FILE may be `-` for standard input. Documents go to standard output and nothing else does; messages go to
standard error as log lines. Exit codes: 0 success, 1 invalid input (a document that does not parse or
validate, an address that cannot be mapped, an unreadable file), 2 wrong usage, 3 a document sequence that
needs full state (a version gap, or a partial naming an unknown user), 4 no next version (`doc diff` of an OLD
at version 2^32-1, the last one: a recipient must start again from a full document at version 1), 141 standard
output was closed by its reader (`... | head`; as for a process ended by SIGPIPE, and without a message).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import structlog

from gateway.addresses import AddressError, AddressMap
from gateway.conference_info import ConferenceInfo, State
from gateway.config import Config, ConfigError, load_config
from gateway.diff import diff
from gateway.document_parser import parse
from gateway.document_writer import serialize
from gateway.errors import DocumentError, NeedsFullStateError, StaleDocumentError, VersionOverflowError
from gateway.logs import LogFormat, configure_logging
from gateway.merge import merge
from gateway.translate import Protocol, translate

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_NEEDS_FULL_STATE = 3
EXIT_VERSION_OVERFLOW = 4
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader went away
EXIT_CODES = """exit codes:
  0  success
  1  invalid input: a document that does not parse or validate, an address that cannot be mapped,
     a file that cannot be read
  2  wrong usage
  3  a sequence of documents that needs full state (a version gap, a partial naming an unknown user)
  4  no next version: doc diff of an OLD at version 4294967295 (2^32-1)
  141  standard output was closed by its reader (as with `| head`); nothing more is written"""

log = structlog.get_logger("coin-gateway")


class _Failure(Exception):
    """Ends a command with an exit code; the message has been logged."""

    def __init__(self, code: int) -> None:
        self.code = code


def _read(name: str) -> bytes:
    try:
        return sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as exc:
        log.error("cannot read file", file=name, error=exc.strerror or str(exc))
        raise _Failure(EXIT_INVALID) from None


def _load(name: str) -> ConferenceInfo:
    try:
        return parse(_read(name))
    except DocumentError as exc:
        log.error("invalid conference-info document", file=name, error=str(exc))
        raise _Failure(EXIT_INVALID) from None


def _write(document: ConferenceInfo) -> None:
    sys.stdout.buffer.write(serialize(document) + b"\n")
    sys.stdout.flush()


def _doc_validate(args: argparse.Namespace) -> int:
    document = _load(args.file)
    log.info(
        "valid conference-info document",
        file=args.file,
        state=str(document.state),
        version=document.version,
        users=len(document.user_map()),
    )
    return EXIT_OK


def _doc_merge(args: argparse.Namespace) -> int:
    state: ConferenceInfo | None = None
    for name in args.files:
        incoming = _load(name)
        try:
            state = merge(state, incoming)
        except StaleDocumentError as exc:
            log.warning("stale document skipped", file=name, error=str(exc))
        except NeedsFullStateError as exc:
            log.error("cannot apply document: full state needed", file=name, error=str(exc))
            return EXIT_NEEDS_FULL_STATE
    assert state is not None  # the first document was merged or raised
    _write(state)
    return EXIT_OK


def _doc_diff(args: argparse.Namespace) -> int:
    old, new = _load(args.old), _load(args.new)
    for name, document in ((args.old, old), (args.new, new)):
        if document.state is not State.FULL:
            log.error("diff takes two full documents", file=name, state=str(document.state))
            return EXIT_INVALID
    # As states: every `state` inside full (a full document may hold a user marked partial), no sid.
    old, new = merge(None, old), merge(None, new)
    try:
        change = diff(old, new)
    except VersionOverflowError as exc:
        log.error("cannot diff: no version after OLD's", file=args.old, error=str(exc))
        return EXIT_VERSION_OVERFLOW
    if change is not None:
        _write(change)
    return EXIT_OK


def _address_map(args: argparse.Namespace) -> AddressMap:
    if args.config is not None:
        return _config(args.config).address_map()
    try:
        return AddressMap(
            component_domain=args.component_domain,
            sip_domain=args.sip_domain,
            shared_domains=frozenset(args.shared_domain),
        )
    except AddressError as exc:
        log.error("invalid address configuration", error=str(exc))
        raise _Failure(EXIT_USAGE) from None


def _config(path: str) -> Config:
    try:
        return load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            log.error("invalid configuration", problem=problem)
        raise _Failure(EXIT_INVALID) from None


def _check_config(args: argparse.Namespace) -> int:
    config = _config(args.config)
    log.info("configuration is valid", file=args.config, rooms=len(config.rooms))
    return EXIT_OK


def _doc_translate(args: argparse.Namespace) -> int:
    addresses = _address_map(args)
    document = _load(args.file)
    try:
        source = Protocol(args.source) if args.source else None
        _write(translate(document, addresses, Protocol(args.to), source=source))
    except AddressError as exc:
        log.error("cannot translate document", file=args.file, error=str(exc))
        return EXIT_INVALID
    return EXIT_OK


def _uri(convert: Callable[[AddressMap, str], str]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        addresses = _address_map(args)
        try:
            print(convert(addresses, args.uri))
        except AddressError as exc:
            log.error("cannot map address", uri=args.uri, error=str(exc))
            return EXIT_INVALID
        return EXIT_OK

    return run


def _address_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("address mapping")
    group.add_argument(
        "--component-domain",
        default="sip.example.org",
        help="XMPP domain of the gateway's component (default: %(default)s)",
    )
    group.add_argument(
        "--sip-domain",
        default="gw.example.org",
        help="host part of the gateway's SIP URIs (default: %(default)s)",
    )
    group.add_argument("--config", metavar="FILE", help="take the address settings from a configuration file")
    group.add_argument(
        "--shared-domain",
        action="append",
        default=[],
        metavar="DOMAIN",
        help="a domain whose users are the same people on SIP and XMPP (repeatable)",
    )


DaemonRunner = Callable[[Config], int]


def _runner(run_daemon: DaemonRunner | None) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        config = _config(args.config)
        if run_daemon is None:
            log.error("this entry point has no daemon: use the coin-gateway command")
            return EXIT_USAGE
        configure_logging(config.logging.format if args.log_format == "auto" else args.log_format,
                          config.logging.level if args.log_level is None else args.log_level)  # fmt: skip
        return run_daemon(config)

    return run


def build_parser(run_daemon: DaemonRunner | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coin-gateway",
        description="SIP-XMPP conference gateway (RFC 4575 <-> XEP-0298 Coin).",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--log-format",
        choices=["auto", "console", "json"],
        default="auto",
        help="format of log lines on stderr",
    )
    parser.add_argument(
        "--log-level", choices=["debug", "info", "warning", "error"], default=None,
        help="default: info (for run: the configuration's logging.level)",
    )  # fmt: skip
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run", help="run the gateway daemon until SIGTERM (exit 1 listing every problem of the configuration)"
    )
    run.add_argument("--config", metavar="FILE", required=True)
    run.set_defaults(run=_runner(run_daemon))

    doc = commands.add_parser("doc", help="work with conference-info documents").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    validate = doc.add_parser("validate", help="check a document against RFC 4575 (exit 1 if invalid)")
    validate.add_argument("file", help="document file, or - for standard input")
    validate.set_defaults(run=_doc_validate)
    merge_cmd = doc.add_parser("merge", help="apply documents in order and print the resulting full state")
    merge_cmd.add_argument("files", nargs="+", metavar="FILE", help="the first must be a full document")
    merge_cmd.set_defaults(run=_doc_merge)
    diff_cmd = doc.add_parser(
        "diff",
        help="print the document (version OLD+1) that turns OLD into NEW",
        description="Print the document (version OLD+1) that turns OLD into NEW; nothing when they are equal."
        " Exit 4 when OLD's version is 4294967295 (2^32-1), which has no next version.",
    )
    diff_cmd.add_argument("old", metavar="OLD")
    diff_cmd.add_argument("new", metavar="NEW")
    diff_cmd.set_defaults(run=_doc_diff)
    translate_cmd = doc.add_parser("translate", help="map every address of a document to one protocol")
    translate_cmd.add_argument("file", metavar="FILE")
    translate_cmd.add_argument("--to", choices=[p.value for p in Protocol], required=True)
    translate_cmd.add_argument(
        "--from",
        dest="source",
        choices=[p.value for p in Protocol],
        help="protocol of URIs written without a scheme (default: the other one than --to)",
    )
    _address_options(translate_cmd)
    translate_cmd.set_defaults(run=_doc_translate)

    check = commands.add_parser(
        "check-config", help="validate a configuration file (exit 1 listing every problem)"
    )
    check.add_argument("--config", metavar="FILE", required=True)
    check.set_defaults(run=_check_config)

    uri = commands.add_parser("uri", help="map one address between sip: and xmpp:").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    to_xmpp = uri.add_parser("to-xmpp", help="print the xmpp: form of a SIP (or XMPP) address")
    to_xmpp.add_argument("uri", metavar="URI")
    _address_options(to_xmpp)
    to_xmpp.set_defaults(run=_uri(AddressMap.to_xmpp))
    to_sip = uri.add_parser("to-sip", help="print the sip: form of an XMPP (or SIP) address")
    to_sip.add_argument("uri", metavar="URI")
    _address_options(to_sip)
    to_sip.set_defaults(run=_uri(AddressMap.to_sip))
    return parser


def main(argv: Sequence[str] | None = None, *, run_daemon: DaemonRunner | None = None) -> int:
    """The command line; `run_daemon` runs `coin-gateway run` (the daemon lives outside the core)."""
    args = build_parser(run_daemon).parse_args(argv)
    log_format: LogFormat = args.log_format
    configure_logging(log_format, args.log_level or "info")
    names = [name for name in (getattr(args, "file", None), getattr(args, "old", None), getattr(args, "new", None))
             if name is not None] + list(getattr(args, "files", []))  # fmt: skip
    if names.count("-") > 1:
        log.error("standard input (-) can be read only once")
        return EXIT_USAGE
    try:
        code: int = args.run(args)
        sys.stdout.flush()  # here, not at exit, so that a closed pipe is seen here
    except _Failure as failure:
        return failure.code
    except BrokenPipeError:
        # The reader went away (`coin-gateway ... | head`): stop quietly. Standard output now points at
        # /dev/null so that the interpreter's own flush at exit does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE
    return code


if __name__ == "__main__":
    sys.exit(main())
