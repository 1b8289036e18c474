"""Fuzzing every parser with mutations of the genuine fixture files and random inputs.

The property: a parser either returns a sane result or raises a `LegacyError` subclass
with a one-line message; nothing else may escape (no KeyError, RecursionError,
OverflowError, MemoryError, ...). Inputs: byte flips, truncations, deletions, duplicated
chunks, insertions of nasty tokens (NaN/Infinity, 1e999, 5000-digit integers, deep
nesting, NUL, broken UTF-8, Python literals, C++ punctuation), JSON values swapped for
random JSON at random paths, key deletions/renames, line shuffles in headers, and
random bytes/text.

CI profile: derandomized, no example database, no deadline — the same ~12,500 inputs on
every run (`test_total_examples` prints the count and the time).
"""

from __future__ import annotations

import copy
import json
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compat.errors import LegacyError
from compat.formats import RawModel
from compat.formats.configs import (
    ARCHITECTURES,
    MAX_BUILD_ELEMENTS,
    build_element_count,
    config_kind,
    expected_weight_count,
    load_json,
    read_config,
    validate_net_config,
)
from compat.formats.cpp_header import read_cpp_header
from compat.formats import text_stream
from compat.formats.export_dir import parse_export_config, read_weights_npy
from compat.formats.nam_file import read_nam
from compat.sniff import FORMATS, sniff_bytes

FIXTURES = Path(__file__).parent / "fixtures"

EXAMPLES = {
    "test_fuzz_nam_bytes": 2000,
    "test_fuzz_nam_json": 2000,
    "test_fuzz_cpp_header": 2000,
    "test_fuzz_configs": 2000,
    "test_fuzz_export_dir": 1500,
    "test_fuzz_sniff": 1500,
    "test_fuzz_random_inputs": 1500,
    "test_fuzz_header_layout": 600,
    "test_fuzz_nam_layout": 400,
    "test_fuzz_streamed_mutations": 600,
}
MIN_TOTAL = 10_000
CALLS: Counter = Counter()  # parser calls per test
SECONDS: Counter = Counter()


def fuzz(name: str):
    return settings(
        max_examples=EXAMPLES[name],
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )


# --- corpus -------------------------------------------------------------------------------------

NAM_FILES = [FIXTURES / p for p in ("0.5.0/catlstm/export/model.nam", "0.5.1/catwavenet/export_patched/model.nam",
                                    "0.7.4/catlstm/export/model.nam", "0.7.0/catwavenet/export_patched/model.nam")]
HEADERS = [FIXTURES / p for p in ("0.4.0/catlstm/export/model.h", "0.7.4/catwavenet/export_patched/model.h",
                                  "0.3.0/hyperconvnet_bn/export/model.h", "0.7.4/hyperconvnet_nobn/export/model.h")]
EXPORT_CONFIGS = [FIXTURES / p for p in ("0.3.0/catlstm/export/config.json", "0.4.0/catwavenet/export/config.json",
                                         "0.7.4/hyperconvnet_bn/export/config.json",
                                         "0.5.0/hyperconvnet_nobn/export/config.json")]
NPY_FILES = [FIXTURES / p for p in ("0.4.0/catwavenet/export/weights.npy", "0.6.0/hyperconvnet_nobn/export/weights.npy")]
CONFIG_FILES = [FIXTURES / p for p in ("0.7.4/catlstm/model.json", "0.4.0/catwavenet/model.json",
                                       "0.5.0/hyperconvnet_bn/model.json", "0.7.4/catlstm/data.json",
                                       "0.3.0/catlstm/data.json", "0.6.0/catwavenet/params.json")]
