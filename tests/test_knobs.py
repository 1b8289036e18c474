"""Knob specs and knob vectors: sorted-name order, defaults, named values."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

import compat
from compat.knobs import KnobSpec, knob_vector, parse_named, specs_from_param_config

PARAMS = {
    "tone": {"type": "continuous", "default_value": 0.5, "minval": 0.0, "maxval": 1.0},
    "drive": {"type": "continuous", "default_value": 0.3, "minval": 0.0, "maxval": 1.0},
    "bright": {"type": "boolean", "default_value": False},
}


def test_specs_are_in_sorted_name_order_with_float_defaults():
    specs = specs_from_param_config(PARAMS)
    assert [s.name for s in specs] == ["bright", "drive", "tone"]
    assert specs[0] == KnobSpec("bright", "boolean", 0.0)
    assert specs[2] == KnobSpec("tone", "continuous", 0.5, 0.0, 1.0)


@given(st.permutations(list(PARAMS)))
def test_dict_order_never_matters(order):
    assert specs_from_param_config({k: PARAMS[k] for k in order}) == specs_from_param_config(PARAMS)


def test_named_knobs_fill_defaults():
    specs = specs_from_param_config(PARAMS)
    assert knob_vector(specs, 3, named={"drive": 0.9}) == [0.0, 0.9, 0.5]
    assert knob_vector(specs, 3, named=parse_named(["bright=true", "tone=0.25"])) == [1.0, 0.3, 0.25]
    assert knob_vector(specs, 3, values=[1, 0.2, 0.3]) == [1.0, 0.2, 0.3]


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"named": {"gain": 1.0}}, "unknown knob 'gain'"),
        ({"values": [1.0, 2.0]}, "takes 3 knob values, got 2"),
        ({"values": [1.0, 2.0, 3.0], "named": {"drive": 1.0}}, "not both"),
    ],
)
def test_bad_knob_requests(kwargs, fragment):
    with pytest.raises(compat.ConfigError, match=fragment):
        knob_vector(specs_from_param_config(PARAMS), 3, **kwargs)


def test_unnamed_models_need_positional_values():
    with pytest.raises(compat.ConfigError, match="--param-config"):
        knob_vector((), 3, named={"drive": 1.0})
    with pytest.raises(compat.ConfigError, match="--params"):
        knob_vector((), 3)
    assert knob_vector((), 0) == []


@pytest.mark.parametrize("pair", ["drive", "=1", "drive=loud"])
def test_parse_named_rejects_malformed_pairs(pair):
    with pytest.raises(compat.ConfigError):
        parse_named([pair])


@pytest.mark.parametrize(
    "named, fragment",
    [
        ({"drive": float("nan")}, "must be finite"),
        ({"drive": float("inf")}, "must be finite"),
        ({"drive": 5.0}, "outside its range 0 to 1"),
        ({"tone": -0.01}, "outside its range 0 to 1"),
        ({"bright": 0.5}, "boolean and takes 0 or 1"),
        ({"bright": 2.0}, "boolean and takes 0 or 1"),
    ],
)
def test_bad_knob_values_are_typed_errors(named, fragment):
    with pytest.raises(compat.KnobError, match=fragment):
        knob_vector(specs_from_param_config(PARAMS), 3, named=named)


def test_out_of_range_continuous_values_may_extrapolate_with_a_warning():
    specs = specs_from_param_config(PARAMS)
    with pytest.warns(compat.OutOfRangeWarning, match="drive = 1.5 is outside its range 0 to 1"):
        assert knob_vector(specs, 3, named={"drive": 1.5}, allow_out_of_range=True) == [0.0, 1.5, 0.5]
    # extrapolation never makes a boolean half-on, nor a NaN acceptable
    with pytest.raises(compat.KnobError):
        knob_vector(specs, 3, named={"bright": 0.5}, allow_out_of_range=True)
    with pytest.raises(compat.KnobError):
        knob_vector(specs, 3, values=[0, float("nan"), 0.5], allow_out_of_range=True)


def test_unnamed_knobs_are_still_checked_for_finiteness():
    with pytest.raises(compat.KnobError, match="knob value 2 is nan"):
        knob_vector((), 3, values=[0.0, float("nan"), 0.5])
    assert knob_vector((), 3, values=[0.0, 7.0, -3.0]) == [0.0, 7.0, -3.0]


@given(st.floats(0.0, 1.0), st.sampled_from([0.0, 1.0]))
def test_in_range_values_pass_unchanged(drive, bright):
    specs = specs_from_param_config(PARAMS)
    assert knob_vector(specs, 3, values=[bright, drive, 0.5]) == [bright, drive, 0.5]


def test_repeating_a_named_knob_is_an_error():
    with pytest.raises(compat.ConfigError, match="given twice"):
        parse_named(["drive=0.1", "drive=0.2"])
