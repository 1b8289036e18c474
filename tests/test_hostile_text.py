"""Hostile text files (.nam, C++ headers, export folders' config.json, JSON configs, and
what sniffing reads) against the promises of docs/checkpoint-safety.md ("Text formats").

Each case is a file built here for one defect class of issue 10 (§3 amplification in the
text readers, §5 sniffing) and the header reader's own (comments, tokens, raw strings).
Every case goes through the real CLI (`nam-legacy inspect FILE --json`):

* refused cases exit 2 with one printable line of at most 300 characters naming the file
  (`hostile.assert_refused`), with the error class and message fragment we expect;
* valid-but-odd cases (megabytes of blank lines or comments, metadata before the
  weights) load, exit 0;
* all stay within the stated bounds (`hostile.assert_within_bounds`: 1 GB above an idle
  CLI, 10 s of CPU) and within the text readers' own, much tighter budget (TEXT_RSS: the
  chunked readers hold a few MiB of text plus the model, whatever the file's size).

One representative per class runs in its own child under the harness's caps
(`hostile.run_cli`); the rest run in a few children (`hostile.run_batch`), one case after another, each case's
peak RSS measured from a reset of the child's high-water mark (/proc/self/clear_refs), so
the whole file stays fast (memory freed by one case is given back to the system,
malloc_trim, before the next one's is measured). `test_report` prints every case's peak
and CPU time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple

import pytest

import hostile
from hostile import MiB, TEXT_CPU, TEXT_RSS, repeat, write_parts  # TEXT_*: the text readers' own budget

FIXTURES = Path(__file__).parent / "fixtures"
LSTM_H = (FIXTURES / "0.7.4/catlstm/export/model.h").read_text()
WAVENET_H = (FIXTURES / "0.7.4/catwavenet/export_patched/model.h").read_text()
HYPER_H = (FIXTURES / "0.7.4/hyperconvnet_bn/export/model.h").read_text()
NAM = json.loads((FIXTURES / "0.7.4/catlstm/export/model.nam").read_text())
EXPORT_DIR = FIXTURES / "0.4.0/catlstm/export"
CKPT = FIXTURES / "0.7.4/catlstm/model.ckpt"
MODEL_JSON = json.loads((FIXTURES / "0.7.4/catlstm/model.json").read_text())


class Case(NamedTuple):
    name: str
    defect: str  # the class it belongs to
    build: Callable[[Path], Path]
    expect: str  # "ok", or the error message fragment a refusal must hold
    args: tuple = ()


def _around(text: str, anchor: str, insert: str, after: bool = True) -> List[str]:
    i = text.index(anchor) + (len(anchor) if after else 0)
    return [text[:i], insert, text[i:]]


def _params(text: str):
    head, body = text.split("PARAMS{")
    numbers, tail = body.split("};")
    return head + "PARAMS{", numbers, "};" + tail


def _nam(directory: Path, name: str, doc, **dump) -> Path:
    return write_parts(directory, name, [json.dumps(doc, **dump)])


def _nam_with(directory: Path, name: str, key: str, raw_value: str, first: bool = False) -> Path:
    """A .nam with `key` set to a raw JSON text (huge, or not JSON at all)."""
    rest = json.dumps({k: v for k, v in NAM.items() if k != key})[1:-1]
    item = f'"{key}": {raw_value}'
    return write_parts(directory, name, ["{", item + ", " + rest if first else rest + ", " + item, "}"])


# --- the cases -----------------------------------------------------------------------------------

HEADER_CASES = [
    # §3: the header reader kept per-line objects (20 MB of blank lines: 2.5 GB) — now nothing
    Case("h_blank_lines", "header: blank lines", lambda d: write_parts(d, "blank.h", _around(
        LSTM_H, "const int HIDDEN_SIZE = 8;", "\n" * (48 * MiB))), "ok"),
    Case("h_blank_lines_in_params", "header: blank lines", lambda d: write_parts(d, "blank_params.h", _around(
        LSTM_H, "PARAMS{", "\r\n" * (12 * MiB) + "\t" * (8 * MiB))), "ok"),
    Case("h_long_comment", "header: comments", lambda d: write_parts(d, "comment.h", _around(
        LSTM_H, "std::vector<float> PARAMS", "/*" + "x" * (48 * MiB) + "*/\n", after=False)), "ok"),
    Case("h_long_line_comment", "header: comments", lambda d: write_parts(d, "line_comment.h", _around(
        LSTM_H, "PARAMS{", "// " + "y" * (32 * MiB) + "\n")), "ok"),
    Case("h_unclosed_comment", "header: comments", lambda d: write_parts(d, "unclosed.h", _around(
        LSTM_H, "const int HIDDEN_SIZE = 8;", "/*" + " " * (32 * MiB))), "comment is not closed"),
    Case("h_many_comments", "header: comments", lambda d: write_parts(d, "comments.h", _around(
        LSTM_H, "const int HIDDEN_SIZE = 8;", "/**/" * 1_100_000)), "comments"),
    Case("h_many_comments_in_params", "header: comments", lambda d: write_parts(d, "comments_params.h", _around(
        LSTM_H, "PARAMS{", "/**/" * 1_100_000)), "comments"),
    Case("h_many_tokens", "header: tokens", lambda d: write_parts(d, "tokens.h", _around(
        LSTM_H, "const int HIDDEN_SIZE = 8;", ";" * 300_000)), "tokens"),
    Case("h_many_layer_arrays", "header: tokens", lambda d: write_parts(d, "layers.h", _around(
        WAVENET_H, "LAYER_ARRAY_PARAMS{", "wavenet::LayerArrayParams(4, 4, 2, 4, 3, {1}, \"Tanh\", true, false),"
        * 5000)), "more than 1024 layer arrays"),
    Case("h_many_dilations", "header: tokens", lambda d: write_parts(d, "dilations.h", _around(
        HYPER_H, "DILATIONS{", "1," * 1_000_000)), "more than 4096"),
    # claimed sizes: the architecture fixes the count before any number is read
    Case("h_more_numbers_than_declared", "header: claimed size", lambda d: write_parts(d, "more.h", _around(
        LSTM_H, "PARAMS{", "0.1234567890123456f, " * 1_000_000)), "more than 1001 values"),
    Case("h_params_before_the_architecture", "header: claimed size", lambda d: write_parts(d, "params_first.h", [
        "#pragma once\n#define PYTHON_MODEL_VERSION \"0.5.2\"\nstd::vector<float> PARAMS{", repeat("0,", 11_000_000),
        "0};\n"]), "more than 10000000 values"),
    Case("h_huge_model", "header: claimed size", lambda d: write_parts(d, "huge_model.h", [LSTM_H.replace(
        "HIDDEN_SIZE = 8", "HIDDEN_SIZE = 2000")]), "above the limit of 10000000"),
    Case("h_long_number", "header: huge numbers", lambda d: write_parts(d, "long_number.h", [LSTM_H.replace(
        "NUM_LAYERS = 2", "NUM_LAYERS = " + "9" * (8 * MiB))]), "longer than 4096"),
    Case("h_5000_digit_integer", "header: huge numbers", lambda d: write_parts(d, "digits.h", [LSTM_H.replace(
        "NUM_LAYERS = 2", "NUM_LAYERS = " + "7" * 5000)]), "longer than 4096"),
    Case("h_5000_digit_weight", "header: huge numbers", lambda d: write_parts(d, "digit_weight.h", _around(
        LSTM_H, "PARAMS{", "7" * 5000 + ", ")), "too large for a float"),
    Case("h_no_comma_for_megabytes", "header: huge numbers", lambda d: write_parts(d, "gap.h", _around(
        LSTM_H, "PARAMS{", "0.5f" + " " * (32 * MiB) + "0.5f, ")), "weight 0"),
    Case("h_nan_and_infinity", "header: NaN/Infinity", lambda d: write_parts(d, "nan.h", [
        _params(LSTM_H)[0], ", ".join(["nanf", "-inff", "inff"] * 333 + ["nanf", "nanf"]), _params(LSTM_H)[2]]), "ok"),
    Case("h_deep_parametric", "header: nesting", lambda d: write_parts(d, "deep.h", [LSTM_H.replace(
        '"tone": {', '"tone": ' + "{" * 1_000_000, 1)]), "PARAMETRIC"),
    Case("h_huge_parametric", "header: claimed size", lambda d: write_parts(d, "parametric.h", _around(
        LSTM_H, 'R"(', " " * (20 * MiB))), "raw string longer than"),
    Case("h_duplicate_declaration", "header: duplicates", lambda d: write_parts(d, "twice.h", _around(
        LSTM_H, "const int HIDDEN_SIZE = 8;", "\nconst int HIDDEN_SIZE = 8;")), "declared twice"),
    Case("h_bad_utf8_at_the_end", "header: encoding", lambda d: write_parts(d, "utf8.h", [
        LSTM_H, "// " + "z" * (24 * MiB), b"\xff\n"]), "not UTF-8"),
]

NAM_CASES = [
    # §3: json.loads built everything before the count check (a 63 MB .nam took 3.2 GB)
    Case("n_63_mb_of_weights", ".nam: claimed size", lambda d: _nam_with(
        d, "big.nam", "weights", "[" + "0.123456789, " * 4_900_000 + "0]"), "more than 1001 values"),
    Case("n_weights_first_beyond_the_limit", ".nam: claimed size", lambda d: write_parts(d, "weights_first.nam", [
        '{"weights": [', repeat("0,", 11_000_000), '0], "version": "0.5.2"}']), "more than 10000000 values"),
    Case("n_huge_model", ".nam: claimed size", lambda d: _nam(d, "huge_model.nam", {
        **NAM, "config": {**NAM["config"], "hidden_size": 2000}}), "above the limit of 10000000"),
    Case("n_strings_for_weights", ".nam: claimed size", lambda d: _nam_with(
        d, "strings.nam", "weights", "[" + '"0.5", ' * 2_000_000 + "0]"), "weights[0]"),
    Case("n_not_an_object", ".nam: claimed size", lambda d: write_parts(d, "array.nam", [
        "[", repeat("0, ", 8_000_000), "0]"]), "text of no known format"),  # (sniffing says so first)
    Case("n_5000_digit_weight", ".nam: huge numbers", lambda d: _nam_with(
        d, "digits.nam", "weights", "[" + "7" * 5000 + ", " + ", ".join(map(str, NAM["weights"][1:])) + "]"),
        "too large for a float"),
    Case("n_5000_digit_metadata", ".nam: huge numbers", lambda d: _nam_with(
        d, "digits_meta.nam", "metadata", '{"x": ' + "7" * 5000 + "}"), "digit"),
    Case("n_deep_metadata", ".nam: nesting", lambda d: _nam_with(
        d, "deep.nam", "metadata", "[" * 1_000_000 + "]" * 1_000_000), "deeper than 64"),
    Case("n_many_containers", ".nam: nesting", lambda d: _nam_with(
        d, "containers.nam", "metadata", "[" + "[]," * 2_000_000 + "[]]"), "arrays and objects"),
    Case("n_many_small_values", ".nam: claimed size", lambda d: _nam_with(
        d, "values.nam", "metadata", "[" + "0," * 5_000_000 + "0]"), "JSON values"),
    Case("n_huge_metadata_string", ".nam: claimed size", lambda d: _nam_with(
        d, "string.nam", "metadata", '"' + "s" * (20 * MiB) + '"'), "exceed"),
    Case("n_unclosed_string", ".nam: claimed size", lambda d: write_parts(d, "unclosed.nam", [
        '{"version": "0.5.2", "metadata": {"a": "', "q" * (40 * MiB)]), "exceed"),
    Case("n_duplicate_weights", ".nam: duplicates", lambda d: write_parts(d, "twice.nam", [
        json.dumps(NAM)[:-1], ', "weights": [', repeat("0, ", 4_000_000), "0]}"]), "has the key 'weights' twice"),
    Case("n_duplicate_metadata_keys", ".nam: duplicates", lambda d: _nam_with(
        d, "twice_meta.nam", "metadata", "{" + '"a": 0, ' * 100_000 + '"b": 0}'), "the key 'a' twice"),
    Case("n_a_million_metadata_keys", ".nam: claimed size", lambda d: _nam_with(
        d, "keys_meta.nam", "metadata", "{" + "".join(f'"k{i}": 0, ' for i in range(1_000_000)) + '"b": 0}'),
        "JSON values"),
    Case("n_many_top_level_keys", ".nam: duplicates", lambda d: write_parts(d, "keys.nam", [
        "{", "".join(f'"k{i}": 0, ' for i in range(200_000)), json.dumps(NAM)[1:]]), "no known kind"),
    Case("n_nan_and_infinity", ".nam: NaN/Infinity", lambda d: _nam(
        d, "nan.nam", {**NAM, "weights": [float("nan"), float("inf"), float("-inf")] * 333 + [0.0, 0.0]}), "ok"),
    Case("n_megabytes_of_whitespace", ".nam: whitespace", lambda d: _nam_with(
        d, "spaces.nam", "weights", "[" + (",\n" + " " * 40_000).join(map(str, NAM["weights"])) + "]"), "ok"),
    # §5: sniffing read a 64 KB prefix and parsed values
    Case("n_metadata_first", "sniff: key order", lambda d: _nam(
        d, "meta_first.nam", {**NAM, "metadata": {**NAM["metadata"], "notes": "n" * (2 * MiB),
                                                  **{f"k{i}": i for i in range(20_000)}}}), "ok"),
    Case("n_weights_first", "sniff: key order", lambda d: _nam(
        d, "weights_first_ok.nam", {"weights": NAM["weights"], **{k: v for k, v in NAM.items() if k != "weights"}}),
        "ok"),
    Case("s_json_of_no_kind", "sniff: bounded", lambda d: write_parts(d, "unknown.json", [
        '{"x": "', "u" * (24 * MiB), '"}']), "no known kind"),
    Case("s_json_one_long_value", "sniff: bounded", lambda d: write_parts(d, "long_value.json", [
        '{"x": [', repeat("[],", 6_000_000), "[]]}"]), "no known kind"),
    Case("s_banner_before_the_header", "sniff: bounded", lambda d: write_parts(d, "banner.h", [
        "/*\n" + " * licence text\n" * 3000 + " */\n", LSTM_H]), "ok"),
]


def _export_dir(directory: Path, name: str, config_text: str = None, npy: bytes = None) -> Path:
    folder = directory / name
    folder.mkdir()
    (folder / "config.json").write_text(config_text or (EXPORT_DIR / "config.json").read_text())
    (folder / "weights.npy").write_bytes(npy or (EXPORT_DIR / "weights.npy").read_bytes())
    return folder


def _npy_claiming(count: int) -> bytes:
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (%d,), }" % count
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + b"\x00" * 8000


def _config_with(extra: str) -> str:
    text = (EXPORT_DIR / "config.json").read_text().rstrip()
    return text[:-1].rstrip() + ', "extra": ' + extra + "}"


OTHER_CASES = [
    Case("e_config_with_many_values", "export folder: claimed size", lambda d: _export_dir(
        d, "values_dir", _config_with("[" + "0," * 3_000_000 + "0]")), "JSON values"),
    Case("e_config_5000_digits", "export folder: huge numbers", lambda d: _export_dir(
        d, "digits_dir", _config_with("7" * 5000)), "digit"),
    Case("e_npy_claims_50m_values", "export folder: claimed size", lambda d: _export_dir(
        d, "npy_dir", npy=_npy_claiming(50_000_000)), "needs"),
    Case("c_model_config_with_many_values", "JSON config: claimed size", lambda d: write_parts(d, "model_config.json", [
        json.dumps({**MODEL_JSON, "notes": None})[:-len("null}")], "[" + "0," * 3_000_000 + "0]}"]),
        "JSON values", ("--config",)),
    Case("c_model_config_deep", "JSON config: nesting", lambda d: write_parts(d, "deep_config.json", [
        json.dumps({**MODEL_JSON, "notes": None})[:-len("null}")], "[" * 100_000 + "]" * 100_000 + "}"]),
        "deeper", ("--config",)),
]

CASES = HEADER_CASES + NAM_CASES + OTHER_CASES
# One per class in its own capped child (the harness as it is meant to be used).
ALONE = {"h_blank_lines", "h_many_comments", "n_63_mb_of_weights", "n_metadata_first"}


def _argv(case: Case, path: Path) -> List[str]:
    if case.args == ("--config",):
        return ["inspect", str(CKPT), "--config", str(path), "--json"]
    return ["inspect", str(path), "--json"]


# --- running ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Dict[str, Path]:
    directory = tmp_path_factory.mktemp("hostile_text")
    return {case.name: case.build(directory) for case in CASES}


@pytest.fixture(scope="module")
def batch(files) -> Dict[str, hostile.Result]:
    """Every case not run alone, a few children (one per kind of file), each case measured
    from a reset of the child's peak RSS."""
    results: Dict[str, hostile.Result] = {}
    warm = ["inspect", str(FIXTURES / "0.7.4/catlstm/export/model.h"), "--json"]
    for kind in "hnsec":
        group = {c.name: _argv(c, files[c.name]) for c in CASES if c.name not in ALONE and c.name[0] == kind}
        if group:
            for name, record in hostile.run_batch(group, warm).items():
                results[name] = hostile.batch_result(record)
    return results


