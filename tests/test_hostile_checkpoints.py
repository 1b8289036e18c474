"""Hostile checkpoints through the CLI, under the resource harness (tests/hostile.py).

Issue 10's classes for checkpoints: (1) unpickler CPU/memory blow-ups, (2) contents used before they are
validated, (3) zip amplification, (5) FRAME lengths, storage dtypes, pre-1.6 files; plus issue 11 §4 (a config
of another size) and a fixed-seed sample of structure-aware mutants of genuine checkpoints. Every case is a file
an attacker could hand a user, run as `nam-legacy inspect FILE --config model.json --json`.

Promise (docs/checkpoint-safety.md): exit 2 with one printable line of at most 300 characters naming the file,
or exit 0 with a valid model; at most 1 GB of peak RSS above an idle CLI and 10 s of CPU, whatever the file
claims. A refusal must come from a check, not from running out of memory.

All cases run in one child process under the harness's address-space cap (`hostile.run_batch`: starting torch
once per case would take minutes); between cases the child resets its peak-RSS counter (/proc/self/clear_refs)
and stops any case after CPU_LIMIT seconds of CPU. The worst cases also run each in a fresh process
(`test_worst_cases_alone`).
Set HOSTILE_REPORT=path to keep the per-case figures as JSON.
"""

from __future__ import annotations

import collections
import json
import os
import pickle as P
import random
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional

import pytest
import torch

import craft
import hostile
from craft import (FIXTURES, ODICT, call, f, g, get, i, in_dict, in_list, memo_dag, pkl, put, sget, tensor, tup,
                   u)

CPU_LIMIT = hostile.CPU_BUDGET
BATCH_WALL = 900.0

LSTM_030 = FIXTURES / "0.3.0" / "catlstm"
LSTM_074 = FIXTURES / "0.7.4" / "catlstm"
WAVENET_074 = FIXTURES / "0.7.4" / "catwavenet"
HYPER_074 = FIXTURES / "0.7.4" / "hyperconvnet_bn"


@dataclass
class Case:
    name: str
    klass: str  # issue 10 class: "1", "2", "3", "5", "11.4" or "fuzz"
    build: Callable[[Path], Path]  # writes the file into a folder, returns its path
    config: Path  # model.json
    loads: bool = False  # exit 0 with a valid model, rather than a refusal
    needle: Optional[str] = None  # text the one-line message must hold
    args: tuple = ()
    make_config: Optional[Callable[[Path], Path]] = None  # writes the model.json to use instead of `config`


CASES: List[Case] = []


def case(name, klass, config, loads=False, needle=None, args=()):
    def register(build):
        path = config if config.suffix == ".json" else config / "model.json"
        CASES.append(Case(name, klass, build, path, loads, needle, tuple(args)))
        return build
    return register


# -- building blocks ----------------------------------------------------------------------------------------------

def _resave(folder: Path, name: str, fixture: Path, edit) -> Path:
    """A genuine checkpoint, loaded by torch, edited in Python and saved again by torch."""
    checkpoint = torch.load(fixture / "model.ckpt", weights_only=True)
    edit(checkpoint)
    path = folder / f"{name}.ckpt"
    torch.save(checkpoint, path)
    return path


def _inject(folder: Path, name: str, fixture: Path, payload: bytes, key: str = "evil",
            storages: Optional[Dict[str, bytes]] = None, compression=zipfile.ZIP_STORED, level: int = 9) -> Path:
    """`compression=ZIP_DEFLATED` deflates every entry at `level` (equal contents once: see craft.fast_zip)."""
    """A genuine checkpoint with one more top-level entry, `key: <payload opcodes>`, and extra storages."""
    prefix, found = craft.entries(fixture / "model.ckpt")
    data = found[f"{prefix}/data.pkl"]
    assert data.endswith(P.STOP)
    found[f"{prefix}/data.pkl"] = data[:-1] + u(key) + payload + P.SETITEM + P.STOP
    for storage_key, raw in (storages or {}).items():
        found[f"{prefix}/data/{storage_key}"] = raw
    if compression == zipfile.ZIP_DEFLATED:
        return craft.fast_zip(folder / f"{name}.ckpt", found, level=level)
    return craft.rezip(folder / f"{name}.ckpt", found)


def _edit_ops(folder: Path, name: str, fixture: Path, edit) -> Path:
    """A genuine checkpoint whose pickle, as an opcode list, was edited."""
    prefix, found = craft.entries(fixture / "model.ckpt")
    ops = craft.ops_of(found[f"{prefix}/data.pkl"])
    found[f"{prefix}/data.pkl"] = edit(ops)
    return craft.rezip(folder / f"{name}.ckpt", found)


def _patch(path: Path, offset: int, fmt: str, value: int) -> Path:
    data = bytearray(path.read_bytes())
    struct.pack_into(fmt, data, offset, value)
    path.write_bytes(bytes(data))
    return path


def _field(path: Path, label: str) -> tuple:
    """(offset, format) of the first zip header field whose label ends with `label` (see craft.zip_fields)."""
    return next((off, fmt) for name, off, fmt in craft.zip_fields(path.read_bytes()) if name.endswith(label))


def _sd(checkpoint) -> dict:
    return checkpoint["state_dict"]


# -- class 1: unpickler CPU and memory -----------------------------------------------------------------------------

