"""C++ headers (`export_cpp_header`) of CatLSTM (0.4.0+), CatWaveNet (0.4.0+) and HyperConvNet.

The exporters wrote three fixed layouts (upstream-facts §3.3):

    #pragma once
    // Automatically-generated model file
    #include <vector>                         | // HyperConvNet model
    #include "json.hpp"                       | #include <vector>
    #include "lstm.h"   | #include "wavenet.h" | #define PYTHON_MODEL_VERSION "0.7.4"
    #define PYTHON_MODEL_VERSION "0.5.2"       | const int HYPER_NET_INPUT_DIM = 3;  (… NUM_LAYERS,
    const int NUM_LAYERS = 2;  | LAYER_ARRAY_PARAMS{ … };   NUM_UNITS, BATCHNORM, CHANNELS,
    const int INPUT_SIZE = 4;  | const float HEAD_SCALE = x; BATCHNORM, DILATIONS{1,2,4},
    const int HIDDEN_SIZE = 8; | const bool WITH_HEAD = false; ACTIVATION)
    nlohmann::json PARAMETRIC = nlohmann::json::parse(R"( … )");
    std::vector<float> PARAMS{0.1234567890123456f, …};  | PARAMS{0.1234567890123456,…};

Users paste these into plugin source trees and reformat them (clang-format reflows the
arrays, sorts the includes, writes `PARAMETRIC{}`), so the header is read as C++ tokens
(compat/formats/cpp_tokens.py), not lines: any whitespace, line breaks, comments, include
order, `{…}` / `= {…}` / `(…)` initialisers, trailing commas in braced lists, the
qualifiers const/static/constexpr/inline, enclosing namespaces, and every decimal
spelling of a number a compiler takes are accepted. What is required is the content:
`#define PYTHON_MODEL_VERSION "…"` and the declarations of one of the three layouts, each
once, with the exporter's types. Other directives, unknown declarations and
non-decimal literals are refused with a `CorruptFileError` naming the line.

The PARAMETRIC body is the param config printed with Python's `str()` for non-strings
(`True`/`False`/`None`, `0.5`, `inf`) and unescaped double quotes around strings: it is
parsed by the small tokenizer below (two fixed levels, scalars only), never evaluated.
Weights (`%.16f` text) are parsed as float64 (exactly Python's `float()`), then rounded
to float32 (what the releases held; values below ~1e-9 may differ in their last bits,
since 16 decimals cannot hold them), streamed into one float32 array preallocated to the
count the declared model needs.

The version string is the .nam/export version of the model: "0.4.0" (0.4.0), "0.5.0",
"0.5.1" (0.5.1..0.6.0), "0.5.2" (0.7.0..ae86979); HyperConvNet headers carry the
package version (the exact release; "0.7.4" also covers ae86979). Reformatting keeps all
of that; whether PARAMS is still spelled as the exporter printed it is noted in the
evidence.
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import numpy as np

from nam_legacy.releases import RELEASES

from ..detect import ReleaseRange
from ..errors import CorruptFileError, LegacyError, UnknownFormatError, UnsafeFileError
from . import RawModel
from .configs import (
    MAX_DILATIONS,
    MAX_FILE_BYTES,
    MAX_LAYERS,
    MAX_TEXT_WEIGHTS,
    check_knob_count,
    expected_weight_count,
    show,
    validate_net_config,
    validate_param_config,
)
from .cpp_tokens import Lexer, Token
from .nam_file import check_count, header_version_releases, named, package_version_releases, span
from .number_text import ListStats, NumberSink, read_number_list
from .text_stream import Cursor, TextSource

__all__ = ["parse_cpp_header", "parse_parametric_block", "read_cpp_header"]

Source = Union[str, os.PathLike, bytes, bytearray, memoryview]


def read_cpp_header(source: Source) -> RawModel:
    """Read a model header (a path, its bytes, or its text) into a `RawModel`.

    A `str` is taken as the header text when it holds a line break or starts with "#",
    as a path otherwise. Errors are `LegacyError` subclasses with one-line messages.
    """
    text = TextSource(source, "the header", MAX_FILE_BYTES)
    try:
        return _Reader(Lexer(Cursor(text.chunks()))).read()
    except LegacyError as e:
        raise named(e, text.name) from None


def parse_cpp_header(text: str) -> RawModel:
    """The `RawModel` of a header's text."""
    source = TextSource(text, "the header", MAX_FILE_BYTES, text=text)
    return _Reader(Lexer(Cursor(source.chunks()))).read()