MEASURED: Dict[str, hostile.Result] = {}


def _result(case: Case, files, batch) -> hostile.Result:
    if case.name in ALONE:
        result = hostile.run_cli(_argv(case, files[case.name]))
    else:
        result = batch[case.name]
    MEASURED[case.name] = result
    return result


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_text_file(case, files, batch):
    path = files[case.name]
    result = _result(case, files, batch)
    hostile.check_text_case(result, path, case.expect, rss=TEXT_RSS, cpu=TEXT_CPU,
                            loaded=r'"architecture": "(CatLSTM|CatWaveNet|HyperConvNet)"')


def test_case_inventory():
    """More cases than the review used, for every class of issue 10 §3/§5 the text readers own."""
    defects = {c.defect for c in CASES}
    for needed in ("header: blank lines", "header: comments", "header: tokens", "header: claimed size",
                   "header: huge numbers", "header: NaN/Infinity", "header: nesting", "header: duplicates",
                   ".nam: claimed size", ".nam: huge numbers", ".nam: nesting", ".nam: duplicates",
                   ".nam: NaN/Infinity", "sniff: key order", "sniff: bounded", "export folder: claimed size",
                   "JSON config: claimed size"):
        assert needed in defects, needed
    assert len(CASES) >= 45 and len({c.name for c in CASES}) == len(CASES)


def test_report(capsys):
    """Peak RSS above an idle CLI and CPU seconds of every case run in this session."""
    if not MEASURED:
        pytest.skip("no case ran in this session")
    with capsys.disabled():
        hostile.print_report("hostile text files", MEASURED)
