"""The library logs and never prints: nothing on stdout or stderr from compat or nam_legacy.

Upstream logged "Nominal settings aren't defined for parametric models; outputting unity" at
every metadata step of a Cat* export (a dozen times per .nam). The reconstruction keeps the
records (faithful), and the package logger's NullHandler keeps Python's last-resort handler
from writing them to stderr when the application has configured no logging.
"""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest

import compat
from golden import FIXTURES

ROOT = Path(__file__).resolve().parents[1]
CASE = FIXTURES / "0.7.4" / "catlstm"


def test_export_prints_nothing_and_logs_upstreams_warning(tmp_path, capfd, caplog):
    legacy = compat.load(CASE / "model.ckpt", config=CASE / "model.json", param_config=CASE / "params.json")
    capfd.readouterr()
    with caplog.at_level(logging.WARNING, logger="nam_legacy"):
        compat.export(legacy, "nam", tmp_path / "model.nam", release="0.5.1")
    out, err = capfd.readouterr()  # file-descriptor level: catches print, logging's last resort, C code
    assert (out, err) == ("", "")
    nominal = [r for r in caplog.records if "Nominal settings aren't defined" in r.getMessage()]
    assert nominal, "upstream's warning is no longer logged"
    assert all(r.name.startswith("nam_legacy.") and r.levelno == logging.WARNING for r in nominal)


def test_without_any_logging_configuration_nothing_reaches_stderr(tmp_path):
    # A fresh interpreter with no handlers anywhere: the case where Python's last-resort
    # handler would print WARNING records to stderr.
    from hostile import run_code

    code = ("import sys, compat\n"
            "c = sys.argv[1]\n"
            "m = compat.load(c + '/model.ckpt', config=c + '/model.json', param_config=c + '/params.json')\n"
            "compat.export(m, 'nam', sys.argv[2], release='0.5.1')\n")
    result = run_code(code, str(CASE), str(tmp_path / "model.nam"))
    assert result.returncode == 0, result.describe()
    assert (result.stdout, result.stderr) == ("", "")
    assert (tmp_path / "model.nam").is_file()


def test_package_loggers_configure_no_output():
    import nam_legacy  # noqa: F401 - sets up its package logger

    handlers = logging.getLogger("nam_legacy").handlers
    assert handlers and all(type(h) is logging.NullHandler for h in handlers)
    assert logging.getLogger("compat").handlers == []


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name):
                yield f.id, node
            elif isinstance(f, ast.Attribute):
                base = f.value
                prefix = base.id if isinstance(base, ast.Name) else (
                    f"{base.value.id}.{base.attr}" if isinstance(base, ast.Attribute) and isinstance(base.value, ast.Name)
                    else "?")
                yield f"{prefix}.{f.attr}", node


FORBIDDEN = {"print", "sys.stdout.write", "sys.stderr.write", "logging.basicConfig", "pprint.pprint", "pprint"}


@pytest.mark.parametrize("package", ["compat", "nam_legacy"])
def test_the_library_has_no_print_and_configures_no_logging(package):
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name, node in _calls(ast.parse(path.read_text(), str(path))):
            adds_handler = name.endswith(".addHandler") and not (
                node.args and isinstance(node.args[0], ast.Call) and isinstance(node.args[0].func, ast.Attribute)
                and node.args[0].func.attr == "NullHandler")
            if name in FORBIDDEN or adds_handler or name.endswith(".setLevel"):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    assert found == []