# --- what each layout declares ----------------------------------------------------------------

_QUALIFIERS = ("const", "static", "constexpr", "inline")
_INT, _BOOL, _FLOAT, _STRING = "int", "bool", "float", "std::string"
_JSON, _FLOATS, _INTS, _LAYERS = "nlohmann::json", "std::vector<float>", "std::vector<int>", \
    "std::vector<wavenet::LayerArrayParams>"

# name → (type the exporter wrote, what its value is)
_DECLARATIONS: Dict[str, Tuple[str, str]] = {
    "NUM_LAYERS": (_INT, "int"), "INPUT_SIZE": (_INT, "int"), "HIDDEN_SIZE": (_INT, "int"),
    "LAYER_ARRAY_PARAMS": (_LAYERS, "layers"), "HEAD_SCALE": (_FLOAT, "float"), "WITH_HEAD": (_BOOL, "bool"),
    "PARAMETRIC": (_JSON, "parametric"), "PARAMS": (_FLOATS, "weights"),
    "HYPER_NET_INPUT_DIM": (_INT, "int"), "HYPER_NET_NUM_LAYERS": (_INT, "int"),
    "HYPER_NET_NUM_UNITS": (_INT, "int"), "HYPER_NET_BATCHNORM": (_INT, "bool"), "CHANNELS": (_INT, "int"),
    "BATCHNORM": (_BOOL, "bool"), "DILATIONS": (_INTS, "ints"), "ACTIVATION": (_STRING, "string"),
}
_LAYOUTS: Dict[str, Tuple[str, ...]] = {
    "CatLSTM": ("NUM_LAYERS", "INPUT_SIZE", "HIDDEN_SIZE", "PARAMETRIC", "PARAMS"),
    "CatWaveNet": ("LAYER_ARRAY_PARAMS", "HEAD_SCALE", "WITH_HEAD", "PARAMETRIC", "PARAMS"),
    "HyperConvNet": ("HYPER_NET_INPUT_DIM", "HYPER_NET_NUM_LAYERS", "HYPER_NET_NUM_UNITS", "HYPER_NET_BATCHNORM",
                     "CHANNELS", "BATCHNORM", "DILATIONS", "ACTIVATION", "PARAMS"),
}
_INCLUDES = {"lstm.h": "CatLSTM", "wavenet.h": "CatWaveNet"}

_INT_LITERAL = re.compile(
    r"(0[xX][0-9a-fA-F']+|0[bB][01']+|0[0-7']*|[1-9][0-9']*)(?:[uU](?:ll|LL|l|L|z|Z)?|(?:ll|LL|l|L|z|Z)[uU]?)?"
)
_FLOAT_LITERAL = re.compile(r"((?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+)[fFlL]?")


