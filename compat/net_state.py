"""The net state dict a checkpoint must hold for a model config, checked before anything uses it.

`layout` is what a release stores for a model: every key with its shape and dtype, from the
model built from the config (compat.architectures) plus the keys the upgrade steps own
(compat.upgrades.step_layout). `check` compares a checkpoint's net state dict with it (keys,
shapes, hence element counts, and dtypes) so that no upgrade step, allocation or copy ever
sees a tensor the config does not describe. Storage bounds (offset and strides within the
storage) were already checked when the tensor was read (compat.unpickle).

When a config of another size is given, the mismatch is explained in the config's terms:
`implied` reads each architecture's hyperparameters back from the tensor shapes, for the
checkpoint and for the config's own model alike, and the message lists what differs.
"""

from __future__ import annotations

import math
import re
from typing import Dict, List, Mapping, Optional, Tuple

import torch

from nam_legacy.releases import ReleaseProfile

from . import upgrades
from .errors import WeightsMismatchError
from .errors import quote

Spec = upgrades.Spec
Shapes = Mapping[str, Tuple[int, ...]]

_SHOWN = 3  # keys named in a message
_DIFFS = 4  # differences named in a message
_KEY_CHARS = 40  # characters of a key quoted in a message
_MAX_CHARS = 200  # of an explanation; the file name and the architecture come before it
_ARRAYS = 8  # CatWaveNet layer arrays described one by one
_DIGITS = r"(\d{1,6})"  # an index in a module path (bounded: never int() a long run of digits)


def specs(model: torch.nn.Module) -> Dict[str, Spec]:
    """The model's own state dict as shapes and dtypes."""
    return {k: (tuple(v.shape), v.dtype) for k, v in model.state_dict().items()}


def nbytes(layout_: Mapping[str, Spec]) -> int:
    return sum(math.prod(shape) * dtype.itemsize for shape, dtype in layout_.values())


def layout(architecture: str, model: torch.nn.Module, release: ReleaseProfile,
           own: Optional[Mapping[str, Spec]] = None) -> Dict[str, Spec]:
    """Every key `release` stores in the net state dict of `model` (built under any release; `own`: its
    `specs`, if already known)."""
    own = specs(model) if own is None else own
    out = {k: spec for k, spec in own.items() if k not in upgrades.STEP_KEYS}
    out.update(upgrades.step_layout(architecture, model, release))
    return out


def check(state_dict: Mapping[str, torch.Tensor], expected: Mapping[str, Spec], architecture: str) -> None:
    """Raise WeightsMismatchError unless `state_dict` has exactly the keys, shapes and dtypes of `expected`."""
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    reshaped = [k for k in expected if k in state_dict and tuple(state_dict[k].shape) != expected[k][0]]
    if missing or unexpected or reshaped:
        shapes = {k: tuple(v.shape) for k, v in state_dict.items()}
        raise WeightsMismatchError(f"checkpoint does not fit this {architecture} config: "
                                   + explain(architecture, shapes, {k: s for k, (s, _) in expected.items()},
                                             missing, unexpected, reshaped))
    for key, (_, dtype) in expected.items():
        if state_dict[key].dtype != dtype:
            raise WeightsMismatchError(f"checkpoint holds {quote(key)} as {state_dict[key].dtype}, "
                                       f"where the {architecture} keeps {dtype}")


def explain(architecture: str, found: Shapes, wanted: Shapes, missing: List[str], unexpected: List[str],
            reshaped: List[str]) -> str:
    """What differs, in the config's terms when the shapes tell, else by key."""
    held = holds(found)
    if held is not None and held != architecture:
        return f"the checkpoint holds a {held}, the config describes a {architecture}"
    ours, theirs = implied(architecture, wanted), implied(architecture, found)
    diffs = [(label, value, theirs[label]) for label, value in ours.items()
             if label in theirs and theirs[label] != value]
    if diffs:
        (label, a, b), rest = diffs[0], diffs[1:_DIFFS]
        more = f"; and {len(diffs) - _DIFFS} more" if len(diffs) > _DIFFS else ""
        text = "; ".join([f"{label} {a} in the config, {b} in the checkpoint"]
                         + [f"{label} {a} vs {b}" for label, a, b in rest])
        return (text if len(text) <= _MAX_CHARS - len(more) else text[:_MAX_CHARS - len(more) - 3] + "...") + more
    parts = []
    if missing:
        parts.append(f"missing {_keys(missing)}")
    if unexpected:
        parts.append(f"unexpected {_keys(unexpected)}")
    for key in reshaped[:_SHOWN]:
        parts.append(f"{quote(key, _KEY_CHARS)} has shape {_shape(found[key])}, the config implies {_shape(wanted[key])}")
    text = "; ".join(parts)
    return text if len(text) <= _MAX_CHARS else text[:_MAX_CHARS - 3] + "..."


def _keys(keys: List[str]) -> str:
    shown = ", ".join(quote(k, _KEY_CHARS) for k in keys[:_SHOWN])
    return f"[{shown}{', ...' if len(keys) > _SHOWN else ''}] ({len(keys)} in all)"


