"""The `coin-gateway` command line, run as an operator runs it: a separate process, real files and pipes."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from gateway.conference_info import State
from gateway.document_parser import parse

EXAMPLES = Path(str(resources.files("gateway").joinpath("examples")))
BASIC = str(EXAMPLES / "rfc4575-basic.xml")
JOIN = str(EXAMPLES / "rfc4575-partial-join.xml")
LEAVE = str(EXAMPLES / "rfc4575-partial-leave.xml")


def cli(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "--log-format", "json", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


def log_lines(stderr: bytes) -> list[dict[str, object]]:
    return [json.loads(line) for line in stderr.decode().splitlines() if line.strip()]


def test_validate_accepts_a_valid_document() -> None:
    result = cli("doc", "validate", BASIC)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""
    [line] = log_lines(result.stderr)
    assert line["event"] == "valid conference-info document" and line["users"] == 2


def test_validate_rejects_an_invalid_document_with_exit_1_and_the_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text(
        '<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="x" version="-1"/>'
    )
    result = cli("doc", "validate", str(bad))
    assert result.returncode == 1
    [line] = log_lines(result.stderr)
    assert line["level"] == "error" and "version" in str(line["error"]) and line["file"] == str(bad)


def test_validate_reads_standard_input() -> None:
    result = cli("doc", "validate", "-", stdin=Path(BASIC).read_bytes())
    assert result.returncode == 0, result.stderr


def test_unreadable_file_is_exit_1(tmp_path: Path) -> None:
    result = cli("doc", "validate", str(tmp_path / "missing.xml"))
    assert result.returncode == 1
    assert "cannot read file" in result.stderr.decode()


def test_merge_prints_the_resulting_full_document() -> None:
    result = cli("doc", "merge", BASIC, JOIN, LEAVE)
    assert result.returncode == 0, result.stderr
    merged = parse(result.stdout)
    assert merged.state is State.FULL and merged.version == 3
    assert list(merged.user_map()) == ["sip:bob@example.com", "sip:carol@example.com"]


def test_merge_skips_stale_documents_and_says_so() -> None:
    result = cli("doc", "merge", BASIC, JOIN, JOIN)
    assert result.returncode == 0, result.stderr
    assert parse(result.stdout).version == 2
    [line] = log_lines(result.stderr)
    assert line["event"] == "stale document skipped" and line["level"] == "warning"


def test_merge_version_gap_is_exit_3_naming_both_versions() -> None:
    result = cli("doc", "merge", BASIC, LEAVE)
    assert result.returncode == 3
    assert result.stdout == b""
    error = str(log_lines(result.stderr)[0]["error"])
    assert "local version 1" in error and "incoming version 3" in error


def test_merge_starting_with_a_partial_is_exit_3() -> None:
    assert cli("doc", "merge", JOIN).returncode == 3


def test_merge_of_an_invalid_document_is_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b"<nope/>")
    assert cli("doc", "merge", BASIC, str(bad)).returncode == 1


def test_merge_output_pipes_into_diff(tmp_path: Path) -> None:
    joined = tmp_path / "joined.xml"
    joined.write_bytes(cli("doc", "merge", BASIC, JOIN).stdout)
    result = cli("doc", "diff", BASIC, str(joined))
    assert result.returncode == 0, result.stderr
    change = parse(result.stdout)
    assert change.state is State.PARTIAL and change.version == 2
    assert set(change.user_map()) == {"sip:bob@example.com", "sip:carol@example.com"}
    # and the diff applied to the old document gives the new one back
    (tmp_path / "diff.xml").write_bytes(result.stdout)
    again = cli("doc", "merge", BASIC, str(tmp_path / "diff.xml"))
    assert parse(again.stdout) == parse(joined.read_bytes())


def test_diff_of_a_full_document_holding_partial_users_merges_back(tmp_path: Path) -> None:
    """A full document may mark a user partial (the schema allows it): as a state, that user is full."""
    new = tmp_path / "new.xml"
    new.write_bytes(
        Path(BASIC)
        .read_bytes()
        .replace(b"<users>", b'<users><user entity="sip:dave@example.com" state="partial"/>', 1)
    )
    result = cli("doc", "diff", BASIC, str(new))
    assert result.returncode == 0, result.stderr
    (tmp_path / "diff.xml").write_bytes(result.stdout)
    merged = cli("doc", "merge", BASIC, str(tmp_path / "diff.xml"))
    assert merged.returncode == 0, merged.stderr
    as_merged = parse(cli("doc", "merge", str(new)).stdout)
    assert parse(merged.stdout) == as_merged.model_copy(update={"version": 2})


def test_diff_of_equal_documents_prints_nothing() -> None:
    result = cli("doc", "diff", BASIC, BASIC)
    assert result.returncode == 0 and result.stdout == b""


def test_diff_refuses_partial_documents() -> None:
    assert cli("doc", "diff", BASIC, JOIN).returncode == 1


def test_standard_input_only_once() -> None:
    assert cli("doc", "diff", "-", "-").returncode == 2


def test_usage_errors_are_exit_2() -> None:
    assert cli("doc").returncode == 2
    assert cli("doc", "frobnicate", BASIC).returncode == 2


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("uri", "to-xmpp", "sip:alice@example.net"), "xmpp:alice\\40example.net@sip.example.org"),
        (("uri", "to-sip", "xmpp:romeo@montague.lit"), "sip:romeo%40montague.lit@gw.example.org"),
        (
            ("uri", "to-sip", "xmpp:juliet@example.com/balcony", "--shared-domain", "example.com"),
            "sip:juliet@example.com;gr=balcony",
        ),
        (
            (
                "uri",
                "to-xmpp",
                "sip:bob@example.org",
                "--component-domain",
                "gw.example.com",
                "--sip-domain",
                "sip.example.com",
            ),
            "xmpp:bob\\40example.org@gw.example.com",
        ),
    ],
)
def test_uri_mapping(args: tuple[str, ...], expected: str) -> None:
    result = cli(*args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == expected + "\n"


def test_uri_that_cannot_be_mapped_is_exit_1_with_a_message() -> None:
    result = cli("uri", "to-xmpp", "sip:ab\\@example.net\x01")
    assert result.returncode == 1
    assert result.stdout == b""
    assert log_lines(result.stderr)[0]["event"] == "cannot map address"


def test_translate_to_xmpp_and_back(tmp_path: Path) -> None:
    to_xmpp = cli("doc", "translate", BASIC, "--to", "xmpp")
    assert to_xmpp.returncode == 0, to_xmpp.stderr
    xmpp_doc = parse(to_xmpp.stdout)
    assert xmpp_doc.entity == "xmpp:conf233\\40example.com@sip.example.org"
    assert "xmpp:bob\\40example.com@sip.example.org" in xmpp_doc.user_map()
    (tmp_path / "x.xml").write_bytes(to_xmpp.stdout)
    back = cli("doc", "translate", str(tmp_path / "x.xml"), "--to", "sip")
    assert back.returncode == 0, back.stderr
    assert parse(back.stdout) == parse(Path(BASIC).read_bytes())


def _max_version_document(tmp_path: Path, name: str, entity: str, user: str) -> str:
    path = tmp_path / name
    path.write_text(
        f'<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="{entity}" state="full"'
        f' version="4294967295"><users><user entity="{user}"/></users></conference-info>'
    )
    return str(path)


@pytest.mark.parametrize("other_entity", ["sip:c@x.org", "sip:d@x.org"])  # a partial, a full document
def test_diff_past_the_last_version_is_exit_4_with_a_message(tmp_path: Path, other_entity: str) -> None:
    old = _max_version_document(tmp_path, "old.xml", "sip:c@x.org", "sip:a@x.org")
    new = _max_version_document(tmp_path, "new.xml", other_entity, "sip:b@x.org")
    result = cli("doc", "diff", old, new)
    assert result.returncode == 4, result.stderr
    assert result.stdout == b"" and b"Traceback" not in result.stderr
    [line] = log_lines(result.stderr)
    assert line["level"] == "error" and line["file"] == old and "4294967295" in str(line["error"])


@pytest.mark.parametrize(
    "args",
    [
        ("uri", "to-xmpp", "sip:a@x.org"),
        ("doc", "merge", BASIC, JOIN),
        ("doc", "translate", BASIC, "--to", "xmpp"),
    ],
)
def test_a_closed_standard_output_ends_quietly_with_exit_141(args: tuple[str, ...]) -> None:
    # `coin-gateway ... | true`: the reader is gone before anything is written.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "gateway.cli", "--log-format", "json", *args],
            stdin=subprocess.DEVNULL,
            stdout=write_end,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert result.returncode == 141, result.stderr
    assert b"Traceback" not in result.stderr and b"Exception ignored" not in result.stderr
    assert b"141" in cli("--help").stdout  # documented


def test_merge_of_a_partial_naming_an_unknown_user_is_exit_3_naming_both_versions(tmp_path: Path) -> None:
    unknown = tmp_path / "unknown.xml"
    unknown.write_text(
        '<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="sips:conf233@example.com"'
        ' state="partial" version="2"><users state="partial">'
        '<user entity="sip:nobody@example.com" state="partial"><display-text>?</display-text></user>'
        "</users></conference-info>"
    )
    result = cli("doc", "merge", BASIC, str(unknown))
    assert result.returncode == 3, result.stderr
    assert result.stdout == b""
    [line] = log_lines(result.stderr)
    error = str(line["error"])
    assert "sip:nobody@example.com" in error
    assert "local version 1" in error and "incoming version 2" in error


CONFIG = """
[xmpp]
component = "conf.example.org"
secret = "s"
[sip]
domain = "sip.example.com"
[addresses]
shared_domains = ["example.com"]
"""


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("uri", "to-xmpp", "sip:alice@example.net"), "xmpp:alice\\40example.net@conf.example.org"),
        (("uri", "to-sip", "xmpp:romeo@montague.lit"), "sip:romeo%40montague.lit@sip.example.com"),
        (("uri", "to-sip", "xmpp:juliet@example.com/balcony"), "sip:juliet@example.com;gr=balcony"),
    ],
)
def test_uri_takes_its_address_settings_from_config(
    tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(CONFIG)
    result = cli(*args, "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == expected + "\n"


def test_translate_takes_its_address_settings_from_config(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(CONFIG)
    result = cli("doc", "translate", BASIC, "--to", "xmpp", "--config", str(config))
    assert result.returncode == 0, result.stderr
    doc = parse(result.stdout)
    assert doc.entity == "xmpp:conf233@example.com"  # sips: on a shared domain
    (tmp_path / "x.xml").write_bytes(result.stdout)
    back = cli("doc", "translate", str(tmp_path / "x.xml"), "--to", "sip", "--config", str(config))
    assert back.returncode == 0, back.stderr
    assert parse(back.stdout) == parse(Path(BASIC).read_bytes())


def test_an_invalid_config_is_exit_1_listing_the_problems(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text("[xmpp]\n")
    result = cli("uri", "to-xmpp", "sip:alice@example.net", "--config", str(config))
    assert result.returncode == 1 and result.stdout == b""
    assert all(line["event"] == "invalid configuration" for line in log_lines(result.stderr))


def test_translate_of_an_unmappable_address_is_exit_1_with_a_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text(
        '<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="sip:conf@h.example">'
        '<users><user entity="sip:a:pw@h.example"/></users></conference-info>'
    )
    result = cli("doc", "translate", str(bad), "--to", "xmpp")
    assert result.returncode == 1 and result.stdout == b""
    [line] = log_lines(result.stderr)
    assert line["event"] == "cannot translate document" and line["file"] == str(bad)
    assert "sip:a:pw@h.example" in str(line["error"])


def test_logs_are_json_when_piped_and_console_lines_on_a_terminal() -> None:
    """`--log-format auto` (the default): one JSON object per line into a pipe, readable lines on a TTY."""
    command = [sys.executable, "-m", "gateway.cli", "doc", "validate", BASIC]
    piped = subprocess.run(command, capture_output=True, timeout=60, check=False)
    assert json.loads(piped.stderr)["event"] == "valid conference-info document"
    controller, terminal = pty.openpty()
    try:
        result = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=terminal, timeout=60, check=False)
        os.close(terminal)
        terminal = -1
        output = b""
        while chunk := _read_pty(controller):
            output += chunk
    finally:
        os.close(controller)
        if terminal != -1:
            os.close(terminal)
    assert result.returncode == 0
    line = output.decode().strip()
    assert "valid conference-info document" in line and "[info" in line and not line.startswith("{")


def _read_pty(fd: int) -> bytes:
    try:
        return os.read(fd, 4096)
    except OSError:  # EIO: the terminal side is closed and everything has been read
        return b""