class _Reader:
    """The recogniser: directives and declarations, in any order, from the token stream."""

    def __init__(self, lexer: Lexer):
        self.lex = lexer
        self.version: Optional[str] = None
        self.includes: List[Tuple[str, int]] = []
        self.values: Dict[str, Any] = {}
        self.lines: Dict[str, int] = {}
        self.weights: Optional[NumberSink] = None
        self.stats: Optional[ListStats] = None
        self.parametric_line = 0
        self.warnings: List[str] = []

    # --- tokens --------------------------------------------------------------------------------

    def next(self) -> Token:
        return self.lex.next()

    def fail(self, token: Token, expected: str) -> CorruptFileError:
        return CorruptFileError(f"line {token.line}: expected {expected}, found {token.show()}")

    def expect(self, text: str, token: Optional[Token] = None) -> Token:
        token = token or self.next()
        if token.text != text or token.kind not in ("punct", "id"):
            raise self.fail(token, repr(text))
        return token

    # --- the file ------------------------------------------------------------------------------

    def read(self) -> RawModel:
        token = self.next()
        if token.kind == "eof":
            raise CorruptFileError("the header is empty")
        namespaces = 0
        while token.kind != "eof":
            if token.kind == "pp":
                self.directive(token)
            elif token.text == ";":
                pass  # an empty declaration
            elif token.kind == "id" and token.text == "namespace":
                name = self.next()
                if name.kind == "id":
                    name = self.next()
                self.expect("{", name)
                namespaces += 1
            elif token.text == "}" and namespaces:
                namespaces -= 1
            else:
                self.declaration(token)
            token = self.next()
        if namespaces:
            raise CorruptFileError(f"line {token.line}: a namespace is not closed")
        return self.finish()

    def directive(self, hash_token: Token) -> None:
        self.lex.in_directive = True
        try:
            name = self.next()
            if name.kind == "eol":
                return  # the null directive
            if name.kind != "id":
                raise self.fail(name, "a directive name")
            if name.text == "pragma":
                what = self.next()
                if what.text != "once":
                    raise CorruptFileError(f"line {name.line}: #pragma {what.show()} is not part of a model header")
                self._end_directive()
            elif name.text == "include":
                self.includes.append((self._include_name(), name.line))
            elif name.text == "define":
                macro = self.next()
                if macro.text != "PYTHON_MODEL_VERSION":
                    raise CorruptFileError(f"line {name.line}: #define {macro.show()} is not part of a model header "
                                           "(only PYTHON_MODEL_VERSION)")
                value = self.next()
                if value.kind != "str" or value.raw or value.suffix:
                    raise self.fail(value, 'a version string ("0.5.2")')
                if self.version is not None:
                    raise CorruptFileError(f"line {name.line}: PYTHON_MODEL_VERSION is defined twice")
                self.version = value.text
                self._end_directive()
            else:
                raise CorruptFileError(f"line {name.line}: #{name.text} is not supported in a model header "
                                       "(only #pragma once, #include and #define PYTHON_MODEL_VERSION)")
        finally:
            self.lex.in_directive = False

    def _end_directive(self) -> None:
        token = self.next()
        if token.kind != "eol":
            raise self.fail(token, "the end of the directive")

    def _include_name(self) -> str:
        token = self.next()
        if token.kind == "str":
            self._end_directive()
            return token.text
        if token.text != "<":
            raise self.fail(token, "a header name")
        parts = []
        while True:
            token = self.next()
            if token.text == ">" or token.kind == "eol":
                break
            parts.append(token.text)
        if token.kind == "eol":
            raise self.fail(token, "'>'")
        self._end_directive()
        return "".join(parts)

    # --- declarations --------------------------------------------------------------------------

    def declaration(self, token: Token) -> None:
        while token.kind == "id" and token.text in _QUALIFIERS:
            token = self.next()
        start = token
        kind, token = self.type_name(token)
        while token.kind == "id" and token.text in _QUALIFIERS:  # `int const N`
            token = self.next()
        if token.kind != "id":
            raise self.fail(token, "a declaration's name")
        name = token.text
        if name not in _DECLARATIONS:
            raise CorruptFileError(f"line {token.line}: {show(name, 40)} is not declared by any model header exporter")
        want, value_kind = _DECLARATIONS[name]
        if kind != want:
            raise CorruptFileError(f"line {start.line}: {name} is declared as {kind}; the exporters wrote {want}")
        if name in self.values:
            raise CorruptFileError(f"line {token.line}: {name} is declared twice (first on line {self.lines[name]})")
        self.lines[name] = token.line
        self.values[name] = getattr(self, "_" + value_kind)(name, token.line)

    def type_name(self, token: Token) -> Tuple[str, Token]:
        if token.kind != "id":
            raise self.fail(token, "a declaration")
        if token.text in ("int", "bool", "float"):
            return token.text, self.next()
        if token.text == "nlohmann":
            self.expect("::")
            self.expect("json")
            return _JSON, self.next()
        if token.text != "std":
            raise CorruptFileError(f"line {token.line}: {show(token.text, 40)} is not a type the model headers use")
        self.expect("::")
        what = self.next()
        if what.text == "string":
            return _STRING, self.next()
        self.expect("vector", what)
        self.expect("<")
        element = self.next()
        if element.text == "wavenet":
            self.expect("::")
            self.expect("LayerArrayParams")
            inner = "wavenet::LayerArrayParams"
        elif element.text in ("float", "int"):
            inner = element.text
        else:
            raise self.fail(element, "float, int or wavenet::LayerArrayParams")
        self.expect(">")
        return f"std::vector<{inner}>", self.next()

    def _open(self, name: str) -> Tuple[Optional[str], Token]:
        """The start of an initialiser: (closer, first token inside) for `{…}`, `= {…}`,
        `(…)`; (None, the value's first token) for `= value`."""
        token = self.next()
        if token.text == "=":
            token = self.next()
            if token.text == "{":
                return "}", self.next()
            return None, token
        if token.text in ("{", "("):
            return ("}" if token.text == "{" else ")"), self.next()
        raise self.fail(token, f"a value for {name} ('=', '{{' or '(')")

    def _close(self, closer: Optional[str], token: Token) -> None:
        if closer == "}" and token.text == ",":
            token = self.next()
        if closer is not None:
            self.expect(closer, token)
            token = self.next()
        self.expect(";", token)

    def _signed(self, token: Token, parse: Callable[[Token, bool], Any], what: str) -> Any:
        """A value from `token` on, after any signs ('-', '+'); `parse(token, negative)`
        gives it, or None for a token that is not `what`."""
        negative = False
        while token.text in ("-", "+") and token.kind == "punct":
            negative ^= token.text == "-"
            token = self.next()
        value = parse(token, negative)
        if value is None:
            raise self.fail(token, what)
        return value

    def _after_item(self, what: str) -> Token:
        """The token after a list item: the next item's first (past a ','), or the '}'."""
        token = self.next()
        if token.text == ",":
            return self.next()
        if token.text != "}":
            raise self.fail(token, what)
        return token

    def _scalar(self, name: str, parse: Callable[[Token, bool], Any], what: str) -> Any:
        closer, token = self._open(name)
        value = self._signed(token, parse, f"{what} for {name}")
        self._close(closer, self.next())
        return value

    def _int(self, name: str, line: int) -> int:
        return self._scalar(name, _int_value, "an integer")

    def _bool(self, name: str, line: int) -> bool:
        return self._scalar(name, _bool_value, "true or false")

    def _float(self, name: str, line: int) -> Union[int, float]:
        return self._scalar(name, _float_value, "a number")

    def _string(self, name: str, line: int) -> str:
        return self._scalar(name, lambda t, neg: t.text if t.kind == "str" and not neg and not t.suffix else None,
                            "a string")

    def _ints(self, name: str, line: int) -> List[int]:
        closer, token = self._open(name)
        if closer == "(":
            raise self.fail(token, f"a braced list for {name}")
        if closer is None:
            raise self.fail(token, f"'{{' for {name}")
        values = self._int_list(token, name)
        self.expect(";")
        return values

    def _int_list(self, token: Token, what: str) -> List[int]:
        """Integers up to a "}" (consumed); `token` is the first after "{"."""
        values: List[int] = []
        while token.text != "}":
            values.append(self._signed(token, _int_value, f"an integer in {what}"))
            if len(values) > MAX_DILATIONS:
                raise CorruptFileError(f"line {token.line}: more than {MAX_DILATIONS} values in {what}")
            token = self._after_item("',' or '}'")
        return values

    def _layers(self, name: str, line: int) -> List[Dict[str, Any]]:
        closer, token = self._open(name)
        if closer != "}":
            raise self.fail(token, f"a braced list for {name}")
        layers: List[Dict[str, Any]] = []
        while token.text != "}":
            layers.append(self._layer_array(token))
            if len(layers) > MAX_LAYERS:
                raise CorruptFileError(f"line {token.line}: more than {MAX_LAYERS} layer arrays")
            token = self._after_item("',' or '}' after a layer array")
        self.expect(";")
        return layers

    def _layer_array(self, token: Token) -> Dict[str, Any]:
        if token.text == "wavenet":
            self.expect("::")
            self.expect("LayerArrayParams")
            token = self.next()
        if token.text not in ("(", "{"):
            raise self.fail(token, "wavenet::LayerArrayParams(...)")
        closer = ")" if token.text == "(" else "}"
        keys = ("input_size", "condition_size", "head_size", "channels", "kernel_size")
        layer: Dict[str, Any] = {}
        for key in keys:
            layer[key] = self._argument(_int_value, "an integer", key)
        token = self.next()
        if token.text == "std":
            self.expect("::")
            self.expect("vector")
            self.expect("<")
            self.expect("int")
            self.expect(">")
            token = self.next()
        self.expect("{", token)
        layer["dilations"] = self._int_list(self.next(), "dilations")
        self.expect(",")
        activation = self.next()
        if activation.kind != "str" or activation.suffix:
            raise self.fail(activation, "the activation's name")
        layer["activation"] = activation.text
        self.expect(",")
        layer["gated"] = self._argument(_bool_value, "true or false", "gated")
        layer["head_bias"] = self._argument(_bool_value, "true or false", "head_bias", last=True)
        token = self.next()
        if closer == "}" and token.text == ",":
            token = self.next()
        self.expect(closer, token)
        return layer

    def _argument(self, parse, what: str, key: str, last: bool = False) -> Any:
        value = self._signed(self.next(), parse, f"{what} ({key})")
        if not last:
            self.expect(",")
        return value

    def _parametric(self, name: str, line: int) -> Dict[str, Dict[str, Any]]:
        token = self.next()
        plain = token.text == ";"
        if token.text == "=":
            token = self.next()
            if token.text == "{":
                self.expect("}")
                self.expect(";")
                plain = True
        elif token.text == "{":  # `json x{…}` would build an array; only `{}` (null) was ever written
            self.expect("}")
            self.expect(";")
            plain = True
        if plain:
            family = self._family_so_far()
            kind = {"CatLSTM": "a plain LSTM header", "CatWaveNet": "a plain WaveNet header"}.get(family, "a header")
            raise UnknownFormatError(f"not a parametric model: {kind} (PARAMETRIC {{}}) — use current NAM for it")
        closer = None
        if token.text == "(":
            closer = ")"
            token = self.next()
        if token.kind == "str":
            if token.suffix != "_json":
                raise self.fail(token, "nlohmann::json::parse(...) or a _json literal")
            body = token
        else:
            self.expect("nlohmann", token)
            for part in ("::", "json", "::", "parse", "("):
                self.expect(part)
            body = self.next()
            if body.kind != "str" or body.suffix:
                raise self.fail(body, "the PARAMETRIC text (a string literal)")
            self.expect(")")
        if closer:
            self.expect(closer)
        self.expect(";")
        self.parametric_line = line
        return parse_parametric_block(body.text, body.line)

    def _weights(self, name: str, line: int) -> NumberSink:
        token = self.next()  # `{`, `= {` or `({`; the list itself is not tokenised
        closer = None
        if token.text == "=":
            token = self.next()
        elif token.text == "(":
            closer = ")"
            token = self.next()
        self.expect("{", token)
        sink = self._sink(line)
        self.stats = read_number_list(self.lex.number_list(), sink, "cpp", _weight_error(line), trailing_comma=True)
        if closer:
            self.expect(closer)
        self.expect(";")
        self.weights = sink
        return sink

    def _sink(self, line: int) -> NumberSink:
        """Preallocated to the declared model's count when everything it depends on was
        declared before PARAMS (as the exporters wrote it); validated now, so a bad
        config is reported before any weight is read."""
        family = self._family_so_far()
        if family is None or not all(n in self.values for n in _LAYOUTS[family] if n != "PARAMS"):
            return NumberSink("PARAMS", MAX_TEXT_WEIGHTS)
        architecture, net_config = self._configs(family, [])
        expected = expected_weight_count(architecture, net_config)
        needs = f"this {architecture} header needs {expected}"
        if expected > MAX_TEXT_WEIGHTS:
            raise UnsafeFileError(f"line {line}: PARAMS: {needs}, above the limit of {MAX_TEXT_WEIGHTS} "
                                  "for weights written as text")
        return NumberSink("PARAMS", MAX_TEXT_WEIGHTS, expected, needs)

    # --- which layout, and the model ------------------------------------------------------------

    def _family_so_far(self) -> Optional[str]:
        names = set(self.values)
        fitting = [f for f, layout in _LAYOUTS.items() if names <= set(layout)]
        included = {_INCLUDES[n] for n, _ in self.includes if n in _INCLUDES}
        if len(fitting) > 1 and len(included) == 1:
            fitting = [f for f in fitting if f in included]
        return fitting[0] if len(fitting) == 1 else None

    def _family(self) -> str:
        names = set(self.values)
        fitting = [f for f, layout in _LAYOUTS.items() if names <= set(layout)]
        if not fitting:
            listed = ", ".join(sorted(names))
            raise CorruptFileError(f"the header declares {show(listed, 120)}, which no exporter wrote together")
        family = self._family_so_far() or fitting[0]
        missing = [n for n in _LAYOUTS[family] if n not in self.values]
        if missing:
            raise CorruptFileError(f"no {missing[0]} declaration (a {family} header declares "
                                   f"{', '.join(_LAYOUTS[family])})")
        for include, line in self.includes:
            if include in _INCLUDES and _INCLUDES[include] != family:
                raise CorruptFileError(f'line {line}: #include "{include}" in a {family} header')
        return family

    def _configs(self, family: str, warnings: List[str]) -> Tuple[str, Dict[str, Any]]:
        v = self.values
        if family == "CatLSTM":
            net_config = {"input_size": v["INPUT_SIZE"], "hidden_size": v["HIDDEN_SIZE"], "num_layers": v["NUM_LAYERS"]}
            aliases = None
        elif family == "CatWaveNet":
            if v["WITH_HEAD"]:
                raise CorruptFileError(f"line {self.lines['WITH_HEAD']}: WITH_HEAD = true, which no release wrote "
                                       "(heads were not exportable)")
            net_config = {"layers_configs": v["LAYER_ARRAY_PARAMS"], "head_config": None, "head_scale": v["HEAD_SCALE"]}
            aliases = {"layers_configs": "LAYER_ARRAY_PARAMS", "head_scale": "HEAD_SCALE"}
        else:
            net_config = {
                "hyper_net": {"num_inputs": v["HYPER_NET_INPUT_DIM"], "num_layers": v["HYPER_NET_NUM_LAYERS"],
                              "num_units": v["HYPER_NET_NUM_UNITS"], "batchnorm": v["HYPER_NET_BATCHNORM"]},
                "net": {"channels": v["CHANNELS"], "dilations": v["DILATIONS"], "batchnorm": v["BATCHNORM"],
                        "activation": v["ACTIVATION"]},
            }
            return family, validate_net_config(family, net_config, "header", warnings)
        knobs = validate_param_config(v["PARAMETRIC"], "PARAMETRIC", warnings)
        net_config = validate_net_config(family, net_config, "header" if aliases is None else "", warnings, aliases)
        check_knob_count(family, net_config, len(knobs), "header")
        return family, net_config

    def finish(self) -> RawModel:
        if self.version is None:
            raise CorruptFileError("no #define PYTHON_MODEL_VERSION (every exporter wrote one)")
        family = self._family()
        warnings = self.warnings
        architecture, net_config = self._configs(family, warnings)
        check_count(architecture, net_config, self.weights.count, "PARAMS")
        weights = self.weights.result()
        version = self.version
        evidence: List[str] = []
        if architecture == "HyperConvNet":
            known = package_version_releases(version)
            if known is not None:
                first, last = known
                evidence.append(f'PYTHON_MODEL_VERSION "{version}" = package version ({span(known)})')
            else:
                first, last = RELEASES[0], RELEASES[-1]
                warnings.append(f"PYTHON_MODEL_VERSION: unknown version {show(version, 30)}; assuming {span((first, last))}")
        else:
            known = header_version_releases(version)
            writers = [r for r in RELEASES if r.lstm_cpp_header and (architecture != "CatWaveNet" or r.has_catwavenet)]
            if known is not None:
                first, last = known
                evidence.append(f'PYTHON_MODEL_VERSION "{version}" ({span(known)})')
            else:
                first, last = writers[0], writers[-1]
                why = "0.3.0 could not write this header" if version == "0.3.0" else f"unknown version {show(version, 30)}"
                warnings.append(f"PYTHON_MODEL_VERSION: {why}; assuming {span((first, last))}")
            if architecture == "CatWaveNet" and first.metadata_in_export:
                evidence.append("CatWaveNet header export crashed in 0.5.1+ unless patched (upstream bug)")
        evidence.append(_layout_note(architecture, self.stats))
        tiny = int(np.count_nonzero((weights != 0) & (np.abs(weights) < 1e-9)))
        if tiny:
            warnings.append(f"{tiny} weight(s) below 1e-9 may differ in their last bits (the header prints 16 decimals)")
        return RawModel(
            format="cpp_header",
            architecture=architecture,
            net_config=net_config,
            releases=ReleaseRange(first, last, tuple(evidence)),
            weights=weights,
            param_config=self.values.get("PARAMETRIC"),
            file_version=version,
            warnings=warnings,
        )