LEARNING = {
    "train_dataloader": {"batch_size": 16, "shuffle": True, "pin_memory": True, "drop_last": True, "num_workers": 0},
    "val_dataloader": {},
    "trainer": {"accelerator": "gpu", "devices": 1, "max_epochs": 10},
    "trainer_fit_kwargs": {},
}
BYTES = {p: p.read_bytes() for p in NAM_FILES + HEADERS + EXPORT_CONFIGS + NPY_FILES + CONFIG_FILES}
DOCS = {p: json.loads(BYTES[p]) for p in NAM_FILES + EXPORT_CONFIGS + CONFIG_FILES}
SNIFF_CORPUS = [BYTES[p] for p in NAM_FILES + HEADERS + EXPORT_CONFIGS + NPY_FILES + CONFIG_FILES] + [
    (FIXTURES / "0.7.4/catlstm/model.ckpt").read_bytes()[:65536],
    (FIXTURES / "0.3.0/catlstm/model.ckpt").read_bytes()[:65536],
]

TOKENS = [
    b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999", b"-0", b"0.0", b"9" * 5000, b"1" * 30,
    b"[" * 3000, b"{" * 3000, b'{"a":' * 200, b"]", b"}", b"{", b"[", b'"', b",", b":", b"\\", b"\\u0000",
    b"\\ud800", b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"null", b"true", b"false", b"[]", b"{}",
    b"True", b"False", b"None", b"nan", b"inf", b"-inf", b"nanf", b"inff", b"1.0000000000000000f",
    b"\r\n", b"\n", b"\n\n", b"\t", b" ", b"f", b";", b")\";", b'R"(', b"};", b"(", b")", b"std::vector<int> ",
    b'"Tanh"', b"__import__('os')", b"\xef\xbb\xbf", b"PK\x03\x04", b"\x93NUMPY", b"#pragma once\n",
    b'"weights": ', b'"architecture": "CatLSTM", ', b"1e-45", b"4294967296", b"-9223372036854775809",
]

positions = st.integers(0, 1 << 20)
byte_op = st.one_of(
    st.tuples(st.just("flip"), positions, st.integers(0, 255)),
    st.tuples(st.just("truncate"), positions),
    st.tuples(st.just("delete"), positions, st.integers(1, 64)),
    st.tuples(st.just("dup"), positions, st.integers(1, 256)),
    st.tuples(st.just("insert"), positions, st.sampled_from(TOKENS)),
    st.tuples(st.just("insert"), positions, st.binary(min_size=1, max_size=8)),
)


def mutate_bytes(data: bytes, ops) -> bytes:
    out = bytearray(data)
    for op in ops:
        pos = op[1] % (len(out) + 1)
        if op[0] == "flip" and out:
            out[min(pos, len(out) - 1)] = op[2]
        elif op[0] == "truncate":
            del out[pos:]
        elif op[0] == "delete":
            del out[pos:pos + op[2]]
        elif op[0] == "dup":
            out[pos:pos] = out[pos:pos + op[2]]
        elif op[0] == "insert":
            out[pos:pos] = op[2]
    return bytes(out)


json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-(10 ** 400), 10 ** 400),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["CatLSTM", "CatWaveNet", "HyperConvNet", "LSTM", "continuous", "boolean", "Tanh", "ReLU",
                     "0.5.0", "0.5.1", "0.5.2", "0.3.0", "0.4.0", "0.7.4", "parametric", "dataset"]),
    st.sampled_from([0, 1, 2, 3, 4, -1, 2 ** 31, 2 ** 63, 1 << 20, 0.5, 1e-7]),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)),
    max_leaves=12,
)
json_op = st.one_of(
    st.tuples(st.just("set"), st.lists(st.integers(0, 1 << 16), max_size=6), json_values),
    st.tuples(st.just("del"), st.lists(st.integers(0, 1 << 16), min_size=1, max_size=6)),
    st.tuples(st.just("rename"), st.lists(st.integers(0, 1 << 16), min_size=1, max_size=6), st.text(max_size=8)),
    st.tuples(st.just("wrap"), st.lists(st.integers(0, 1 << 16), max_size=6), st.integers(1, 80)),
)


