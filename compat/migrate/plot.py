"""Plots with matplotlib (the optional extra `nam-legacy[plot]`), drawn off screen (Agg).

* `loudness_png`: a pack's loudness.png. Two panels sharing the x axis, the first grid
  knob: the files' loudness (dB) above, their gain (0 = linear … 1 = fully compressed)
  below; one line per combination of the other grid knobs. Up to 10 lines, each is named
  in a legend and has its own colour, marker and line style, and markers shrink from line
  to line, so lines that coincide show as concentric rings; more, the colour follows one
  other knob's value (a colorbar) and a small legend names the styles of the rest. Knob
  values on axes, colorbar and legend read to 3 significant digits; at most 8 ticks (the
  files' places as minor ticks). A flat gain panel gets a readable scale around its value
  instead of a zoom into rounding noise.
* `plot_automation`: knob automation curves over a waveform (for `render --automate`). The
  waveform is drawn as a min/max envelope of about one column per pixel, from the samples
  or from a `WaveformEnvelope` gathered block by block while a long file streams (memory
  independent of its length) on the output's own y-range (an output with a DC offset
  fills the panel); each knob gets a panel of its own on its own range (a shared axis
  would stretch a 0 to 0.16 sweep to full height), the value of a knob that stays put
  labelled, and an extrapolated knob's valid range shaded.

matplotlib is imported only when a plot is drawn (never pyplot, so no display is ever
opened and no global backend is changed); without it, `PlotUnavailable` says how to get
it. PNGs are written atomically and carry no timestamp.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ..atomic import atomic_write_bytes
from ..errors import LegacyError
from ..knobs import format_knobs, knob_text

__all__ = [
    "PLOT_FIX",
    "PlotSkippedWarning",
    "PlotUnavailable",
    "WaveformEnvelope",
    "automation_figure",
    "automation_png",
    "loudness_figure",
    "loudness_png",
    "plot_automation",
]

PLOT_FIX = "pip install matplotlib"
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")
_STYLES = ("-", "--", "-.", ":")
_FLAT_GAIN_SPAN = 0.1  # the gain axis shows at least this much around a flat line
_MAX_POINTS = 4000  # curve points drawn
_COLUMNS = 1500  # waveform columns (min/max of each): about one per pixel
_MAX_TICKS = 8  # knob-value ticks on an axis
_MAX_LEGEND = 10  # more lines than this: a colour scale instead of a legend entry per line
_DIGITS = 3  # significant digits of knob values in tick and legend labels
_AUDIO_MARGIN = 0.08  # the waveform panel's margin above and below the output's span, as a fraction of it
_FLAT_AUDIO_SPAN = 0.02  # the waveform panel spans at least this fraction of the output's level
_TICK_ROOM = 0.15  # knob ticks closer than this fraction of the panel's span are not both labelled


class PlotUnavailable(LegacyError):
    """matplotlib is not installed, so no plot can be drawn."""


class PlotSkippedWarning(UserWarning):
    """A pack was written without its plot (matplotlib is missing)."""


def _figure(width: float, height: float):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotUnavailable(f"plots need matplotlib, which is not installed (add it with `{PLOT_FIX}`)") from None
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    # no "Software" text (the matplotlib version) and no date: the bytes depend only on
    # the data and the renderer
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def _number(v: Any) -> Optional[float]:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _value(v: float, digits: Optional[int] = _DIGITS) -> str:
    return knob_text(v, digits)


def _knob_label(name: str, spec: Optional[Mapping[str, Any]]) -> str:
    if spec is None:
        return f"{name} (knob value)"
    if spec.get("type") == "boolean":
        return f"{name} (switch: 0 = off, 1 = on)"
    lo, hi = spec.get("minval"), spec.get("maxval")
    if lo is None or hi is None:
        return f"{name} (knob value)"
    return f"{name} (knob value, range {_value(lo, None)} to {_value(hi, None)})"


def _lines(grid, points):
    """{combination of the other grid knobs: [(x, loudness, gain)]} in grid order."""
    first, xs = grid[0][0], list(grid[0][1])
    others = [name for name, _ in grid[1:]]
    lines: Dict[Tuple[float, ...], Dict[float, Tuple[Optional[float], Optional[float]]]] = {}
    for knobs, loud, gain in points:
        key = tuple(float(knobs[n]) for n in others)
        lines.setdefault(key, {})[float(knobs[first])] = (_number(loud), _number(gain))
    return others, xs, lines


def _colors(n: int):
    from matplotlib import colormaps

    if n <= 10:
        cmap = colormaps["tab10"]
        return [cmap(i) for i in range(n)]
    cmap = colormaps["viridis"]  # many lines: an ordered colour scale follows the combination order
    return [cmap(i / (n - 1) * 0.9) for i in range(n)]


def _value_axis(axis, values: Sequence[float]) -> None:
    """Ticks for knob values: at the grid values when there are few, else at most _MAX_TICKS
    round numbers with the grid values as minor ticks; labels to 3 significant digits."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullFormatter

    values = sorted(set(float(v) for v in values))
    if len(values) <= _MAX_TICKS:
        axis.set_major_locator(FixedLocator(values))
    else:
        axis.set_major_locator(MaxNLocator(nbins=_MAX_TICKS - 1, steps=[1, 2, 2.5, 5, 10]))
        axis.set_minor_locator(FixedLocator(values))  # where the files are
        axis.set_minor_formatter(NullFormatter())
    axis.set_major_formatter(FuncFormatter(lambda v, pos: _value(v)))