def _layout_note(architecture: str, stats: ListStats) -> str:
    """Whether PARAMS is still spelled as the exporter printed it (`%.16f`, with "f" and
    ", " joins for Cat*, bare and "," for HyperConvNet, all on one line)."""
    cat = architecture != "HyperConvNet"
    as_written = stats.newlines == 0 and (
        (stats.suffixes == stats.count and stats.spaced_commas == stats.commas) if cat
        else (stats.suffixes == 0 and stats.spaced_commas == 0)
    )
    if as_written:
        return "PARAMS spelled as the exporter printed it"
    return "PARAMS reformatted since export (line breaks, suffixes or spacing differ); the values are unchanged"


def _weight_error(line: int) -> Callable[[int, str], LegacyError]:
    def make(index: int, what: str) -> LegacyError:
        return CorruptFileError(f"line {line}: weight {index} of PARAMS is {what}, not a number")
    return make


# --- literals ------------------------------------------------------------------------------------


def _int_value(token: Token, negative: bool) -> Optional[int]:
    """A C++ integer literal (decimal, 0x hex, 0b binary, 0 octal, ' separators, suffixes)."""
    if token.kind != "num":
        return None
    m = _INT_LITERAL.fullmatch(token.text)
    if m is None:
        return None
    digits = m.group(1).replace("'", "")
    if len(digits) > 24:
        return None
    prefix = digits[:2].lower()
    try:
        if prefix in ("0x", "0b"):
            value = int(digits[2:], 16 if prefix == "0x" else 2)
        else:
            value = int(digits, 8 if digits.startswith("0") else 10)
    except ValueError:
        return None
    return -value if negative else value