def mutate_json(doc: Any, ops) -> Any:
    doc = copy.deepcopy(doc)
    for op in ops:
        kind, path = op[0], op[1]
        parent, key, node = None, None, doc
        for step in path[: (len(path) - 1) if kind in ("del", "rename") else len(path)]:
            if isinstance(node, dict) and node:
                key = list(node)[step % len(node)]
            elif isinstance(node, list) and node:
                key = step % len(node)
            else:
                break
            parent, node = node, node[key]
        if kind == "set":
            if parent is None:
                doc = op[2]
            else:
                parent[key] = op[2]
        elif kind == "wrap":  # deep nesting around a value
            value = node
            for _ in range(op[2]):
                value = [value]
            if parent is None:
                doc = value
            else:
                parent[key] = value
        elif isinstance(node, (dict, list)) and node:
            idx = path[-1] % len(node)
            if isinstance(node, dict):
                k = list(node)[idx]
                value = node.pop(k)
                if kind == "rename":
                    node[op[2]] = value
            elif kind == "del":
                del node[idx]
    return doc


def dump(doc: Any, style: int) -> bytes:
    kwargs = [{}, {"indent": 4}, {"sort_keys": True}, {"separators": (",", ":")}][style % 4]
    try:
        return json.dumps(doc, **kwargs).encode("utf-8", "surrogatepass")
    except (ValueError, RecursionError):
        return b"{}"


# --- the property ---------------------------------------------------------------------------------


def _check_raw(raw: RawModel, fmt: str) -> None:
    assert isinstance(raw, RawModel) and raw.format == fmt
    assert raw.architecture in ARCHITECTURES
    assert raw.releases.first.version <= raw.releases.last.version
    assert (raw.param_config is None) == (raw.architecture == "HyperConvNet")
    validate_net_config(raw.architecture, raw.net_config)  # what the reader returns re-validates
    assert build_element_count(raw.architecture, raw.net_config) <= MAX_BUILD_ELEMENTS
    if raw.weights is not None:
        # text formats stream their weights into one float32 array; weights.npy keeps float64
        assert raw.weights.dtype == (np.float32 if fmt in ("nam", "cpp_header") else np.float64)
        assert raw.weights.ndim == 1
        assert len(raw.weights) == expected_weight_count(raw.architecture, raw.net_config)
    assert all(isinstance(w, str) and "\n" not in w for w in raw.warnings)


def run(test: str, parser: Callable[[Any], Any], data: Any) -> Any:
    """Call the parser; only a result or a LegacyError with a one-line message may come out."""
    CALLS[test] += 1
    start = time.perf_counter()
    try:
        return parser(data)
    except LegacyError as e:
        message = str(e)
        assert message and "\n" not in message and "\r" not in message, repr(message)
        return None
    finally:
        SECONDS[test] += time.perf_counter() - start


# --- tests -------------------------------------------------------------------------------------


@fuzz("test_fuzz_nam_bytes")
@given(st.sampled_from(NAM_FILES), st.lists(byte_op, min_size=1, max_size=4))
def test_fuzz_nam_bytes(path, ops):
    raw = run("test_fuzz_nam_bytes", read_nam, mutate_bytes(BYTES[path], ops))
    if raw is not None:
        _check_raw(raw, "nam")


@fuzz("test_fuzz_nam_json")
@given(st.sampled_from(NAM_FILES), st.lists(json_op, min_size=1, max_size=3), st.integers(0, 3))
def test_fuzz_nam_json(path, ops, style):
    doc = DOCS[path]
    if ops[0][0] == "set" and len(ops[0][1]) > 2:  # mostly aim at the config, not the long weight list
        doc = copy.deepcopy(doc)
        doc["config"] = mutate_json(doc["config"], ops[:1])
        ops = ops[1:]
    raw = run("test_fuzz_nam_json", read_nam, dump(mutate_json(doc, ops), style))
    if raw is not None:
        _check_raw(raw, "nam")


