"""Messages and text output from hostile text: one printable line per error, naming the file;
printable text output and strict JSON for files that load.

Hostile text is what a file can put in front of a user: newlines, ANSI escapes (clear
screen, set the window title), NUL, U+2028, bidi overrides, lone surrogates (which make a
UTF-8 stream raise), and 1 MiB strings. The CLI cases run through the resource harness
(tests/hostile.py) in a child process, as a user would meet them.
"""

from __future__ import annotations

import json
import os
import pickle as P
import shutil
import struct
import sys
import warnings
import zipfile
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import compat
from compat.checkpoint import read_checkpoint
from compat.errors import (ConfigError, CorruptFileError, LegacyError, UnsafeFileError, WeightsMismatchError,
                           describe_value, names_file, quote)
from compat.text import MESSAGE_LIMIT, clip, one_line, printable
from golden import FIXTURES
from hostile import MAX_MESSAGE, Result, assert_refused, run_cli
from tools import cli
from tools.output import LINE_LIMIT, TEXT_VALUE_LIMIT, internal_error_line, json_text, message_line

# newline, ANSI clear screen, NUL, line separator, right-to-left override, OSC set-title + BEL
HOSTILE = "\n\x1b[2J\x00\u2028\u202e\x1b]0;pwned\x07"
SURROGATE = "\ud800"
MIB = "x" * (1 << 20)

LSTM_CKPT = FIXTURES / "0.5.1" / "catlstm" / "model.ckpt"
LSTM_CONFIG = FIXTURES / "0.5.1" / "catlstm" / "model.json"
LSTM_NAM = FIXTURES / "0.7.4" / "catlstm" / "export" / "model.nam"
LSTM_HEADER = FIXTURES / "0.7.4" / "catlstm" / "export" / "model.h"
LSTM_DIR = FIXTURES / "0.4.0" / "catlstm" / "export"

# Any text at all: every category (surrogates and controls included), and long runs of it.
any_char = st.characters(exclude_categories=())
any_text = st.one_of(
    st.text(any_char, max_size=400),
    st.builds(lambda t, n: t * n, st.text(any_char, min_size=1, max_size=8), st.integers(1, 300_000)),
    st.lists(st.sampled_from([HOSTILE, SURROGATE, "amp.nam", "\\", "…", "é", "\t", " ", "x" * 100]),
             max_size=40).map("".join),
)


def assert_one_printable_line(text: str, limit: int) -> None:
    assert "\n" not in text and text.isprintable(), repr(text[:400])
    assert len(text) <= limit, (len(text), text[:400])


# -- the rules ------------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(any_text)
def test_one_line_is_printable_bounded_and_keeps_start_and_end(text):
    line = one_line(text)
    assert_one_printable_line(line, MESSAGE_LIMIT)
    if text.isprintable() and len(text) <= MESSAGE_LIMIT:
        assert line == text  # nothing to do: untouched
    elif len(printable(text[:MESSAGE_LIMIT + 1])) <= MESSAGE_LIMIT:
        assert line == printable(text)  # escaped, short enough
    else:
        # Clipped around one ellipsis: the start and the end of the escaped text survive.
        assert printable(text[:MESSAGE_LIMIT]).startswith(line[:200])
        assert printable(text[-MESSAGE_LIMIT:]).endswith(line[-50:])
        assert "…" in line


@settings(max_examples=200, deadline=None)
# "." and ".." are not file names: Path("/somewhere") / "." is "/somewhere" itself
@given(any_text, st.text(any_char, min_size=1, max_size=300).filter(lambda n: n.strip("/\\") and n not in (".", "..")))
def test_every_legacy_error_is_one_line_naming_its_file(message, name):
    error = CorruptFileError(message).name_file(Path("/somewhere") / name.replace("/", "_").replace("\\", "_"))
    text = str(error)
    assert_one_printable_line(text, MESSAGE_LIMIT)
    assert error.args == (text,)
    shown_name = clip(name.replace("/", "_").replace("\\", "_"), 80)
    if error.file is not None:  # prefixed: the (clipped, escaped) name comes first
        assert text.startswith(shown_name + ": ")
    line = message_line("nam-legacy", "error", error)
    assert_one_printable_line(line, LINE_LIMIT)


