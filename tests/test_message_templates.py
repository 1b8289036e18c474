"""Every hard-coded message fits the one-line limit with room for what fills it in.

A message longer than compat.text.MESSAGE_LIMIT is clipped in the middle ("…"), and for a
long template the clipped middle is its advice (`one cu…ing`). So every template of an
error or warning in compat/ and tools/ is found in the source (raise X("..."),
warnings.warn("..."), module constants they use), and its fixed text plus a file-name
prefix and a typical value per placeholder must fit. The longest messages are also built
for real, through the CLI, and must come out whole.
"""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pytest

from compat.text import ELLIPSIS, MESSAGE_LIMIT
from tools import cli

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
EXAMPLE = ROOT / "tools" / "example"
NAME_PREFIX = 80 + len(": ")  # a file name before the message: compat.errors clips it to 80 characters
PLACEHOLDER = 12  # a typical value: a knob name, a number, a short path
LINE_PREFIX = len("nam-legacy: error: ")


def _constants(tree: ast.Module) -> dict:
    """Module-level NAME = "text" (implicitly joined literals included)."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    out[target.id] = node.value.value
    return out


def _template(node, constants):
    """(fixed text, placeholder count) of a message expression, or None if it is not one."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value, 0
    if isinstance(node, ast.Name) and node.id in constants:
        text = constants[node.id]
        return text.replace("{", "").replace("}", ""), text.count("{")
    if isinstance(node, ast.JoinedStr):
        parts = [v for v in node.values if isinstance(v, ast.Constant)]
        return "".join(p.value for p in parts), len(node.values) - len(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _template(node.left, constants), _template(node.right, constants)
        if left is None and right is None:
            return None
        left, right = left or ("", 1), right or ("", 1)
        return left[0] + right[0], left[1] + right[1]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        inner = _template(node.func.value, constants)
        return inner and (inner[0], inner[1] + len(node.args) + len(node.keywords))
    return None


def templates():
    """Every message template of compat/ and tools/: (where, fixed text, placeholders)."""
    found = []
    for path in sorted([*(ROOT / "compat").rglob("*.py"), *(ROOT / "tools").rglob("*.py")]):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = _constants(tree)
        for node in ast.walk(tree):
            message = None
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
                message = node.exc.args[0]
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "warn" and node.args:
                message = node.args[0]
            if message is None:
                continue
            t = _template(message, constants)
            if t is not None and t[0].strip():
                found.append((f"{path.relative_to(ROOT)}:{node.lineno}", t[0], t[1]))
    return found


TEMPLATES = templates()


def test_the_scan_finds_the_messages():
    assert len(TEMPLATES) > 300  # every raise and warn of the code base, not a handful
    texts = " ".join(t for _, t, _ in TEMPLATES)
    assert "has no parametric-nam form" in texts  # a module constant, used with raise X(CONSTANT)
    assert "cannot tell which config this is" in texts  # implicitly joined literals


@pytest.mark.parametrize("where, text, placeholders", TEMPLATES,
                         ids=lambda v: v if isinstance(v, str) and ".py:" in v else "")
def test_every_template_fits_with_a_file_name_and_its_values(where, text, placeholders):
    size = NAME_PREFIX + len(text) + PLACEHOLDER * placeholders
    assert size <= MESSAGE_LIMIT, f"{where}: {size} > {MESSAGE_LIMIT} characters: {text!r}"


# -- the longest messages, built for real --------------------------------------------------------------------


def _error(capsys, *argv, clipped_path: bool = False) -> str:
    """The one error line of a CLI run, less its prefix; whole (no "…"), except, with
    `clipped_path`, inside a long path the message starts with."""
    code = cli.main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("nam-legacy: error: ")
    message = lines[0][LINE_PREFIX:]
    assert len(message) <= MESSAGE_LIMIT, message
    if clipped_path:
        message = message.split(" ", 2)[2] if message.startswith("--output ") else message
    assert ELLIPSIS not in message, message  # whole, not clipped
    return message


def test_hyperconvnet_to_parametric_nam_keeps_its_advice(capsys, tmp_path):
    # the new user's case: the bundled HyperConvNet folder, under a long folder name too
    long_name = tmp_path / ("my-favourite-amp-hyperconvnet-captured-2023-with-the-tone-stack-" + "x" * 40)
    shutil.copytree(EXAMPLE / "hyperconvnet-0.7.4", long_name)
    for folder in (EXAMPLE / "hyperconvnet-0.7.4", long_name):
        message = _error(capsys, "export", folder, "--format", "parametric-nam", "--output", tmp_path / "hcp.nam")
        assert "`nam-legacy pack` for a file per knob setting" in message
        assert message.endswith("or `nam-legacy render --automate` to hear the knobs move")
        assert not (tmp_path / "hcp.nam").exists()


def test_parametric_nam_without_knob_names(capsys, tmp_path):
    message = _error(capsys, "export", EXAMPLE / "catlstm-0.7.4.ckpt", "--config", EXAMPLE / "catlstm.json",
                     "--format", "parametric-nam", "--output", tmp_path / "x.nam")
    assert message.endswith("(give them with --param-config)")  # the library's hint, spelt as the CLI's flag


def test_a_pack_into_a_folder_that_is_not_one(capsys, tmp_path):
    out = tmp_path / ("recordings-of-the-amp-at-every-setting-" + "y" * 60)
    out.mkdir()
    (out / "take1.wav").write_bytes(b"RIFF")
    message = _error(capsys, "pack", EXAMPLE / "catlstm-0.7.4.ckpt", "--config", EXAMPLE / "catlstm.json",
                     "--param-config", EXAMPLE / "params.json", "--grid", "drive=0,1", "--output", out, clipped_path=True)
    assert message.startswith("is not empty") and message.endswith("holds no nam-legacy pack (no manifest.json); choose a new or empty folder "
                            "(--overwrite only replaces a pack)")