class _Style:
    """How each line is drawn: up to 10 lines, its own colour, marker and line style, named
    in a legend; more, the colour follows the value of one other grid knob (the one with
    the most values, shown on a colorbar) and line style and marker follow the rest (a
    small legend), so the figure never carries a legend of dozens of entries."""

    def __init__(self, others: List[str], keys: List[Tuple[float, ...]]):
        from matplotlib import colormaps
        from matplotlib.colors import Normalize

        self.others, self.keys = others, keys
        self.mapped = len(keys) > _MAX_LEGEND and bool(others)
        if not self.mapped:
            self.colors = _colors(len(keys))
            self.labels = [format_knobs(dict(zip(others, key)), digits=_DIGITS) for key in keys] if others else ["all files"]
            return
        counts = [len({key[i] for key in keys}) for i in range(len(others))]
        self.by = counts.index(max(counts))  # the knob on the colour scale
        values = sorted({key[self.by] for key in keys})
        self.values = values
        self.cmap = colormaps["viridis"]
        self.norm = Normalize(values[0], values[-1] if values[-1] > values[0] else values[0] + 1)
        self.rest = [i for i in range(len(others)) if i != self.by]
        self.combos = list(dict.fromkeys(tuple(key[i] for i in self.rest) for key in keys))

    def line(self, k: int, n: int) -> Dict[str, Any]:
        key = self.keys[k]
        if not self.mapped:
            size = 11 - 6 * k / max(1, n - 1)  # later lines smaller: coinciding points show as rings
            return dict(color=self.colors[k], marker=_MARKERS[k % len(_MARKERS)], markersize=size, markerfacecolor="none",
                        markeredgewidth=1.4, linestyle=_STYLES[k % len(_STYLES)], linewidth=1.3, label=self.labels[k])
        c = self.combos.index(tuple(key[i] for i in self.rest))
        return dict(color=self.cmap(self.norm(key[self.by]) * 0.9), marker=_MARKERS[c % len(_MARKERS)], markersize=4,
                    markerfacecolor="none", markeredgewidth=1.0, linestyle=_STYLES[c % len(_STYLES)], linewidth=1.2)

    def explain(self, fig, top, axes) -> None:
        """The legend, or the colorbar (and the small legend of the other knobs)."""
        if not self.mapped:
            if self.others:
                top.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
                           ncols=1 if len(self.keys) <= 16 else 2)
            return
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import ListedColormap
        from matplotlib.lines import Line2D

        # the colours actually used: viridis up to 0.9 (its palest yellow is hard to see)
        cmap = ListedColormap(self.cmap(np.linspace(0, 0.9, 256)))
        bar = fig.colorbar(ScalarMappable(norm=self.norm, cmap=cmap), ax=axes, shrink=0.9, aspect=30, pad=0.02)
        bar.set_label(f"{self.others[self.by]} (line colour)")
        _value_axis(bar.ax.yaxis, self.values)
        if self.rest and len(self.combos) <= _MAX_LEGEND:
            names = [self.others[i] for i in self.rest]
            handles = [Line2D([], [], color="0.3", marker=_MARKERS[c % len(_MARKERS)], markerfacecolor="none",
                              linestyle=_STYLES[c % len(_STYLES)], label=format_knobs(dict(zip(names, combo)), digits=_DIGITS))
                       for c, combo in enumerate(self.combos)]
            top.legend(handles=handles, fontsize=8, loc="best", frameon=True, framealpha=0.8)