def test_escapes_are_visible_and_python_spelled():
    assert one_line("a\nb\rc\td\x00e\x1b[2Jf\x7fg\x85h\u2028i\u2029j\u202ek\u2066l" + SURROGATE + "m\U000e0001") == (
        "a\\nb\\rc\\td\\x00e\\x1b[2Jf\\x7fg\\x85h\\u2028i\\u2029j\\u202ek\\u2066l\\ud800m\\U000e0001")
    assert one_line("C:\\Users\\amp.nam") == "C:\\Users\\amp.nam"  # backslashes stay as they are in messages
    assert quote("it's a\\b\n") == "'it\\'s a\\\\b\\n'"  # ...and are escaped inside a quoted literal


def test_huge_messages_cost_what_short_ones_do():
    # Only the first and last few hundred characters are ever looked at: 64 MiB of NUL is
    # as quick as a short string (a per-character pass over it would take minutes).
    text = "amp.nam: " + "\x00" * (64 << 20) + " the end"
    line = str(UnsafeFileError(text))
    assert line.startswith("amp.nam: \\x00\\x00") and line.endswith("\\x00 the end") and len(line) <= MESSAGE_LIMIT


def test_quote_is_short_and_safe_for_any_value():
    assert quote("drive") == "'drive'"
    assert len(quote(MIB + HOSTILE)) <= 40 and quote(MIB + HOSTILE).isprintable()
    assert quote(10 ** 5000) == "<an integer of 16610 bits>"  # str() would raise: beyond the digit limit
    assert quote(float("nan")) == "nan" and quote(None) == "None" and quote(True) == "True"
    assert quote(b"\x00\xff" * 100).startswith("b'\\x00\\xff") and len(quote(b"\x00" * 100)) <= 40


def test_describe_value_never_looks_inside():
    dag = ()
    for _ in range(200):  # 2**200 leaves through shared references: repr or hash would never finish
        dag = (dag, dag)
    assert describe_value(dag) == "a tuple of 2 items"
    assert quote(dag) == "a tuple of 2 items"
    assert describe_value({"a": 1}) == "a dict of 1 item"
    assert describe_value(torch.zeros(2, 3)) == "a Tensor of shape (2, 3)"
    assert describe_value(HOSTILE) == f"a str of {len(HOSTILE)} characters"

    class Evil:
        def __repr__(self):
            raise AssertionError("repr called")

        __str__ = __repr__

    assert describe_value(Evil()) == "an Evil"
    assert str(ConfigError(Evil())) == "an Evil"  # a non-string message is described, not converted


def test_internal_errors_are_one_line_whatever_they_hold():
    dag = ()
    for _ in range(200):
        dag = (dag, dag)
    for error in (KeyError(dag), RuntimeError(HOSTILE * 100_000 + SURROGATE), ValueError(10 ** 5000),
                  OSError(2, "No such file" + HOSTILE)):
        assert_one_printable_line(internal_error_line("nam-legacy", error), LINE_LIMIT)
    assert internal_error_line("nam-legacy", KeyError("k")).endswith("KeyError: 'k'")


def test_json_text_is_strict_json_and_ascii():
    doc = {"nan": float("nan"), "inf": [float("inf"), -float("inf")], "name": HOSTILE + SURROGATE, "n": 1.5}
    text = json_text(doc)
    assert text.isascii() and text.isprintable()
    back = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    assert back == {"nan": None, "inf": [None, None], "name": HOSTILE + SURROGATE, "n": 1.5}


# -- every entry point names the file ------------------------------------------------------------------------

ODD_NAME = "my 'amp' (v2) é"  # spaces, quotes, parentheses, non-ASCII: printable, named as is


def _broken(tmp: Path, suffix: str, content: bytes) -> Path:
    path = tmp / f"{ODD_NAME}{suffix}"
    path.write_bytes(content)
    return path


@pytest.mark.parametrize("suffix, content, kwargs", [
    (".nam", b'{"version": "0.5.2", "architecture": "CatLSTM", "config": {"input_size": 2}, "weights": [1, 2]}', {}),
    (".nam", b'{"version": "0.5.2", "architecture": "CatLSTM", "weights": [' + b"1," * 10 + b"x]}", {}),
    (".h", LSTM_HEADER.read_bytes().replace(b"HIDDEN_SIZE = 8", b"HIDDEN_SIZE = -8"), {}),
    (".ckpt", b"PK\x03\x04" + b"\x00" * 200, {"config": str(LSTM_CONFIG)}),
])
def test_reader_errors_name_the_file(tmp_path, suffix, content, kwargs):
    path = _broken(tmp_path, suffix, content)
    with pytest.raises(LegacyError) as info:
        compat.load(path, **kwargs)
    assert path.name in str(info.value), str(info.value)
    assert str(info.value).count(path.name) == 1  # never prefixed twice


