"""The examples of docs/streaming.md, of the README's render section and of tools/example/README.md run as written.

Each runs in a fresh folder holding what the examples name: amp.nam (the bundled CatLSTM
.nam), model.ckpt with catlstm.json and params.json (the bundled checkpoint), di.wav (half
a second, so the README's 30-second sweeps run past its end and warn). The Python blocks
of docs/streaming.md run in order in one namespace, as a reader follows the page; the names
a block uses without defining (block1, the model of a signature line) are set up first.
Shell blocks run line by line: `nam-legacy ...` through the CLI's main, anything else
through bash.
"""

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import compat
import compat.stream as stream
from compat.audio import write_audio
from tools.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "tools" / "example"
STREAMING = ROOT / "docs" / "streaming.md"
README = ROOT / "README.md"
RATE = 48_000


def blocks(text: str, language: str):
    """(first line number, code) of every fenced block of `language`, indented ones too."""
    found = []
    for m in re.finditer(rf"^( *)```{language}\n(.*?)^\1```", text, re.S | re.M):
        indent = len(m.group(1))
        code = "\n".join(line[indent:] for line in m.group(2).splitlines())
        found.append((text[: m.start()].count("\n") + 1, code))
    return found


def section(text: str, start: str, end: str) -> str:
    return text[text.index(start): text.index(end)]


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    shutil.copy(EXAMPLE / "catlstm-0.7.4.nam", tmp_path / "amp.nam")
    shutil.copy(EXAMPLE / "catlstm-0.7.4.ckpt", tmp_path / "model.ckpt")
    shutil.copy(EXAMPLE / "catlstm.json", tmp_path / "catlstm.json")
    shutil.copy(EXAMPLE / "params.json", tmp_path / "params.json")
    t = np.arange(RATE // 2) / RATE
    write_audio(tmp_path / "di.wav", (0.3 * np.sin(2 * np.pi * 110 * t)).astype(np.float32), RATE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_shell(code: str, folder: Path, capsys) -> None:
    for line in code.replace("\\\n", " ").splitlines():
        line = re.sub(r"\[([^\]]*)\]", r"\1", line).strip()  # [--plot x.png]: an option, tried too
        if not line or line.startswith("#"):
            continue
        if line.startswith("nam-legacy "):
            status = main(shlex.split(line, comments=True)[1:])
            out, err = capsys.readouterr()
            assert status == 0, f"{line}\n{err}"
            assert "error" not in err, f"{line}\n{err}"
        else:
            done = subprocess.run(["bash", "-c", line], cwd=folder, capture_output=True, text=True)
            assert done.returncode == 0, f"{line}\n{done.stderr}"


# --- docs/streaming.md ---

SETUP = {  # names a block uses without defining them (a signature line shows a call's form)
    "block1": "block1, block2, block3 = np.split(x, 3)",
    "forward_augmented": "model = legacy\nknob_curves = np.tile(np.float32([0, 0.3, 0.5]), (x.size, 1))",
    "forward_control_rate": "model = compat.load(EXAMPLE / 'hyperconvnet-0.7.4').model\n"
                            "knob_curves = np.tile(np.float32([0, 0.3, 0.5]), (x.size, 1))",
}


def test_the_python_examples_of_streaming_md_run_in_order(sandbox):
    found = blocks(STREAMING.read_text(), "python")
    assert len(found) >= 4
    x = (0.3 * np.sin(np.arange(3 * 4096) / 20)).astype(np.float32)
    namespace = {"np": np, "x": x, "EXAMPLE": EXAMPLE, "compat": compat}
    for line, code in found:
        for word, setup in SETUP.items():
            if word in code and not re.search(rf"^{word}\b", code, re.M):
                exec(setup, namespace)
        try:
            exec(compile(code, f"docs/streaming.md:{line}", "exec"), namespace)
        except Exception as e:
            raise AssertionError(f"docs/streaming.md line {line}: {type(e).__name__}: {e}") from e
    # what the examples claim they made
    assert isinstance(namespace["done"], stream.RenderedFile) and (sandbox / "out.wav").exists()
    assert namespace["y3"].shape == namespace["block3"].shape


def test_the_csv_example_of_streaming_md_is_valid_automation():
    ((_, text),) = blocks(STREAMING.read_text(), "csv")
    curves = stream.parse_automation_csv(text)
    automation = stream.Automation(curves, compat.load(EXAMPLE / "catlstm-0.7.4.nam").knobs)
    assert automation.names == ["drive", "tone"]


# --- README, the render section ---


def readme_render_blocks():
    text = section(README.read_text(), "### Command line", "### Exit codes")
    return blocks(text, "sh")


def test_the_readme_render_section_has_its_examples():
    assert len(readme_render_blocks()) == 4


@pytest.mark.parametrize("index", range(1, 4))
def test_the_readme_render_examples_run(sandbox, capsys, index):
    (_, code) = readme_render_blocks()[index]
    if "--format parametric-nam" in code:
        (sandbox / "amp.nam").unlink()  # that example makes its own amp.nam from a checkpoint
    run_shell(code, sandbox, capsys)


def test_the_moving_knobs_examples_run_one_after_the_other(sandbox, capsys):
    # a reader runs the sweep, then its CSV form, in the same folder: no output collides
    for _, code in readme_render_blocks()[1:3]:
        run_shell(code, sandbox, capsys)
    assert {"sweep.wav", "sweep.png", "sweep-csv.wav", "moves.csv"} <= {p.name for p in sandbox.iterdir()}


def test_the_readme_command_line_render_forms_run(tmp_path, capsys, monkeypatch):
    (_, code) = readme_render_blocks()[0]
    forms = [line for line in code.splitlines() if line.startswith("nam-legacy render")]
    assert len(forms) == 3
    for k, form in enumerate(forms):  # each form on its own (two write out.wav)
        folder = tmp_path / str(k)
        folder.mkdir()
        for name, source in (("amp.nam", "catlstm-0.7.4.nam"), ("model.ckpt", "catlstm-0.7.4.ckpt"),
                             ("catlstm.json", "catlstm.json")):
            shutil.copy(EXAMPLE / source, folder / name)
        write_audio(folder / "di.wav", np.zeros(RATE // 4, np.float32), RATE)
        monkeypatch.chdir(folder)
        run_shell(form, folder, capsys)


# --- tools/example/README.md ---


def test_the_example_readme_automates_the_bundled_hyperconvnet(tmp_path, capsys, monkeypatch):
    """The bundled HyperConvNet folder has no knob names; tools/example/README.md names the
    param config that fits it, and its command runs as written from the repository's root
    after `nam-legacy demo` (here: tools/ linked in, the demo's input.wav made)."""
    import json

    from tools import demo

    # the param config fits: the one make_fixtures.py trained this HyperConvNet with (3 knobs,
    # sorted-name order), and the folder is that fixture's export, unchanged
    fixture = ROOT / "tests" / "fixtures" / "0.7.4" / "hyperconvnet_bn"
    assert (EXAMPLE / "params.json").read_bytes() == (fixture / "params.json").read_bytes()
    for name in ("config.json", "weights.npy"):
        assert (EXAMPLE / "hyperconvnet-0.7.4" / name).read_bytes() == (fixture / "export" / name).read_bytes()
    sorted_names = json.loads((fixture / "meta.json").read_text())["knob_names_sorted"]
    assert [k.name for k in compat.load(EXAMPLE / "hyperconvnet-0.7.4", param_config=EXAMPLE / "params.json").knobs] \
        == sorted_names == ["bright", "drive", "tone"]
    ((_, code),) = blocks((EXAMPLE / "README.md").read_text(), "sh")
    assert "hyperconvnet-0.7.4" in code and "--param-config tools/example/params.json" in code and "--automate" in code
    (tmp_path / "tools").symlink_to(ROOT / "tools")
    (tmp_path / "nam-legacy-demo").mkdir()
    write_audio(tmp_path / "nam-legacy-demo" / "input.wav", demo.test_signal(), RATE)
    monkeypatch.chdir(tmp_path)
    run_shell(code, tmp_path, capsys)
    assert {"hyper-sweep.wav", "hyper-sweep.png"} <= {p.name for p in tmp_path.iterdir()}
    # and the README's HyperConvNet sentence points there
    assert "--param-config tools/example/params.json" in " ".join(README.read_text().split())