def _series(ax, xs, lines, which: int, style: _Style) -> List[float]:
    values = []
    n = len(lines)
    for k, line in enumerate(lines.values()):
        ys = [line.get(x, (None, None))[which] for x in xs]
        ys = [np.nan if y is None else y for y in ys]
        values += [y for y in ys if not np.isnan(y)]
        ax.plot(xs, ys, **style.line(k, n))
    return values


def loudness_png(grid, points, *, title: str, knobs=None, fixed=None) -> bytes:
    """The pack's plot (`loudness_figure`) as PNG bytes."""
    return _png(loudness_figure(grid, points, title=title, knobs=knobs, fixed=fixed))


def loudness_figure(
    grid: Sequence[Tuple[str, Sequence[float]]],
    points: Sequence[Tuple[Mapping[str, float], Any, Any]],
    *,
    title: str,
    knobs: Optional[Sequence[Mapping[str, Any]]] = None,
    fixed: Optional[Mapping[str, float]] = None,
):
    """The pack's plot as a matplotlib Figure (Agg canvas).

    :param grid: (knob name, values) in the pack's grid order; the first is the x axis.
    :param points: (all knob values, loudness, gain) per file; missing numbers are gaps.
    :param title: names the model (e.g. its file and architecture).
    :param knobs: the model's knob specs as JSON (name, type, default, minval, maxval),
        for the axis label's range.
    :param fixed: knobs off the grid and the values they keep, shown under the title.
    """
    specs = {k["name"]: k for k in (knobs or [])}
    others, xs, lines = _lines(grid, points)
    if not lines:
        raise ValueError("nothing to plot")
    fig = _figure(9.0, 7.0)
    style = _Style(others, list(lines))
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    heading = title
    if fixed:
        heading += "\nother knobs at their defaults: " + format_knobs(dict(sorted(fixed.items())))
    fig.suptitle(heading, fontsize=11)

    loud = _series(top, xs, lines, 0, style)
    top.set_ylabel("loudness (dB RMS)")
    top.set_title("output loudness on current NAM's test signal", fontsize=9, loc="left")
    gain = _series(bottom, xs, lines, 1, style)
    bottom.set_ylabel("gain (0 = linear, 1 = compressed)")
    bottom.set_title("gain: how much the output level ignores the input level", fontsize=9, loc="left")
    if gain:
        lo, hi = min(gain), max(gain)
        if hi - lo < _FLAT_GAIN_SPAN:  # flat: show it against a readable scale, not rounding noise
            mid = min(max((lo + hi) / 2, _FLAT_GAIN_SPAN / 2), 1 - _FLAT_GAIN_SPAN / 2)  # gain is in [0, 1]
            bottom.set_ylim(mid - _FLAT_GAIN_SPAN / 2 - 0.01, mid + _FLAT_GAIN_SPAN / 2 + 0.01)
            if len(lines) > 1 and len({round(v, 6) for v in gain}) == 1:
                bottom.text(0.99, 0.05, f"all {len(lines)} lines coincide at {_value(round(gain[0], 6), None)}",
                            transform=bottom.transAxes, ha="right", va="bottom", fontsize=8, color="0.3")
    for ax in (top, bottom):
        ax.grid(True, color="0.88", linewidth=0.8)
    _value_axis(bottom.xaxis, xs)
    if not loud:
        top.text(0.5, 0.5, "no loudness values", transform=top.transAxes, ha="center")
    bottom.set_xlabel(_knob_label(grid[0][0], specs.get(grid[0][0])))
    style.explain(fig, top, [top, bottom])
    return fig