def test_export_folder_errors_name_the_folder(tmp_path):
    folder = tmp_path / ODD_NAME
    shutil.copytree(LSTM_DIR, folder)
    (folder / "weights.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(LegacyError) as info:
        compat.load(folder)
    assert str(info.value).startswith(f"{ODD_NAME}: ") and str(info.value).count(ODD_NAME) == 1


@pytest.fixture(scope="module")
def genuine_checkpoint() -> dict:
    return read_checkpoint(LSTM_CKPT)


def _checkpoint(path: Path, checkpoint: dict, **changes) -> Path:
    torch.save({**checkpoint, **changes}, path)
    return path


def test_weights_mismatch_and_missing_net_name_the_checkpoint(tmp_path, genuine_checkpoint):
    other = FIXTURES / "0.5.1" / "catwavenet" / "model.json"
    path = tmp_path / f"{ODD_NAME}.ckpt"
    shutil.copy(LSTM_CKPT, path)
    for load in (compat.load, compat.open_checkpoint, compat.load_checkpoint):
        kwargs = {"config": other} if load is compat.load else {}
        with pytest.raises(WeightsMismatchError) as info:
            load(path, **kwargs) if kwargs else load(path, other)
        assert str(info.value).startswith(f"{path.name}: ")

    no_net = _checkpoint(tmp_path / "no net.ckpt", {"state_dict": {"x": torch.zeros(2)}})
    with pytest.raises(CorruptFileError, match="_net") as info:
        compat.load_checkpoint(no_net, LSTM_CONFIG)
    assert str(info.value).startswith("no net.ckpt: ")


def test_config_errors_name_the_config_not_the_model(tmp_path):
    bad = tmp_path / "bad config.json"
    bad.write_text(json.dumps({"net": {"name": "CatLSTM", "config": {"hidden_size": "x"}}}))
    with pytest.raises(ConfigError) as info:
        compat.load(LSTM_CKPT, config=bad)
    assert str(info.value).startswith("bad config.json: ") and "model.ckpt" not in str(info.value)
    with pytest.raises(ConfigError) as info:
        compat.load(LSTM_NAM, param_config=bad)
    assert str(info.value).startswith("bad config.json: ") and "model.nam" not in str(info.value)


def test_a_bad_param_config_is_its_own_files_error_and_the_cli_names_its_option(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{bad")
    with pytest.raises(CorruptFileError) as info:
        compat.load(LSTM_NAM, param_config=bad)
    assert str(info.value).startswith("bad.json is not valid JSON") and "model.nam" not in str(info.value)
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"drive": {"type": "continuous", "default_value": 0.5, "minval": 0, "maxval": 1}}))
    with pytest.raises(ConfigError) as info:
        compat.load(LSTM_NAM, param_config=one)
    assert str(info.value) == "one.json names 1 knob but the CatLSTM takes 3"
    for path, line in ((bad, "--param-config bad.json is not valid JSON: "),
                       (one, "--param-config one.json names 1 knob but the CatLSTM takes 3\n")):
        assert cli.main(["inspect", str(LSTM_NAM), "--param-config", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"nam-legacy: error: {line}") and err.count("\n") == 1, err
    assert cli.main(["inspect", str(LSTM_CKPT), "--config", str(bad)]) == 2
    assert capsys.readouterr().err.startswith("nam-legacy: error: --config bad.json is not valid JSON: ")


def test_names_file_leaves_a_named_message_alone():
    @names_file
    def reader(path):
        raise CorruptFileError(f"cannot read {path}: gone")

    with pytest.raises(CorruptFileError) as info:
        reader("/x/amp.nam")
    assert str(info.value) == "cannot read /x/amp.nam: gone"

    @names_file
    def short_name(path):
        raise CorruptFileError("a bad byte")

    with pytest.raises(CorruptFileError) as info:  # "a" is in the text, but not as a name
        short_name("/x/a")
    assert str(info.value) == "a: a bad byte"


# -- hostile files through the CLI (child processes under the harness's caps) -----------------------------------


def _nam_document(**changes) -> dict:
    doc = json.loads(LSTM_NAM.read_text())
    doc.update(changes)
    # The weights before the bulky parts, so sniffing sees a .nam in its first 64 KB.
    order = ["version", "architecture", "weights", "sample_rate", "config", "metadata"]
    return {k: doc[k] for k in order if k in doc}


def _hostile_nam(tmp: Path) -> tuple[Path, list]:
    doc = _nam_document()
    specs = doc["config"]["parametric"]
    names = ["tone" + HOSTILE + SURROGATE, "drive\x1b[31m", "bright" + MIB]
    doc["config"]["parametric"] = dict(zip(names, (specs["tone"], specs["drive"], specs["bright"])))
    doc["metadata"].update({"key" + HOSTILE: "value" + HOSTILE + SURROGATE + MIB, "nan": float("nan"),
                            "inf": float("inf"), "list": [float("-inf"), HOSTILE]})
    path = tmp / "hostile.nam"
    path.write_text(json.dumps(doc))  # json.dumps writes NaN/Infinity, as Python's exporters did
    return path, names


def _printable_stdout(result: Result) -> list:
    assert result.returncode == 0, result.describe()
    lines = result.stdout.splitlines()
    for line in lines:
        assert line.isprintable(), repr(line[:300])
        assert len(line) <= 2 * TEXT_VALUE_LIMIT + 100, len(line)
    return lines


def _strict_json(result: Result):
    assert result.returncode == 0, result.describe()
    assert result.stdout.isascii()
    return json.loads(result.stdout, parse_constant=lambda c: pytest.fail(f"{c} printed: not JSON"))


def test_inspect_of_a_nam_with_hostile_knobs_and_metadata(tmp_path):
    path, names = _hostile_nam(tmp_path)
    text = run_cli(["inspect", str(path)])
    lines = _printable_stdout(text)
    assert text.stderr == ""
    knob_lines = [line for line in lines if line.startswith("  ")]
    assert len(knob_lines) == 3  # a newline inside a name never starts a line of its own
    assert any(line.startswith("  tone\\n\\x1b[2J\\x00\\u2028\\u202e\\x1b]0;pwned\\x07\\ud800 ") for line in knob_lines)
    assert any(line.startswith('metadata key\\n\\x1b[2J') for line in lines)

    facts = _strict_json(run_cli(["inspect", str(path), "--json"]))
    assert [k["name"] for k in facts["knobs"]] == sorted(names)  # JSON keeps the data exactly
    assert facts["metadata"]["nan"] is None and facts["metadata"]["inf"] is None  # non-finite: null
    assert facts["metadata"]["list"] == [None, HOSTILE]
    assert facts["metadata"]["key" + HOSTILE] == "value" + HOSTILE + SURROGATE + MIB


def test_inspect_of_loadable_hostile_checkpoint_and_folder(tmp_path, genuine_checkpoint):
    state = dict(genuine_checkpoint["state_dict"], **{"other" + HOSTILE + MIB: torch.zeros(1)})
    ckpt = _checkpoint(tmp_path / "odd.ckpt", genuine_checkpoint, state_dict=state,
                       **{"pytorch-lightning_version": "1.9" + HOSTILE})
    folder = tmp_path / "export"
    shutil.copytree(LSTM_DIR, folder)
    config = json.loads((folder / "config.json").read_text())
    config.update({"version": "0.4.0" + HOSTILE, "extra" + HOSTILE: 1})
    (folder / "config.json").write_text(json.dumps(config))
    for argv, check in ((["inspect", str(ckpt), "--config", str(LSTM_CONFIG)],
                         lambda facts: facts["metadata"]["lightning_version"] == "1.9" + HOSTILE),
                        (["inspect", str(folder)], lambda facts: any("unknown version" in w for w in facts["warnings"]))):
        lines = _printable_stdout(run_cli(argv))
        assert any("\\x1b[2J" in line for line in lines)  # shown, escaped
        assert check(_strict_json(run_cli(argv + ["--json"])))


def _zip(path: Path, entries: dict) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about odd names; they are the point
        with zipfile.ZipFile(path, "w") as z:
            for name, data in entries.items():
                z.writestr(name, data)
    return path


def _u(text: str, errors: str = "strict") -> bytes:
    raw = text.encode("utf-8", errors)
    return P.BINUNICODE + struct.pack("<I", len(raw)) + raw


REFUSED = ("global-surrogate", "global", "zip-prefix", "net-key", "no-net", "nam-architecture",
           "folder-architecture", "header-identifier", "odd-file-name")


@pytest.fixture(scope="module")
def refused_files(tmp_path_factory, genuine_checkpoint) -> dict:
    """name -> (argv, path) of files that must be refused; their hostile text reaches the message."""
    tmp = tmp_path_factory.mktemp("refused")
    cfg = ["--config", str(LSTM_CONFIG)]
    cases = {}
    # a pickle global whose module name is hostile and 1 MiB long (a lone surrogate, surrogatepass-encoded)
    for name, module in (("global-surrogate", "os" + HOSTILE + SURROGATE + MIB), ("global", "os" + HOSTILE + MIB)):
        pkl = P.PROTO + b"\x04" + _u(module, "surrogatepass") + _u("sys\u2028tem") + P.STACK_GLOBAL + P.STOP
        path = _zip(tmp / f"{name}.ckpt", {"archive/data.pkl": pkl, "archive/version": b"3\n"})
        cases[name] = ([str(path), *cfg], path)
    # hostile zip prefixes
    prefix = "ev" + HOSTILE.replace("\n", "") + "il"
    path = _zip(tmp / "prefix.ckpt", {f"{prefix}/data.pkl": b"\x80\x02}.", f"{prefix}/version": b"3\n",
                                      f"{prefix}2/x": b""})
    cases["zip-prefix"] = ([str(path), *cfg], path)
    # state_dict keys: an unexpected net key (WeightsMismatch), and no "_net." key at all
    state = dict(genuine_checkpoint["state_dict"], **{"_net." + HOSTILE + SURROGATE + MIB: torch.zeros(1)})
    path = _checkpoint(tmp / "keys.ckpt", genuine_checkpoint, state_dict=state)
    cases["net-key"] = ([str(path), *cfg], path)
    path = _checkpoint(tmp / "nonet.ckpt", {"state_dict": {HOSTILE + MIB: torch.zeros(1)}})
    cases["no-net"] = ([str(path), *cfg], path)
    # .nam, export folder and header with a hostile architecture / identifier
    path = tmp / "arch.nam"
    path.write_text(json.dumps(_nam_document(architecture="Cat" + HOSTILE + SURROGATE + MIB)))
    cases["nam-architecture"] = ([str(path)], path)
    folder = tmp / "arch-folder"
    shutil.copytree(LSTM_DIR, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "architecture": "Cat" + HOSTILE + SURROGATE}))
    cases["folder-architecture"] = ([str(folder)], folder)
    path = tmp / "ident.h"
    path.write_text(LSTM_HEADER.read_text().replace("NUM_LAYERS", "NUM_L\x1b[2J\u202eAYERS" + "A" * 100_000, 1))
    cases["header-identifier"] = ([str(path)], path)
    # the file's own name: printable but odd, and broken contents
    path = _broken(tmp, ".nam", b'{"version": "0.5.2", "architecture": "CatLSTM\\u001b\\n", "weights": []}')
    cases["odd-file-name"] = ([str(path)], path)
    assert sorted(cases) == sorted(REFUSED)
    return cases