line_op = st.one_of(
    st.tuples(st.just("drop"), positions),
    st.tuples(st.just("dup"), positions),
    st.tuples(st.just("swap"), positions, positions),
    st.tuples(st.just("replace"), positions, st.sampled_from([t.decode("latin-1") for t in TOKENS]),
              st.sampled_from(["True", "False", "None", "nan", "-inf", "1e309", "0", "-1", '"', "{", "}", "(",
                               ")", ",", "2147483648", "99999999999999999999", "", "1.5", "true", "\t"])),
)


def mutate_lines(text: str, ops) -> str:
    lines = text.split("\n")
    for op in ops:
        if not lines:
            break
        i = op[1] % len(lines)
        if op[0] == "drop":
            del lines[i]
        elif op[0] == "dup":
            lines.insert(i, lines[i])
        elif op[0] == "swap":
            j = op[2] % len(lines)
            lines[i], lines[j] = lines[j], lines[i]
        else:  # replace one occurrence of a token, or a number, in the line
            line, old, new = lines[i], op[2], op[3]
            if old and old in line:
                lines[i] = line.replace(old, new, 1)
            else:
                k = next((n for n, c in enumerate(line) if c.isdigit()), None)
                if k is not None:
                    lines[i] = line[:k] + new + line[k + 1:]
    return "\n".join(lines)


@fuzz("test_fuzz_cpp_header")
@given(st.sampled_from(HEADERS), st.lists(byte_op, max_size=3), st.lists(line_op, max_size=3), st.booleans())
def test_fuzz_cpp_header(path, byte_ops, line_ops, as_text):
    data = BYTES[path]
    if line_ops:
        data = mutate_lines(data.decode(), line_ops).encode("utf-8", "surrogatepass")
    data = mutate_bytes(data, byte_ops)
    if as_text:
        text = data.decode("utf-8", "replace")
        raw = run("test_fuzz_cpp_header", read_cpp_header, "#" + text[1:] if text else "#")
    else:
        raw = run("test_fuzz_cpp_header", read_cpp_header, data)
    if raw is not None:
        _check_raw(raw, "cpp_header")


def _config_from_bytes(data: bytes):
    value = load_json(data, "config")
    return read_config(value) if isinstance(value, dict) else None


@fuzz("test_fuzz_configs")
@given(st.sampled_from(CONFIG_FILES + ["learning"]), st.lists(json_op, min_size=1, max_size=3), st.integers(0, 3),
       st.lists(byte_op, max_size=2))
def test_fuzz_configs(path, ops, style, byte_ops):
    doc = LEARNING if path == "learning" else DOCS[path]
    mutated = mutate_json(doc, ops)
    # (a str would be taken as a path: only objects go to read_config, the rest to config_kind)
    result = run("test_fuzz_configs", read_config if isinstance(mutated, dict) else config_kind, mutated)
    if isinstance(result, tuple):
        kind, value = result
        assert kind in ("model", "data", "learning", "param") and isinstance(value, dict)
    data = mutate_bytes(dump(mutated, style), byte_ops)
    run("test_fuzz_configs", _config_from_bytes, data)


@fuzz("test_fuzz_export_dir")
@given(st.sampled_from(EXPORT_CONFIGS), st.lists(json_op, max_size=3), st.lists(byte_op, max_size=3),
       st.integers(0, 3), st.sampled_from(NPY_FILES), st.lists(byte_op, max_size=3))
def test_fuzz_export_dir(path, ops, byte_ops, style, npy, npy_ops):
    data = mutate_bytes(dump(mutate_json(DOCS[path], ops), style), byte_ops)
    raw = run("test_fuzz_export_dir", parse_export_config, data)
    if raw is not None:
        raw.weights = None
        _check_raw(raw, "export_dir")
    result = run("test_fuzz_export_dir", read_weights_npy, mutate_bytes(BYTES[npy], npy_ops))
    if result is not None:
        weights, dtype = result
        assert weights.dtype == np.float64 and weights.ndim == 1 and dtype in ("float32", "float64")