def _shape(shape: Tuple[int, ...]) -> str:
    if len(shape) <= 4:
        return str(tuple(shape))
    return f"({', '.join(map(str, shape[:3]))}, ... {len(shape)} dims)"


def holds(shapes: Shapes) -> Optional[str]:
    """The architecture whose keys these are, if they are any one's."""
    if "_core.weight_ih_l0" in shapes:
        return "CatLSTM"
    if "_net._layers.0._rechannel.weight" in shapes:
        return "CatWaveNet"
    if any(k.startswith("_hyper_net.") for k in shapes):
        return "HyperConvNet"
    return None


def implied(architecture: str, shapes: Shapes) -> Dict[str, object]:
    """Hyperparameters read back from tensor shapes (config names; only what the shapes tell)."""
    return {"CatLSTM": _lstm, "CatWaveNet": _wavenet, "HyperConvNet": _hyper}[architecture](shapes)


def _dim(shapes: Shapes, key: str, rank: int, axis: int) -> Optional[int]:
    shape = shapes.get(key)
    return shape[axis] if shape is not None and len(shape) == rank else None


def _indices(shapes: Shapes, pattern: str) -> List[int]:
    found = (re.fullmatch(pattern, k) for k in shapes)
    return sorted({int(m.group(1)) for m in found if m})


def _put(out: Dict[str, object], label: str, value) -> None:
    if value is not None:
        out[label] = value


def _lstm(shapes: Shapes) -> Dict[str, object]:
    out: Dict[str, object] = {}
    _put(out, "hidden_size", _dim(shapes, "_core.weight_hh_l0", 2, 1))
    out["num_layers"] = len(_indices(shapes, rf"_core\.weight_ih_l{_DIGITS}"))
    inputs = _dim(shapes, "_core.weight_ih_l0", 2, 1)
    if inputs is not None:
        out["input_size"] = f"{inputs} ({inputs - 1} knob{'s' if inputs != 2 else ''})"
    out["bias"] = "_core.bias_ih_l0" in shapes
    return out


def _wavenet(shapes: Shapes) -> Dict[str, object]:
    arrays = _indices(shapes, rf"_net\._layers\.{_DIGITS}\._rechannel\.weight")
    dilations: Dict[int, int] = {}  # one pass over the keys, however many arrays there are
    for key in shapes:
        m = re.fullmatch(rf"_net\._layers\.{_DIGITS}\._layers\.{_DIGITS}\._conv\.weight", key)
        if m:
            dilations[int(m.group(1))] = dilations.get(int(m.group(1)), 0) + 1
    out: Dict[str, object] = {"number of layer arrays": len(arrays)}
    for a in arrays[:_ARRAYS]:
        p, at = f"_net._layers.{a}.", f"layers_configs[{a}]"
        channels = _dim(shapes, f"{p}_rechannel.weight", 3, 0)
        _put(out, f"{at}.channels", channels)
        _put(out, f"{at}.input_size", _dim(shapes, f"{p}_rechannel.weight", 3, 1))
        out[f"number of {at}.dilations"] = dilations.get(a, 0)
        _put(out, f"{at}.kernel_size", _dim(shapes, f"{p}_layers.0._conv.weight", 3, 2))
        mid = _dim(shapes, f"{p}_layers.0._conv.weight", 3, 0)
        if mid is not None and channels is not None:
            out[f"{at}.gated"] = mid == 2 * channels
        conditions = _dim(shapes, f"{p}_layers.0._input_mixer.weight", 3, 1)
        if conditions is not None:
            out[f"{at}.condition_size"] = f"{conditions} ({conditions - 1} knob{'s' if conditions != 2 else ''})"
        _put(out, f"{at}.head_size", _dim(shapes, f"{p}_head_rechannel.weight", 3, 0))
        out[f"{at}.head_bias"] = f"{p}_head_rechannel.bias" in shapes
    out["head_config"] = "a head" if any(k.startswith("_net._head.") for k in shapes) else "none"
    return out


def _hyper(shapes: Shapes) -> Dict[str, object]:
    out: Dict[str, object] = {}
    convs = [i for i in _indices(shapes, rf"_net\.{_DIGITS}\.weight") if len(shapes[f"_net.{i}.weight"]) == 3]
    if convs:
        out["net.channels"] = shapes[f"_net.{convs[0]}.weight"][0]
        out["number of net.dilations"] = len(convs) - 1
    out["net.batchnorm"] = bool(_indices(shapes, rf"_net\.{_DIGITS}\.running_mean"))
    blocks = _indices(shapes, rf"_hyper_net\._net\.{_DIGITS}\.0\.weight")
    out["hyper_net.num_layers"] = len(blocks)
    first = "_hyper_net._net.0.0.weight" if blocks else f"_hyper_net._net.{len(blocks)}.weight"
    _put(out, "hyper_net.num_inputs", _dim(shapes, first, 2, 1))
    if blocks:
        _put(out, "hyper_net.num_units", _dim(shapes, first, 2, 0))
    out["hyper_net.batchnorm"] = "_hyper_net._net.0.1.running_mean" in shapes
    return out