@pytest.mark.parametrize("case", REFUSED)
@pytest.mark.parametrize("output", ["text", "json"])
def test_hostile_files_are_refused_with_one_clean_line(refused_files, case, output):
    argv, path = refused_files[case]
    result = run_cli(["inspect", *argv, *(["--json"] if output == "json" else [])])
    assert_refused(result, path)
    assert result.stdout == ""


def test_file_names_with_control_characters_are_escaped(tmp_path):
    # A name can hold anything but "/" and NUL; bytes that are not UTF-8 arrive as lone
    # surrogates (surrogateescape). Either is shown escaped, never raw.
    for name in ("amp\x1b[2J\nname\u2028.nam", "amp\udcff\udcfe.nam"):
        path = tmp_path / name
        path.write_bytes(b'{"version": "0.5.2", "architecture": "CatLSTM"}')
        result = run_cli(["inspect", str(path)])
        assert result.returncode == 2, result.describe()
        message = result.stderr.rstrip("\n")
        assert "\n" not in message and message.isprintable() and len(message) <= MAX_MESSAGE, repr(message)
        assert printable(name) in message, message


# -- the CLI's own printing -------------------------------------------------------------------------------------


def test_internal_error_prints_one_sanitised_line(capsys, monkeypatch):
    def boom(args):
        raise RuntimeError(HOSTILE * 1000 + SURROGATE)

    monkeypatch.setattr(cli, "cmd_inspect", boom)
    assert cli.main(["inspect", "x.nam"]) == cli.EXIT_INTERNAL
    out, err = capsys.readouterr()
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1
    assert_one_printable_line(err.rstrip("\n"), LINE_LIMIT)
    assert "RuntimeError: \\n\\x1b[2J" in err