@fuzz("test_fuzz_sniff")
@given(st.sampled_from(range(len(SNIFF_CORPUS))), st.lists(byte_op, max_size=4), st.integers(0, 1 << 31),
       st.booleans())
def test_fuzz_sniff(index, ops, extra, truncated):
    data = mutate_bytes(SNIFF_CORPUS[index], ops)
    size = len(data) + (extra if truncated else 0)
    fmt = run("test_fuzz_sniff", lambda d: sniff_bytes(d, size=size), data)
    assert fmt is None or fmt in FORMATS + ("export_config",)


@fuzz("test_fuzz_random_inputs")
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
                 json_values.map(lambda v: dump(v, 0)),
                 st.builds(lambda a, c, w: dump({"version": "0.5.2", "architecture": a, "config": c, "weights": w}, 0),
                           st.sampled_from(["CatLSTM", "CatWaveNet", "HyperConvNet", "X"]), json_values, json_values)))
def test_fuzz_random_inputs(data):
    test = "test_fuzz_random_inputs"
    raw = run(test, read_nam, data)
    if raw is not None:
        _check_raw(raw, "nam")
    raw = run(test, read_cpp_header, data)
    if raw is not None:
        _check_raw(raw, "cpp_header")
    run(test, parse_export_config, data)
    run(test, read_weights_npy, data)
    run(test, _config_from_bytes, data)
    if data:
        fmt = run(test, sniff_bytes, data)
        assert fmt is None or fmt in FORMATS + ("export_config",)


# --- layout-preserving mutations: the streamed readers must give the very same model -------------


@contextmanager
def chunk_size(chars: int):
    """Read text in chunks of `chars` characters (token boundaries fall anywhere)."""
    saved = text_stream.CHUNK_CHARS
    text_stream.CHUNK_CHARS = chars
    try:
        yield
    finally:
        text_stream.CHUNK_CHARS = saved


def _header_boundaries(text: str):
    """(token boundaries outside directives, strings and the raw string; digit-digit
    positions inside PARAMS) of a genuine header."""
    boundaries, inside_numbers = [], []
    line_start, in_raw, in_string = True, False, False
    params = text.index("std::vector<float> PARAMS{")
    in_directive = False
    for i, char in enumerate(text):
        if line_start:
            in_directive = char == "#" or text.startswith("//", i)  # (and comment lines)
        line_start = char == "\n"
        if in_raw:
            in_raw = text[i - 1:i + 1] != ')"'
            continue
        if text.startswith('R"(', i):
            in_raw = True
            continue
        if char == '"' and not in_directive:
            in_string = not in_string
            continue
        if in_string or in_directive:
            continue
        if char in ",;{}()= " and i + 1 < len(text):
            boundaries.append(i + 1)
        if i > params and char.isdigit() and text[i + 1:i + 2].isdigit():
            inside_numbers.append(i + 1)
    return boundaries, inside_numbers


HEADER_BOUNDARIES = {p: _header_boundaries(BYTES[p].decode()) for p in HEADERS}
BETWEEN_TOKENS = [" ", "\t", "\n", "\r\n", "\f", "/* c */", "/*\n * block\n */", "// line\n", "\\\n", "\\\r\n",
                  "\n\n\n", "/**/", "//\\\n continued\n"]
layout_op = st.tuples(st.integers(0, 1 << 20), st.sampled_from(BETWEEN_TOKENS), st.booleans())


def _same_model(a: RawModel, b: RawModel) -> None:
    assert (a.architecture, a.net_config, a.param_config, a.file_version, str(a.releases), a.warnings) == \
        (b.architecture, b.net_config, b.param_config, b.file_version, str(b.releases), b.warnings)
    assert list((a.param_config or {}).items()) == list((b.param_config or {}).items())
    assert np.array_equal(a.weights.view(np.uint32), b.weights.view(np.uint32))