DAG = memo_dag(64, slot=60_000)  # 2**64 leaves when hashed, printed or walked; 5 opcodes per level


for where, payload, needle in [
    ("dict key", P.EMPTY_DICT + DAG + i(1) + P.SETITEM, "a tuple of 2 items as a dict key"),
    ("dict keys batch", P.EMPTY_DICT + P.MARK + DAG + i(1) + P.SETITEMS, "as a dict key"),
    ("set element", P.EMPTY_SET + P.MARK + DAG + P.ADDITEMS, "as a set element"),
    ("frozenset element", P.MARK + DAG + P.FROZENSET, "as a set element"),
    ("persistent id", DAG + P.BINPERSID, "persistent id is a tuple of 2 items"),
    ("persistent id field", tup(u("storage"), g("torch", "FloatStorage"), DAG, u("cpu"), i(4)) + P.BINPERSID,
     "storage reference is malformed"),
    ("BUILD key", ODICT + P.EMPTY_DICT + DAG + i(1) + P.SETITEM + P.BUILD, "as a dict key"),
    ("BUILD value", ODICT + in_dict(u("_metadata"), DAG) + P.BUILD, "_metadata of an OrderedDict to a tuple"),
    ("tensor metadata", call(g("torch._utils", "_rebuild_tensor_v2"), sget("9000", 4), i(0), tup(i(4)), tup(i(1)),
                             P.NEWFALSE, ODICT, DAG), "tensor metadata (a tuple of 2 items)"),
    ("tensor metadata keys", call(g("torch._utils", "_rebuild_tensor_v2"), sget("9000", 4), i(0), tup(i(4)),
                                  tup(i(1)), P.NEWFALSE, ODICT, in_dict(u("neg" * 10_000), DAG)), "tensor metadata ('neg"),
    ("REDUCE arguments", call(g("collections", "OrderedDict"), DAG), "OrderedDict with 1 argument"),
    ("REDUCE callee", DAG + tup() + P.REDUCE, "pickle calls tuple"),
    ("STACK_GLOBAL", DAG + u("x") + P.STACK_GLOBAL, "STACK_GLOBAL needs two strings"),
    ("size tuple", call(g("torch._utils", "_rebuild_tensor_v2"), sget("9000", 4), i(0), DAG, tup(i(1)),
                        P.NEWFALSE, ODICT), "malformed offset"),
    ("backward hooks", call(g("torch._utils", "_rebuild_tensor_v2"), sget("9000", 4), i(0), tup(i(4)), tup(i(1)),
                            P.NEWFALSE, DAG), "backward hooks"),
    ("APPEND target", DAG + i(1) + P.APPEND, "adds items to a tuple of 2 items"),
]:
    case(f"tuple DAG as {where}", "1", LSTM_074, needle=needle)(
        lambda folder, payload=payload, where=where: _inject(folder, f"dag-{where.replace(' ', '_')}", LSTM_074,
                                                              payload, storages={"9000": bytes(16)}))

case("tuple DAG as a value loads", "1", LSTM_074, loads=True)(
    lambda folder: _inject(folder, "dag-value", LSTM_074, DAG))
case("list DAG (memo) as a value loads", "1", LSTM_074, loads=True)(
    lambda folder: _inject(folder, "listdag-value", LSTM_074, craft.list_dag(64, 60_001)))

_MERSENNE = 2**61 - 1  # CPython hashes int n as n mod 2**61-1: multiples of it all collide
for label, keys, needle in [
    ("colliding int keys (multiples of 2**61-1)", [k * _MERSENNE for k in range(1, 60_001)], "bits as a dict key"),
    ("negative int keys", [-k for k in range(1, 1000)], "an int of 1 bits as a dict key"),
    ("int keys past 2**16", [2**16 + k * 2**16 for k in range(1000)], "an int of 17 bits as a dict key"),
]:
    case(label, "1", LSTM_074, needle=needle)(
        lambda folder, keys=keys, label=label: _inject(folder, f"keys-{len(label)}", LSTM_074,
                                                        P.EMPTY_DICT + P.MARK + b"".join(i(k) + P.NONE for k in keys)
                                                        + P.SETITEMS))