class WaveformEnvelope:
    """The min/max of a waveform in at most `columns` equal columns, gathered block by block.

    `WaveformEnvelope(total)` for a signal of `total` samples; `add(block)` in order. Memory
    is the columns', whatever the length; the result is exactly the envelope
    `automation_figure` draws from the whole signal. Non-finite samples are left out of the
    columns (a column with none shows as a gap).
    """

    def __init__(self, total: int, columns: int = _COLUMNS):
        if total < 1:
            raise ValueError("audio has no samples")
        self.total = int(total)
        cols = min(self.total, columns)
        self.edges = np.linspace(0, self.total, cols + 1).astype(np.int64)  # as _envelope cuts the whole signal
        self.lo = np.full(cols, np.inf)
        self.hi = np.full(cols, -np.inf)
        self.seen = 0

    def add(self, block: Any) -> None:
        x = np.asarray(block, dtype=np.float64).reshape(-1)
        start, stop = self.seen, self.seen + x.size
        if stop > self.total:
            raise ValueError(f"the envelope was made for {self.total} samples; got {stop}")
        self.seen = stop
        if x.size == 0:
            return
        x = np.where(np.isfinite(x), x, np.nan)
        # columns this block touches, and where each starts inside the block
        first = int(np.searchsorted(self.edges, start, side="right")) - 1
        last = int(np.searchsorted(self.edges, stop - 1, side="right")) - 1
        cuts = np.clip(self.edges[first:last + 1] - start, 0, None)
        with np.errstate(invalid="ignore"):
            lo = np.fmin.reduceat(x, cuts)
            hi = np.fmax.reduceat(x, cuts)
        cols = slice(first, last + 1)
        self.lo[cols] = np.fmin(self.lo[cols], np.where(np.isnan(lo), np.inf, lo))
        self.hi[cols] = np.fmax(self.hi[cols], np.where(np.isnan(hi), -np.inf, hi))

    @property
    def complete(self) -> bool:
        return self.seen == self.total

    def columns(self, duration: float):
        """(time, min, max) per column; columns without a finite sample (or not reached,
        when fewer than `total` samples came) are NaN: gaps in the plot."""
        t = (self.edges[:-1] + self.edges[1:]) / 2 / self.total * duration
        lo = np.where(np.isfinite(self.lo), self.lo, np.nan)
        hi = np.where(np.isfinite(self.hi), self.hi, np.nan)
        return t, lo, hi


def plot_automation(
    path: Union[str, Path],
    audio: Any,
    rate: float,
    curves: Mapping[str, Any],
    title: str,
    *,
    knobs: Optional[Sequence[Mapping[str, Any]]] = None,
) -> Path:
    """Knob automation curves over a waveform, as a PNG at `path` (written atomically).

    :param audio: mono samples (1-D), or a `WaveformEnvelope` of them.
    :param rate: samples per second (the time axis).
    :param curves: knob name → its values over the same span of time: one per sample or
        fewer (e.g. one per block), spread evenly over the audio's duration.
    :param title: names the model and the render.
    :param knobs: the model's knob specs as JSON (name, type, minval, maxval): each knob is
        drawn against its own range (a switch as off/on); without one, against its values.
    """
    out = Path(path)
    atomic_write_bytes(out, automation_png(audio, rate, curves, title, knobs=knobs))
    return out