def _bool_value(token: Token, negative: bool) -> Optional[bool]:
    if token.kind == "id" and token.text in ("true", "false") and not negative:
        return token.text == "true"
    value = _int_value(token, negative)
    return bool(value) if value in (0, 1) else None


def _float_value(token: Token, negative: bool) -> Optional[Union[int, float]]:
    """A float literal as Python reads its digits (the exporter printed str(value): an
    integral value printed without a point stays an int, as today's configs hold it)."""
    if token.kind == "id" and token.text in ("inf", "nan"):  # what str() printed for them
        value: Union[int, float] = float(token.text)
    elif token.kind == "num" and _FLOAT_LITERAL.fullmatch(token.text):
        value = float(_FLOAT_LITERAL.fullmatch(token.text).group(1))
    else:
        integer = _int_value(token, False)
        if integer is None:
            return None
        value = integer
    return -value if negative else value


# --- the PARAMETRIC body: {"name": {"key": value, ...}, ...} in Python's str() spelling ----------

_TOKEN = re.compile(
    r'\s*(?:(?P<punct>[{}:,])|"(?P<str>[^"\n]*)"|(?P<num>-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|-?inf|nan)'
    r"|(?P<name>True|False|None)|(?P<bad>\S))",
    re.ASCII,
)
_NAMES = {"True": True, "False": False, "None": None}