case("65536 int keys sharing low bits load", "1", LSTM_074, loads=True)(
    lambda folder: _inject(folder, "keys-lowbits", LSTM_074, P.EMPTY_DICT + P.MARK + b"".join(
        i((k * 4096) % 65536 + k // 16) + P.NONE for k in range(65536)) + P.SETITEMS))
case("many int sets in range load", "1", LSTM_074, loads=True)(
    lambda folder: _inject(folder, "sets-lowbits", LSTM_074, P.EMPTY_SET + P.MARK + b"".join(
        i(k * 256 % 65536 + k // 256) for k in range(65536)) + P.ADDITEMS))

for label, key, needle in [
    ("bool key", P.NEWTRUE, "a bool (True) as a dict key"), ("float key", f(float("nan")), "a float as a dict key"),
    ("None key", P.NONE, "uses None as a dict key"), ("bytes key", P.SHORT_BINBYTES + b"\x01k", "a bytes of 1"),
    ("frozenset key", P.MARK + i(1) + P.FROZENSET, "a frozenset"), ("empty tuple key", P.EMPTY_TUPLE, "a tuple of 0"),
    ("huge int key", i(2**1000), "an int of 1001 bits as a dict key"),
]:
    case(f"{label} refused", "1", LSTM_074, needle=needle)(
        lambda folder, key=key, label=label: _inject(folder, f"key-{label.replace(' ', '_')}", LSTM_074,
                                                      P.EMPTY_DICT + key + i(1) + P.SETITEM))

_BIG = "k" * (1 << 20)
case("equal 1 MiB str keys compared over and over", "1", LSTM_074, needle="more work than its size allows")(
    lambda folder: _inject(folder, "strcmp", LSTM_074, u(_BIG) + put(60_000) + P.POP + u(_BIG) + put(60_001)
                           + P.POP + P.EMPTY_DICT + get(60_000) + P.NONE + P.SETITEM
                           + (get(60_001) + P.NONE + P.SETITEM) * 200_000))
case("equal 1 MiB str set elements", "1", LSTM_074, needle="more work than its size allows")(
    lambda folder: _inject(folder, "strset", LSTM_074, u(_BIG) + put(60_000) + P.POP + u(_BIG) + put(60_001)
                           + P.POP + P.EMPTY_SET + P.MARK + get(60_000) + get(60_001) * 100_000 + P.ADDITEMS))
case("16 MiB global name", "1", LSTM_074, needle="pickle refers to global")(
    lambda folder: _inject(folder, "longglobal", LSTM_074, g("os" * (8 << 20), "system")))
case("16 MiB STACK_GLOBAL strings", "1", LSTM_074, needle="pickle refers to global")(
    lambda folder: _inject(folder, "longstackglobal", LSTM_074, u("m" * (16 << 20) ) + u("n" * (16 << 20))
                           + P.STACK_GLOBAL))
case("control characters in a global name", "1", LSTM_074, needle="not allowed")(
    lambda folder: _inject(folder, "ctrlglobal", LSTM_074, g("os\x1b[2J\r", "sys\x00tem\x7f")))
case("a global name that is not ASCII", "1", LSTM_074, needle="malformed pickle")(
    lambda folder: _inject(folder, "utf8global", LSTM_074, g("os", "system\u2028")))
case("16 MiB BUILD attribute name", "1", LSTM_074, needle="sets attribute 'aaaa")(
    lambda folder: _inject(folder, "buildname", LSTM_074, ODICT + in_dict(u("a" * (16 << 20)), i(1)) + P.BUILD))
case("lone surrogates in strings load", "1", LSTM_074, loads=True)(
    lambda folder: _inject(folder, "surrogate", LSTM_074, in_dict(u("\ud800"), u("\udfff\x1b")), key="\ud800"))
case("invalid UTF-8 in a string", "1", LSTM_074, needle="malformed pickle")(
    lambda folder: _inject(folder, "badutf8", LSTM_074, P.BINUNICODE + struct.pack("<I", 2) + b"\xff\xfe"))
case("opcode flood", "1", LSTM_074, needle="more than 2000000 opcodes")(
    lambda folder: _inject(folder, "opflood", LSTM_074, (P.NONE + P.POP) * 1_100_000 + P.NONE))
case("memo flood of dicts", "1", LSTM_074, loads=True)(
    lambda folder: _inject(folder, "memoflood", LSTM_074, b"".join(
        P.EMPTY_DICT + put(k) + P.POP for k in range(2000, 600_000)) + P.NONE))
case("memo index past the limit", "1", LSTM_074, needle="memo index")(
    lambda folder: _inject(folder, "memoindex", LSTM_074, P.NONE + put(2**31)))
case("one-entry dicts flood", "1", LSTM_074, loads=True)(
    lambda folder: _inject(folder, "dictflood", LSTM_074, P.EMPTY_LIST + P.MARK + (
        P.EMPTY_DICT + i(7) + P.NONE + P.SETITEM) * 450_000 + P.APPENDS))
case("tuple flood", "1", LSTM_074, loads=True)(
    lambda folder: _inject(folder, "tupleflood", LSTM_074, P.EMPTY_LIST + P.MARK + (P.NONE + P.TUPLE1) * 900_000
                           + P.APPENDS))
case("nested lists 600000 deep load", "1", LSTM_074, loads=True)(
    lambda folder: _inject(folder, "deeplist", LSTM_074, P.EMPTY_LIST * 600_000 + P.APPEND * 599_999))
case("nested dicts 400000 deep load", "1", LSTM_074, loads=True)(
    lambda folder: _inject(folder, "deepdict", LSTM_074, (P.EMPTY_DICT + i(0)) * 400_000 + P.EMPTY_DICT
                           + P.SETITEM * 400_000))
case("nested tuples past the depth limit", "1", LSTM_074, needle="deeper than")(
    lambda folder: _inject(folder, "deeptuple", LSTM_074, P.EMPTY_TUPLE + P.TUPLE1 * 200_000))
case("list that contains itself loads", "1", LSTM_074, loads=True)(
    lambda folder: _inject(folder, "selfloop", LSTM_074, P.EMPTY_LIST + put(60_000) + get(60_000) + P.APPEND))
case("MARK flood", "1", LSTM_074, needle="stack underflow")(
    lambda folder: _inject(folder, "markflood", LSTM_074, P.MARK * 1_500_000 + P.NONE))
case("1024-bit integers", "1", LSTM_074, loads=True)(
    lambda folder: _inject(folder, "bigints", LSTM_074, P.EMPTY_LIST + P.MARK + i(2**1023) * 200_000 + P.APPENDS))
case("many views of one storage", "1", LSTM_074, loads=True)(
    lambda folder: _inject(folder, "views", LSTM_074, in_list(*[tensor(sget("9000", 4), 0, (4,), (1,))] * 60_000),
                           storages={"9000": bytes(16)}))
case("stride-0 views of 2**32 elements, as values", "1", LSTM_074, loads=True)(
    lambda folder: _inject(folder, "bcast-values", LSTM_074, in_list(*[tensor(sget("9000", 4), 0, (2**16, 2**16),
                                                                                (0, 0))] * 1000),
                           storages={"9000": bytes(16)}))
case("64 MiB of strings in data.pkl", "1", LSTM_074, loads=True)(
    lambda folder: _inject(folder, "bigstrings", LSTM_074, in_list(*[u("s" * (15 << 20))] * 4)))


# -- class 2: contents used before they are validated --------------------------------------------------------------

def _set(key, value_fn):
    def edit(checkpoint):
        sd = _sd(checkpoint)
        sd[key] = value_fn(sd.get(key))
    return edit


def _drop(*keys):
    def edit(checkpoint):
        for key in keys:
            del _sd(checkpoint)[key]
    return edit


for name, fixture, edit, needle, args in [
    ("stride-0 weight_hh (4 GiB of learned state)", LSTM_030,
     _set("_net._core.weight_hh_l0", lambda _: torch.zeros(1).expand(8, 2**29)),
     "hidden_size 8 in the config, 536870912 in the checkpoint", ()),
    ("stride-0 weight_hh (32 GiB of learned state)", LSTM_030,
     _set("_net._core.weight_hh_l0", lambda _: torch.zeros(1).expand(1, 2**32)),
     "hidden_size 8 in the config, 4294967296 in the checkpoint", ()),
    ("stride-0 weight_hh, same element count", LSTM_030,
     _set("_net._core.weight_hh_l0", lambda _: torch.zeros(1).expand(256)), "has shape (256,)", ()),
    ("stride-0 initial state", LSTM_074,
     _set("_net._initial_hidden", lambda _: torch.zeros(1).expand(2, 2**31)), "_initial_hidden' has shape", ()),
    ("stride-0 head", HYPER_074,
     _set("_net._hyper_net._net.2.weight", lambda _: torch.zeros(1).expand(2**20, 2**12)), "has shape", ()),
    ("missing weight_hh_l0", LSTM_030, _drop("_net._core.weight_hh_l0"), "missing ['_core.weight_hh_l0']", ()),
    ("weight_hh_l0 of rank 1", LSTM_030, _set("_net._core.weight_hh_l0", lambda v: v.flatten()), "has shape (256,)", ()),
    ("weight_hh_l0 of rank 0", LSTM_030, _set("_net._core.weight_hh_l0", lambda v: v[0, 0]), "has shape ()", ()),
    ("weight_ih_l1 of rank 3", LSTM_074, _set("_net._core.weight_ih_l1", lambda v: v[None]), "has shape (1, 32, 8)", ()),
    ("a layer too many", LSTM_074, _set("_net._core.weight_ih_l2", lambda _: torch.zeros(32, 8)),
     "num_layers 2 in the config, 3 in the checkpoint", ()),
    ("only one learned-state key", LSTM_074, _drop("_net._initial_cell"), "missing ['_initial_cell']", ()),
    ("_has_sample_rate without _sample_rate (as 0.7.3)", LSTM_074, _drop("_net._sample_rate"),
     "missing ['_sample_rate']", ("--release", "0.7.3")),
    ("_sample_rate without _has_sample_rate", LSTM_074, _drop("_net._has_sample_rate"), "missing", ()),
    ("_sample_rate buffer NaN", LSTM_074, lambda c: _sd(c).update({"_net._has_sample_rate": torch.tensor(True),
                                                                    "_net._sample_rate": torch.tensor(float("nan"))}),
     "_sample_rate must be a positive number", ()),
    ("_sample_rate buffer negative", HYPER_074, lambda c: _sd(c).update({"_net._has_sample_rate": torch.tensor(True),
                                                                         "_net._sample_rate": torch.tensor(-48000.0)}),
     "must be a positive number", ()),
    ("_sample_rate buffer of shape (2,)", LSTM_074, _set("_net._sample_rate", lambda _: torch.zeros(2)),
     "_sample_rate' has shape (2,)", ()),
    ("sample_rate a tensor", LSTM_074, lambda c: c.update(sample_rate=torch.tensor(48000.0)), "not a Tensor", ()),
    ("sample_rate NaN", LSTM_074, lambda c: c.update(sample_rate=float("nan")), "not a float", ()),
    ("sample_rate infinite", WAVENET_074, lambda c: c.update(sample_rate=float("inf")), "not a float", ()),
    ("sample_rate negative", LSTM_074, lambda c: c.update(sample_rate=-1.0), "not -1.0", ()),
    ("sample_rate zero", LSTM_074, lambda c: c.update(sample_rate=0), "not 0", ()),
    ("sample_rate True", LSTM_074, lambda c: c.update(sample_rate=True), "not a bool", ()),
    ("sample_rate a string", LSTM_074, lambda c: c.update(sample_rate="48000\n\x1b[31m"), "not a str", ()),
    ("sample_rate 10**300", LSTM_074, lambda c: c.update(sample_rate=10**300), "not an int", ()),
    ("sample_rate 1e300", LSTM_074, lambda c: c.update(sample_rate=1e300), "not a float", ()),
    ("sample_rate a list", HYPER_074, lambda c: c.update(sample_rate=[48000]), "not a list", ()),
    ("sample_rate a dict", HYPER_074, lambda c: c.update(sample_rate={"rate": 48000}), "not a dict", ()),
    ("state_dict a list", LSTM_074, lambda c: c.update(state_dict=list(_sd(c).values())), "no state_dict", ()),
    ("state_dict entry a string", LSTM_074, _set("_net.note", lambda _: "x" * 100_000), "is a str of 100000 characters", ()),
    ("state_dict int key", LSTM_074, lambda c: _sd(c).update({7: torch.zeros(1)}), "entry 7 is a Tensor", ()),
    ("no _net. entries", LSTM_074, lambda c: c.update(state_dict={"x": torch.zeros(1)}), "no '_net.' entries", ()),
    ("mixed release traits", LSTM_030, lambda c: c.update(sample_rate=None), "mixes traits", ()),
    ("half parameter", LSTM_074, _set("_net._core.weight_ih_l0", lambda v: v.half()), "as torch.float16", ()),
    ("double parameter", WAVENET_074, _set("_net._net._layers.0._rechannel.weight", lambda v: v.double()),
     "as torch.float64", ()),
    ("long parameter", LSTM_074, _set("_net._head.bias", lambda v: v.long()), "as torch.int64", ()),
    ("bfloat16 buffer", HYPER_074, _set("_net._net.1.running_mean", lambda v: v.bfloat16()), "as torch.bfloat16", ()),
    ("float num_batches_tracked", HYPER_074, _set("_net._net.1.num_batches_tracked", lambda v: v.float()),
     "as torch.float32, where the HyperConvNet keeps torch.int64", ()),
    ("float _has_sample_rate", LSTM_074, _set("_net._has_sample_rate", lambda v: v.float()),
     "as torch.float32, where the CatLSTM keeps torch.bool", ()),
    ("int8 _has_sample_rate", LSTM_074, _set("_net._has_sample_rate", lambda v: v.to(torch.int8)), "torch.int8", ()),
    ("long _sample_rate", LSTM_074, _set("_net._sample_rate", lambda v: v.long()), "torch.int64", ()),
]:
    case(name, "2", fixture, needle=needle, args=args)(
        lambda folder, fixture=fixture, edit=edit, name=name: _resave(folder, f"c2-{abs(hash(name)) % 10**8}",
                                                                      fixture, edit))

for name, edit in [
    ("sample_rate that disagrees with the buffers loads with a note", lambda c: c.update(sample_rate=44100.0)),
    ("an enormous lightning version loads", lambda c: c.update({"pytorch-lightning_version": "9" * (8 << 20)})),
    ("a lightning version with control characters loads", lambda c: c.update({"pytorch-lightning_version":
                                                                               "2.1.3\n\x1b[2J\ud800"})),
    ("a lightning version that is a tensor loads", lambda c: c.update({"pytorch-lightning_version": torch.ones(3)})),
    ("state_dict entries outside the net load with a note", lambda c: _sd(c).update(
        {"\x1b[31m\n" * 1000: torch.zeros(1).expand(2**16, 2**16)})),
]:
    case(name, "2", LSTM_074, loads=True)(
        lambda folder, edit=edit, name=name: _resave(folder, f"c2ok-{abs(hash(name)) % 10**8}", LSTM_074, edit))

case("sample_rate a tuple DAG", "2", LSTM_074, needle="not a tuple")(
    lambda folder: _inject(folder, "sr-dag", LSTM_074, DAG, key="sample_rate"))
case("sample_rate a 100000-deep list", "2", LSTM_074, needle="not a list")(
    lambda folder: _inject(folder, "sr-deep", LSTM_074, P.EMPTY_LIST * 100_000 + P.APPEND * 99_999,
                           key="sample_rate"))


def _top_level_odict_with(state: bytes):
    """The checkpoint as an OrderedDict whose BUILD state is `state` (instance attributes)."""
    def edit(ops):
        assert ops[1] == ("EMPTY_DICT", None)
        return (craft.encode(ops[:1]) + ODICT + craft.encode(ops[2:-1]) + state + P.BUILD + P.STOP)
    return edit


def _state_dict_with(state: bytes):
    """The checkpoint's state_dict (an OrderedDict) with a BUILD of `state` right after it is made."""
    def edit(ops):
        at = ops.index(("BINUNICODE", "state_dict"))
        reduce_at = next(k for k in range(at, len(ops)) if ops[k][0] == "REDUCE")
        return craft.encode(ops[:reduce_at + 1]) + state + P.BUILD + craft.encode(ops[reduce_at + 1:])
    return edit


for name, edit, needle in [
    ("BUILD shadows get on the checkpoint", _top_level_odict_with(in_dict(u("get"), i(1))), "sets attribute 'get'"),
    ("BUILD shadows items on the checkpoint", _top_level_odict_with(in_dict(u("items"), u("x"))), "attribute 'items'"),
    ("BUILD shadows keys on the state_dict", _state_dict_with(in_dict(u("keys"), P.NONE)), "attribute 'keys'"),
    ("BUILD shadows __getitem__", _state_dict_with(in_dict(u("__getitem__"), P.NONE)), "'__getitem__'"),
    ("BUILD _metadata a string", _state_dict_with(in_dict(u("_metadata"), u("x"))), "to a str"),
]:
    case(name, "2", LSTM_074, needle=needle)(
        lambda folder, edit=edit, name=name: _edit_ops(folder, f"build-{abs(hash(name)) % 10**8}", LSTM_074, edit))

case("BUILD with _metadata loads", "2", LSTM_074, loads=True)(
    lambda folder: _edit_ops(folder, "build-metadata", LSTM_074, _state_dict_with(
        in_dict(u("_metadata"), ODICT + P.MARK + u("") + in_dict(u("version"), i(1)) + P.SETITEMS))))


# -- issue 11 §4: a config of another size -------------------------------------------------------------------------

def _config(folder: Path, fixture: Path, name: str, edit) -> Path:
    config = json.loads((fixture / "model.json").read_text())
    edit(config["net"]["config"])
    path = folder / f"{name}.json"
    path.write_text(json.dumps(config))
    return path


CONFIG_CASES = [
    ("CatLSTM of another size", LSTM_074, lambda c: c.update(hidden_size=32, num_layers=4),
     "hidden_size 32 in the config, 8 in the checkpoint; num_layers 4 vs 2"),
    ("CatLSTM with other knobs", LSTM_074, lambda c: c.update(input_size=2),
     "input_size 2 (1 knob) in the config, 4 (3 knobs) in the checkpoint"),
    ("CatWaveNet of another size", WAVENET_074,
     lambda c: (c["layers_configs"][0].update(channels=8, kernel_size=5, dilations=[1, 2, 4]),
                c["layers_configs"][1].update(input_size=8)),
     "layers_configs[0].channels 8 in the config, 4 in the checkpoint; number of layers_configs[0].dilations 3 vs 2; "
     "layers_configs[0].kernel_size 5 vs 3"),
    ("HyperConvNet of another size", HYPER_074,
     lambda c: (c["net"].update(channels=5, dilations=[1, 2]), c["hyper_net"].update(num_units=16, num_layers=3)),
     "net.channels 5 in the config, 3 in the checkpoint; number of net.dilations 2 vs 3; hyper_net.num_layers 3 vs 2; "
     "hyper_net.num_units 16 vs 8"),
]


for _name, _fixture, _edit, _needle in CONFIG_CASES:
    CASES.append(Case(_name, "11.4", lambda folder, fixture=_fixture: fixture / "model.ckpt", _fixture / "model.json",
                      needle=_needle, make_config=lambda folder, fixture=_fixture, edit=_edit, name=_name: _config(
                          folder, fixture, f"config-{abs(hash(name)) % 10**8}", edit)))


@pytest.mark.parametrize("name, fixture, edit, needle", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_a_config_of_another_size_says_what_differs(tmp_path, name, fixture, edit, needle):
    """In-process (fast); the same files also run through the CLI in the batch below."""
    import compat
    with pytest.raises(compat.WeightsMismatchError) as info:
        compat.load_checkpoint(fixture / "model.ckpt", _config(tmp_path, fixture, "c", edit))
    assert needle in str(info.value)


# -- class 3: the zip container ------------------------------------------------------------------------------------

def _many_small_deflated(folder: Path, n: int) -> Path:
    """n storages of 1 MiB of zeros, each deflated to about 1 KB (under the ratio check's exemption), all
    referenced: 2.2 GB from a 2.3 MB file for n = 2200."""
    refs = in_list(*[tensor(sget(str(10_000 + k), 1 << 20, "ByteStorage"), 0, (1 << 20,), (1,)) for k in range(n)])
    zeros = bytes(1 << 20)
    return _inject(folder, f"zip-small-entries{n}", LSTM_074, refs,
                   storages={str(10_000 + k): zeros for k in range(n)}, compression=zipfile.ZIP_DEFLATED)


def _noisy(n: int) -> bytes:
    rng = random.Random(0)
    out = bytearray(n)
    out[::64] = rng.randbytes(len(out[::64]))
    return bytes(out)


case("2200 small deflated storages, all referenced", "3", LSTM_074, needle="more than")(
    lambda folder: _many_small_deflated(folder, 2200))
case("900 small deflated storages, all referenced", "3", LSTM_074, needle="inflate to more than")(
    lambda folder: _many_small_deflated(folder, 900))
case("a 96 MiB storage deflated 26 to 1, for a 3 KB model", "3", LSTM_074, needle="inflate to more than")(
    lambda folder: _inject(folder, "zip-one-big", LSTM_074, tensor(sget("9000", 96 << 20, "ByteStorage"), 0,
                                                                   (96 << 20,), (1,)),
                           storages={"9000": _noisy(96 << 20)}, compression=zipfile.ZIP_DEFLATED, level=1))


def _many_entries(folder: Path, n: int, name: str) -> Path:
    prefix, found = craft.entries(LSTM_074 / "model.ckpt")
    found.update({f"{prefix}/x/{k}": b"" for k in range(n)})
    return craft.rezip(folder / f"{name}.ckpt", found)


case("30000 entries", "3", LSTM_074, needle="declares 30059 entries")(lambda folder: _many_entries(folder, 30_000, "n30k"))
case("a 5 MB central directory", "3", LSTM_074, needle="central directory is")(
    lambda folder: _patch_names(folder))


def _patch_names(folder: Path) -> Path:
    prefix, found = craft.entries(LSTM_074 / "model.ckpt")
    found.update({f"{prefix}/{'n' * 400}{k}": b"" for k in range(12_000)})
    return craft.rezip(folder / "cd5mb.ckpt", found)


def _eocd(folder: Path, name: str, label: str, value: int) -> Path:
    path = folder / f"{name}.ckpt"
    path.write_bytes((LSTM_074 / "model.ckpt").read_bytes())
    return _patch(path, *_field(path, label), value)


case("zip64 end record claims 2**40 entries", "3", LSTM_074, needle="declares 1099511627776 entries")(
    lambda folder: _eocd(folder, "eocd64-entries", ":entries", 2**40))
case("zip64 end record claims a 1 TB directory", "3", LSTM_074, needle="central directory is")(
    lambda folder: _eocd(folder, "eocd64-size", ":cd_size", 2**40))
case("end record count lies (fewer)", "3", LSTM_074, needle="its end record says 3")(
    lambda folder: _lie_count(folder, 3))


def _lie_count(folder: Path, count: int) -> Path:
    path = folder / f"lie{count}.ckpt"
    path.write_bytes((LSTM_074 / "model.ckpt").read_bytes())
    for name, off, fmt in craft.zip_fields(path.read_bytes()):
        if name.endswith("entries"):
            _patch(path, off, fmt, count)
    return path


def _overlapping(folder: Path) -> Path:
    """Every storage entry's central record points at the local header of storage 0: one kernel, many files."""
    path = folder / "overlap.ckpt"
    path.write_bytes((LSTM_074 / "model.ckpt").read_bytes())
    with zipfile.ZipFile(path) as z:
        first = z.getinfo("archive/data/0").header_offset
    data = bytearray(path.read_bytes())
    for name, off, fmt in craft.zip_fields(bytes(data)):
        if name.endswith(":offset"):
            struct.pack_into(fmt, data, off, first)
    path.write_bytes(bytes(data))
    return path


case("overlapping entries", "3", LSTM_074, needle="overlaps another entry")(_overlapping)


def _set_sizes(path: Path, entry: str, compressed: Optional[int], size: Optional[int]) -> Path:
    """Overwrite the declared sizes of one entry, in its local header and its central record."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        local = z.getinfo(entry).header_offset
    central = craft.central_records(bytes(data))[entry]
    for base, (c_at, s_at) in ((local, (18, 22)), (central, (20, 24))):
        if compressed is not None:
            struct.pack_into("<I", data, base + c_at, compressed)
        if size is not None:
            struct.pack_into("<I", data, base + s_at, size)
    path.write_bytes(bytes(data))
    return path


def _stored_claims(folder: Path) -> Path:
    """A stored entry whose headers claim 900 MB, in a 30 KB file."""
    path = folder / "storedclaim.ckpt"
    path.write_bytes((LSTM_074 / "model.ckpt").read_bytes())
    return _set_sizes(path, "archive/data/3", 900 << 20, 900 << 20)


case("a stored entry claims 900 MB in a 30 KB file", "3", LSTM_074, needle="overlap")(_stored_claims)


def _deflate_lies(folder: Path) -> Path:
    """data/3 declared at its genuine size, but its deflate stream holds 64 MiB."""
    prefix, found = craft.entries(LSTM_074 / "model.ckpt")
    genuine = len(found[f"{prefix}/data/3"])
    path = craft.rezip(folder / "deflatelie.ckpt", {**found, f"{prefix}/data/3": bytes(64 << 20)},
                       zipfile.ZIP_DEFLATED)
    return _set_sizes(path, f"{prefix}/data/3", None, genuine)


case("a deflate stream longer than its declared size", "3", LSTM_074, needle="data/3")(_deflate_lies)
case("data.pkl of 60 MiB of zeros, deflated", "3", LSTM_074, needle="compression ratio")(
    lambda folder: craft.rezip(folder / "pklbomb.ckpt", {"archive/data.pkl": bytes(60 << 20)}, zipfile.ZIP_DEFLATED))
case("a storage reference claims 1 TiB", "3", LSTM_074, needle="claims 1099511627776 bytes")(
    lambda folder: _inject(folder, "claim1g", LSTM_074, tensor(sget("9000", 2**40, "ByteStorage"), 0, (1,), (1,))))


# -- class 5: FRAME lengths, storage dtypes, pre-1.6 files ---------------------------------------------------------

def _framed(folder: Path, name: str, edit) -> Path:
    """A genuine checkpoint re-pickled with protocol 4 frames, then its frames edited."""
    prefix, found = craft.entries(LSTM_074 / "model.ckpt")
    ops = [op for op in craft.ops_of(found[f"{prefix}/data.pkl"])]
    body = craft.encode(ops[1:])
    framed = P.PROTO + b"\x04" + edit(body)
    found[f"{prefix}/data.pkl"] = framed
    return craft.rezip(folder / f"{name}.ckpt", found)


def _frame(n: int) -> bytes:
    return P.FRAME + struct.pack("<Q", n)


for name, edit, needle in [
    ("frame past the end", lambda b: _frame(len(b) + 1) + b, "past the end"),
    ("frame of 2**63 bytes", lambda b: _frame(2**63) + b, "past the end"),
    ("frame inside a frame", lambda b: _frame(len(b) + 9) + _frame(len(b)) + b, "inside another frame"),
    ("opcode straddles a frame end", lambda b: _frame(5) + b, "runs past the end of its frame"),
    ("a frame boundary inside an opcode", lambda b: _frame(6) + b[:6] + _frame(len(b) - 6) + b[6:], None),
    ("a frame of 0 bytes, then an unframed opcode across", lambda b: _frame(0) + _frame(len(b) + 1) + b,
     "past the end"),
]:
    case(name, "5", LSTM_074, needle=needle)(lambda folder, edit=edit, name=name: _framed(
        folder, f"frame-{abs(hash(name)) % 10**8}", edit))

case("frames on opcode boundaries load", "5", LSTM_074, loads=True)(lambda folder: _framed(
    folder, "frame-ok", lambda b: _frame(14) + b[:14] + _frame(len(b) - 14) + b[14:]))
case("pre-1.6 torch file", "5", LSTM_074, needle="pre-1.6")(
    lambda folder: _legacy(folder))


def _legacy(folder: Path) -> Path:
    path = folder / "legacy.ckpt"
    torch.save(torch.load(LSTM_074 / "model.ckpt", weights_only=True), path, _use_new_zipfile_serialization=False)
    return path


# -- a fixed-seed sample of structure-aware mutants (tests/test_fuzz_checkpoints.py fuzzes them in-process) --------

def _mutant(seed: int, fixture: Path):
    def build(folder: Path) -> Path:
        import fuzz_mutations
        return fuzz_mutations.write_mutant(folder / f"mutant{seed}.ckpt", random.Random(seed), fixture)
    return build


for seed in range(60):
    _fixture = craft.genuine_checkpoints()[seed * 7 % len(craft.genuine_checkpoints())]
    CASES.append(Case(f"mutant {seed}", "fuzz", _mutant(seed, _fixture), _fixture.parent / "model.json", loads=None))


# -- running them ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Dict[str, dict]:
    folder = tmp_path_factory.mktemp("hostile")
    paths, argvs = {}, {}
    for c in CASES:
        path = c.build(folder)
        config = c.make_config(folder) if c.make_config else c.config
        paths[c.name] = str(path)
        argvs[c.name] = ["inspect", str(path), "--config", str(config), "--json", *c.args]
    records = hostile.run_batch(argvs, cpu_limit=CPU_LIMIT, wall=BATCH_WALL)
    done = {name: {"name": name, **r, "path": paths[name]} for name, r in records.items()}
    if os.environ.get("HOSTILE_REPORT"):
        Path(os.environ["HOSTILE_REPORT"]).write_text(json.dumps(
            [{**done[c.name], "class": c.klass, "stdout": done[c.name]["stdout"][:200]} for c in CASES], indent=1))
    return done


def test_there_are_more_cases_than_the_review_tried():
    counts = collections.Counter(c.klass for c in CASES)
    assert sum(counts.values()) > 157 and all(counts[k] >= 8 for k in ("1", "2", "3", "5", "fuzz")), counts


@pytest.mark.parametrize("c", CASES, ids=[c.name for c in CASES])
def test_case(results, c):
    r = results[c.name]
    message = r["stderr"].rstrip("\n")
    where = f"{c.name}: exit {r['code']}, {r['cpu']:.1f} s, {(r['peak'] - r['idle']) / 2**20:.0f} MiB: {message[:400]!r}"
    assert r["cpu"] <= CPU_LIMIT, where
    assert r["peak"] - r["idle"] <= hostile.RSS_BUDGET, where
    assert "more memory than is available" not in message, where  # a refusal must come from a check
    if r["code"] == 0 and c.loads is not False:
        facts = json.loads(r["stdout"])  # valid JSON: no NaN, nothing unprintable
        assert facts["format"] == "ckpt" and facts["parameters"] > 0, where
        rate = facts["sample_rate"]
        assert rate is None or (isinstance(rate, float) and 0 < rate < 2**32), where
        return
    assert c.loads is not True, where
    assert r["code"] == 2 and r["stderr_len"] == len(r["stderr"]), where
    assert "\n" not in message and len(message) <= hostile.MAX_MESSAGE and message.isprintable(), where
    assert "Traceback" not in message and "internal error" not in message, where
    assert Path(r["path"]).name in message, where
    if c.needle is not None:
        assert c.needle in message, where


# The cases that hung or took gigabytes before the fix, each in a process of its own.
WORST = ["tuple DAG as dict key", "tuple DAG as persistent id", "colliding int keys (multiples of 2**61-1)",
         "stride-0 weight_hh (4 GiB of learned state)", "2200 small deflated storages, all referenced", "30000 entries"]


@pytest.mark.parametrize("name", WORST)
def test_worst_cases_alone(tmp_path, name):
    c = next(c for c in CASES if c.name == name)
    path = c.build(tmp_path)
    result = hostile.run_cli(["inspect", str(path), "--config", str(c.config), "--json"])
    hostile.assert_refused(result, path)
    hostile.assert_within_bounds(result)
    assert c.needle in result.stderr