def automation_png(audio: Any, rate: float, curves: Mapping[str, Any], title: str, *,
                   knobs: Optional[Sequence[Mapping[str, Any]]] = None) -> bytes:
    """plot_automation's PNG as bytes (to be written when the caller's other outputs are)."""
    return _png(automation_figure(audio, rate, curves, title, knobs=knobs))


def _knob_span(values: np.ndarray, spec: Optional[Mapping[str, Any]]) -> Tuple[float, float, str]:
    """(low, high, range text) of a knob's panel: its param-config range (widened to any
    extrapolated value), a switch's 0 to 1, else the span of its values."""
    finite = values[np.isfinite(values)]
    if spec is not None and spec.get("type") == "boolean":
        return 0.0, 1.0, "switch"
    lo, hi = (_number(spec.get("minval")), _number(spec.get("maxval"))) if spec is not None else (None, None)
    if lo is not None and hi is not None and lo < hi:
        text = f"range {_value(lo)} to {_value(hi)}"
        if finite.size:
            lo, hi = min(lo, float(finite.min())), max(hi, float(finite.max()))
        return lo, hi, text
    if not finite.size:
        return 0.0, 1.0, "no finite values"
    lo, hi = float(finite.min()), float(finite.max())
    if lo == hi:
        lo, hi = lo - max(abs(lo), 1.0) * 0.5, hi + max(abs(hi), 1.0) * 0.5
    return lo, hi, "range unknown"


def automation_figure(audio: Any, rate: float, curves: Mapping[str, Any], title: str, *,
                      knobs: Optional[Sequence[Mapping[str, Any]]] = None):
    """plot_automation's figure (Agg canvas): the waveform as a min/max envelope on top,
    below it one panel per knob on that knob's own scale (its param-config range, so a
    sweep over part of the range looks like one), time in seconds along the bottom."""
    if not (rate and math.isfinite(rate) and rate > 0):
        raise ValueError(f"rate must be a positive number, got {rate!r}")
    if isinstance(audio, WaveformEnvelope):
        if not audio.seen:
            raise ValueError("audio has no samples")
        duration = audio.total / rate
        t, lo, hi = audio.columns(duration)
    else:
        x = np.asarray(audio, dtype=np.float64)
        if x.ndim == 2 and 1 in x.shape:
            x = x.reshape(-1)
        if x.ndim != 1:
            raise ValueError(f"audio must be mono (1-D), got shape {x.shape}")
        if x.size == 0:
            raise ValueError("audio has no samples")
        duration = x.size / rate
        t, lo, hi = _envelope(x, duration)
    if not curves:
        raise ValueError("no automation curves to plot")
    prepared = {}
    for name, values in curves.items():
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        if v.size == 0:
            raise ValueError(f"curve {name!r} has no values")
        prepared[str(name)] = v
    specs = {str(k.get("name")): k for k in (knobs or [])}
    n = len(prepared)
    fig = _figure(10.0, max(5.0, 3.0 + 1.3 * n))
    ax, *panels = fig.subplots(1 + n, 1, sharex=True, height_ratios=(3.0,) + (1.3,) * n)
    ax.fill_between(t, lo, hi, facecolor="0.7", edgecolor="0.7", linewidth=0.6, step="mid")
    ax.set_ylim(*_audio_span(lo, hi))
    ax.set_xlim(0, duration)
    ax.set_ylabel("audio (sample value)")
    ax.set_title(title, fontsize=11)
    colors = _colors(n)
    for k, ((name, v), color, panel) in enumerate(zip(prepared.items(), colors, panels)):
        spec = specs.get(name)
        low, high, span = _knob_span(v, spec)
        ct = (np.arange(v.size) + 0.5) * (duration / v.size)  # each value at the middle of its span
        if v.size > _MAX_POINTS:
            idx = np.linspace(0, v.size - 1, _MAX_POINTS).round().astype(int)
            ct, v = ct[idx], v[idx]
        valid = _valid_range(spec)
        beyond = valid is not None and (low < valid[0] or high > valid[1])
        if beyond:  # extrapolated: the knob's own range stays visible as a band between dashed lines
            span += ", shaded; extrapolated outside it"
            panel.axhspan(*valid, facecolor=color, alpha=0.15, linewidth=0, zorder=0)
            for edge in valid:
                panel.axhline(edge, color=color, alpha=0.8, linestyle="--", linewidth=1.0, zorder=1.5)
        panel.plot(ct, v, color=color, linewidth=1.8, label=f"{name} ({span})",
                   drawstyle="steps-mid" if v.size <= 64 else "default")
        pad = 0.1 * (high - low)
        panel.set_ylim(low - pad, high + pad)
        if spec is not None and spec.get("type") == "boolean":
            panel.set_yticks([0.0, 1.0], ["off", "on"])
        else:
            ticks = _knob_ticks(low, high, valid, _flat_value(v))
            panel.set_yticks(ticks, [_value(tick) for tick in ticks])
        panel.set_ylabel(name, rotation=0, ha="right", va="center", labelpad=10)  # apart from a tick's value
        panel.legend(loc="upper left", fontsize=8, frameon=False, handlelength=1.5)
    for a in (ax, *panels):
        a.grid(True, color="0.9", linewidth=0.8)
    panels[-1].set_xlabel("time (s)")
    return fig