def _number(text: str, number: int) -> Union[int, float]:
    if re.fullmatch(r"-?[0-9]+", text):
        if len(text) > 4000:
            raise CorruptFileError(f"line {number}: number too long")
        return int(text)
    try:
        return float(text)
    except (ValueError, OverflowError):
        raise CorruptFileError(f"line {number}: {show(text, 30)} is not a number") from None


class _BodyTokens:
    """Tokens of a PARAMETRIC body, one at a time (with one of lookahead)."""

    def __init__(self, body: str, start_line: int):
        self.body = body
        self.pos = 0
        self.line = start_line
        self._line_pos = 0
        self.ahead = self._read()

    def _read(self) -> Optional[Tuple[int, str, str]]:
        m = _TOKEN.match(self.body, self.pos)
        if m is None:  # only whitespace left
            self.pos = len(self.body)
            return None
        self.line += self.body.count("\n", self._line_pos, m.start(m.lastgroup))
        self._line_pos = m.start(m.lastgroup)
        self.pos = m.end()
        kind = m.lastgroup
        if kind == "bad":
            start = m.start("bad")
            raise CorruptFileError(f"line {self.line}: unexpected {show(self.body[start:start + 20], 30)} "
                                   "in PARAMETRIC (only strings, numbers, True/False/None)")
        if kind == "num" and len(m.group("num")) > 400:
            raise CorruptFileError(f"line {self.line}: number too long in PARAMETRIC")
        return self.line, kind, m.group(kind)

    def take(self) -> Optional[Tuple[int, str, str]]:
        token = self.ahead
        if token is not None:
            self.ahead = self._read()
        return token