def test_warnings_and_text_output_are_printable(capsys, monkeypatch):
    def noisy(args):
        warnings.warn("knob " + HOSTILE + MIB + " is out of range", compat.OutOfRangeWarning)
        print("a line with " + HOSTILE.replace("\n", "") + SURROGATE)
        return 0

    monkeypatch.setattr(cli, "cmd_inspect", noisy)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert cli.main(["inspect", "x.nam"]) == 0
    out, err = capsys.readouterr()
    # Newlines are the layout's (a value is escaped before it is laid out: tools.report);
    # every other control character is escaped on the way out.
    assert out == "a line with " + printable(HOSTILE.replace("\n", "") + SURROGATE) + "\n"
    assert err.startswith("nam-legacy: warning: knob \\n\\x1b[2J") and err.count("\n") == 1
    assert_one_printable_line(err.rstrip("\n"), LINE_LIMIT)
    assert sys.stdout is not None and not type(sys.stdout).__name__ == "PrintableStream"  # restored


def test_a_surrogate_on_a_real_stdout_does_not_crash(tmp_path):
    # In a child process stdout is a real UTF-8 stream, which raises on a lone surrogate.
    from hostile import run_code

    code = ("import sys, tools.cli as c\n"
            "c.cmd_inspect = lambda args: print('knob \\ud800 \\x1b[2J') or 0\n"
            "sys.exit(c.main(['inspect', 'x']))")
    result = run_code(code)
    assert result.returncode == 0, result.describe()
    assert result.stdout == "knob \\ud800 \\x1b[2J\n"