@fuzz("test_fuzz_header_layout")
@given(st.sampled_from(HEADERS), st.lists(layout_op, max_size=12), st.sampled_from([5, 64, 4096, 1 << 20]))
def test_fuzz_header_layout(path, ops, chunk):
    """Whitespace, comments and line splices between tokens (splices also inside the
    weights), CRLF, any chunking: a compiler sees the same program, so do we."""
    text = BYTES[path].decode()
    boundaries, inside = HEADER_BOUNDARIES[path]
    edits = []
    for position, insert, in_number in ops:
        if in_number:
            edits.append((inside[position % len(inside)], "\\\n"))
        else:
            edits.append((boundaries[position % len(boundaries)], insert))
    for position, insert in sorted(edits, reverse=True):
        text = text[:position] + insert + text[position:]
    with chunk_size(chunk):
        raw = run("test_fuzz_header_layout", read_cpp_header, text.encode())
    assert raw is not None, text[:300]
    _same_model(raw, read_cpp_header(BYTES[path]))


whitespace = st.text(alphabet=" \t\r\n", max_size=6)


@fuzz("test_fuzz_nam_layout")
@given(st.sampled_from(NAM_FILES), whitespace, whitespace, st.one_of(st.none(), st.integers(0, 6)),
       st.sampled_from([3, 64, 4096, 1 << 20]), st.permutations(range(6)))
def test_fuzz_nam_layout(path, after_comma, after_colon, indent, chunk, order):
    """Any JSON whitespace, key order and chunking: the weights are the json module's."""
    doc = DOCS[path]
    keys = list(doc)
    doc = {keys[i]: doc[keys[i]] for i in order if i < len(keys)}
    data = json.dumps(doc, indent=indent, separators=("," + after_comma, ":" + after_colon)).encode()
    with chunk_size(chunk):
        raw = run("test_fuzz_nam_layout", read_nam, data)
    assert raw is not None
    want = np.array(json.loads(data)["weights"], dtype=np.float64).astype(np.float32)
    assert np.array_equal(raw.weights.view(np.uint32), want.view(np.uint32))


@fuzz("test_fuzz_streamed_mutations")
@given(st.sampled_from(NAM_FILES + HEADERS), st.lists(byte_op, min_size=1, max_size=4), st.sampled_from([1, 2, 7, 300]))
def test_fuzz_streamed_mutations(path, ops, chunk):
    """Damaged files read in tiny chunks: every boundary case of the streaming code meets
    a damaged token; the outcome must be what reading in one piece gives."""
    data = mutate_bytes(BYTES[path], ops)
    reader = read_nam if path.suffix == ".nam" else read_cpp_header
    whole = _outcome(reader, data)
    with chunk_size(chunk):
        piecewise = _outcome(reader, data)
    CALLS["test_fuzz_streamed_mutations"] += 1
    assert piecewise == whole


def _outcome(reader, data):
    try:
        raw = reader(data)
    except LegacyError as e:
        assert "\n" not in str(e)
        return type(e).__name__, str(e)
    return "ok", raw.architecture, json.dumps(raw.net_config), raw.weights.tobytes(), tuple(raw.warnings)


def test_total_examples(capsys):
    """≥ 10,000 generated inputs in all (each example calls one or more parsers)."""
    planned = sum(EXAMPLES.values())
    assert planned >= MIN_TOTAL
    ran = [name for name in EXAMPLES if CALLS[name]]
    with capsys.disabled():
        print(f"\nfuzz: {planned} examples planned, {sum(CALLS.values())} parser calls, "
              f"{sum(SECONDS.values()):.1f} s inside parsers; per test: "
              + ", ".join(f"{n[10:]}={CALLS[n]}" for n in EXAMPLES))
    if len(ran) < len(EXAMPLES):
        pytest.skip("not every fuzz test ran in this session")
    # each example makes at least one parser call (hypothesis may stop early only when a
    # strategy is exhausted, which none of these is)
    assert sum(min(CALLS[n], EXAMPLES[n]) for n in EXAMPLES) >= MIN_TOTAL