def parse_parametric_block(body: Union[str, List[Tuple[int, str]]], start_line: int = 0) -> Dict[str, Dict[str, Any]]:
    """The param config of a PARAMETRIC block's body: its text (whose first line is
    `start_line`), or a list of (line number, text) pairs."""
    if not isinstance(body, str):
        lines = list(body)
        start_line = lines[0][0] if lines else start_line
        body = "\n".join(text for _, text in lines)  # (line numbers are taken as consecutive)
    tokens = _BodyTokens(body, start_line)
    end_line = start_line + body.count("\n")

    def take(kind: str, value: Optional[str] = None) -> Tuple[int, str]:
        token = tokens.take()
        if token is None:
            raise CorruptFileError(f"line {end_line}: the PARAMETRIC block ends early")
        number, k, v = token
        if k != kind or (value is not None and v != value):
            want = repr(value) if value is not None else {"str": "a quoted name", "punct": "punctuation"}.get(kind, kind)
            raise CorruptFileError(f"line {number}: expected {want} in PARAMETRIC, found {show(v, 30)}")
        return number, v

    def at(kind: str, value: str) -> bool:
        return tokens.ahead is not None and tokens.ahead[1] == kind and tokens.ahead[2] == value

    def scalar() -> Any:
        token = tokens.take()
        if token is None:
            raise CorruptFileError(f"line {end_line}: the PARAMETRIC block ends early")
        number, kind, value = token
        if kind == "str":
            return value
        if kind == "name":
            return _NAMES[value]
        if kind == "num":
            return _number(value, number)
        raise CorruptFileError(f"line {number}: expected a value in PARAMETRIC, found {show(value, 30)}")

    def obj(inner: bool) -> Dict[str, Any]:
        take("punct", "{")
        out: Dict[str, Any] = {}
        if at("punct", "}"):
            take("punct", "}")
            return out
        while True:
            number, key = take("str")
            if key in out:
                raise CorruptFileError(f"line {number}: {show(key, 30)} appears twice in PARAMETRIC")
            take("punct", ":")
            out[key] = scalar() if inner else obj(True)
            if len(out) > 4096:
                raise CorruptFileError(f"line {number}: too many entries in PARAMETRIC")
            if at("punct", ","):
                take("punct", ",")
                continue
            take("punct", "}")
            return out

    config = obj(False)
    if tokens.ahead is not None:
        number, _, value = tokens.ahead
        raise CorruptFileError(f"line {number}: unexpected {show(value, 30)} after the PARAMETRIC object")
    return config