def test_message_limit_fits_the_cli_line():
    assert len("nam-legacy: error: ") + MESSAGE_LIMIT <= MAX_MESSAGE == LINE_LIMIT


# -- the audit's renderers: commit subjects, paths and details come from a repository ------------------------


def _audit_report() -> dict:
    evil = "subject" + HOSTILE + SURROGATE + "\n::error file=x::forged"
    drift = {"kind": "signature", "path": "nam/" + HOSTILE + ".py", "object": "Cat" + HOSTILE, "detail": evil,
             "counts": True, "documented_by": [], "gated": False, "file": "ours" + HOSTILE + ".py", "line": 3}
    return {
        "repo": "/repo" + HOSTILE, "range": {"spec": "a..b" + HOSTILE, "start": "0" * 40, "end": "1" * 40},
        "summary": {"commits": 1, "changes": 1, "by_kind": {"signature": 1}},
        "conformance": [{"release": "0.7.4" + HOSTILE, "ref": "v0.7.4", "status": "drift", "drifts": [drift]}],
        "numeric": [{"release": "0.7.4", "model": "CatLSTM" + HOSTILE, "status": "mismatch", "detail": None,
                     "max_abs_diff": float("nan")}],
        "history": [{"sha": "2" * 40, "date": "2024-01-14T00:00:00", "subject": evil, "release": "0.7.4",
                     "changes": [{"kind": "signature", "path": "nam/" + HOSTILE + ".py", "object": "x" + HOSTILE,
                                  "detail": evil}]}],
    }


@pytest.mark.parametrize("fmt", ["markdown", "github", "json"])
def test_audit_renderers_escape_repository_text(fmt):
    from tools.audit.render import render

    text = render(_audit_report(), fmt)
    for line in text.splitlines():
        assert line.isprintable(), repr(line)
        # A subject's newline must not start a workflow command of its own.
        assert not line.startswith("::error"), line
    if fmt == "json":
        report = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
        assert report["numeric"][0]["max_abs_diff"] is None
        assert report["history"][0]["subject"].startswith("subject" + HOSTILE)  # JSON keeps the data
    else:
        assert "\\x1b[2J" in text