def _audio_span(lo: np.ndarray, hi: np.ndarray) -> Tuple[float, float]:
    """The waveform panel's y-range: the output's own span with a margin (an output with a
    DC offset fills the panel instead of lying along one edge of a range symmetric about
    0); a flat output gets a readable scale around its level, not a zoom into rounding
    noise; silence (or nothing finite), -1 to 1."""
    values = np.concatenate([lo, hi])
    values = values[np.isfinite(values)]
    if not values.size or not values.any():
        return -_AUDIO_MARGIN - 1.0, 1.0 + _AUDIO_MARGIN
    bottom, top = float(values.min()), float(values.max())
    least = _FLAT_AUDIO_SPAN * max(abs(bottom), abs(top))
    if top - bottom < least:
        middle = (bottom + top) / 2
        bottom, top = middle - least / 2, middle + least / 2
    margin = _AUDIO_MARGIN * (top - bottom)
    return bottom - margin, top + margin


def _valid_range(spec: Optional[Mapping[str, Any]]) -> Optional[Tuple[float, float]]:
    """A continuous knob's param-config range, when it has one."""
    if spec is None or spec.get("type") == "boolean":
        return None
    lo, hi = _number(spec.get("minval")), _number(spec.get("maxval"))
    return (lo, hi) if lo is not None and hi is not None and lo < hi else None


def _flat_value(values: np.ndarray) -> Optional[float]:
    """The value of a knob that stays put (all its finite values equal), else None."""
    finite = values[np.isfinite(values)]
    return float(finite[0]) if finite.size and (finite == finite[0]).all() else None


def _knob_ticks(low: float, high: float, valid: Optional[Tuple[float, float]], flat: Optional[float]) -> List[float]:
    """A knob panel's ticks, most telling first: the value of a knob that stays put (so
    drive = 0.7 can be read off the plot), its range's ends, then the panel's ends; a
    tick too close to one already kept is left out, so labels never overlap. A flat knob
    of unknown range has only its value (the panel's ends are made up around it)."""
    if flat is not None and valid is None:
        return [flat]
    wanted = ([flat] if flat is not None else []) + (list(valid) if valid else []) + [low, high]
    room = _TICK_ROOM * (high - low)
    kept: List[float] = []
    for tick in wanted:
        if all(abs(tick - k) > room for k in kept):
            kept.append(tick)
    return sorted(kept)


def _envelope(x: np.ndarray, duration: float):
    """(time, min, max) of the waveform in at most _COLUMNS columns."""
    envelope = WaveformEnvelope(x.size)
    envelope.add(x)
    return envelope.columns(duration)
