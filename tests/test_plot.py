"""Plots (compat.migrate.plot, matplotlib off screen): the pack's loudness.png and the
knob-automation plot. What the figures say (title, axis labels and units, tick values,
legend, one line per combination, lines that coincide kept visible) is checked on the
matplotlib objects; the PNG bytes are read back with Pillow (a matplotlib dependency)."""

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from PIL import Image  # noqa: E402

from compat.migrate.plot import (  # noqa: E402
    PlotUnavailable,
    WaveformEnvelope,
    automation_figure,
    loudness_figure,
    loudness_png,
    plot_automation,
)

ROOT = Path(__file__).resolve().parent.parent
GRID = [("drive", [0.0, 0.5, 1.0]), ("tone", [0.0, 1.0]), ("bright", [0.0, 1.0])]
KNOBS = [{"name": "bright", "type": "boolean", "default": 0.0, "minval": None, "maxval": None},
         {"name": "drive", "type": "continuous", "default": 0.3, "minval": 0.0, "maxval": 1.0},
         {"name": "level", "type": "continuous", "default": 0.5, "minval": 0.0, "maxval": 1.0},
         {"name": "tone", "type": "continuous", "default": 0.5, "minval": 0.0, "maxval": 1.0}]


def points(gain=lambda d, t, b: 0.0, loud=lambda d, t, b: -30 + 10 * d - 4 * t + 2 * b):
    return [({"drive": d, "tone": t, "bright": b, "level": 0.5}, loud(d, t, b), gain(d, t, b))
            for d in (0.0, 0.5, 1.0) for t in (0.0, 1.0) for b in (0.0, 1.0)]


def figure(**kw):
    return loudness_figure(GRID, points(**kw), title="amp.ckpt (CatLSTM): the pack's 12 files", knobs=KNOBS,
                           fixed={"level": 0.5})


def test_loudness_figure_says_what_it_shows():
    fig = figure()
    top, bottom = fig.axes
    assert "amp.ckpt (CatLSTM)" in fig.get_suptitle() and "level=0.5" in fig.get_suptitle()
    assert top.get_ylabel() == "loudness (dB RMS)" and bottom.get_ylabel().startswith("gain (0 = linear, 1 = compressed")
    assert bottom.get_xlabel() == "drive (knob value, range 0 to 1)"
    assert [t.get_text() for t in bottom.get_xticklabels()] == ["0", "0.5", "1"]
    assert [t.get_text() for t in top.get_yticklabels()]  # tick values on the loudness axis
    legend = top.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["tone=0 bright=0", "tone=0 bright=1",
                                                          "tone=1 bright=0", "tone=1 bright=1"]
    lines = top.get_lines()
    assert len(lines) == 4 and len(bottom.get_lines()) == 4
    # the data: loudness against drive, one line per (tone, bright)
    assert list(lines[1].get_xdata()) == [0.0, 0.5, 1.0]
    assert list(lines[1].get_ydata()) == [-28.0, -23.0, -18.0]


def test_coinciding_gain_lines_stay_visible():
    fig = figure()  # every gain is 0.0: four identical lines
    bottom = fig.axes[1]
    lines = bottom.get_lines()
    assert len({(ln.get_marker(), ln.get_linestyle()) for ln in lines}) == 4
    sizes = [ln.get_markersize() for ln in lines]
    assert sizes == sorted(sizes, reverse=True) and len(set(sizes)) == 4  # concentric rings
    assert all(ln.get_markerfacecolor() == "none" for ln in lines)
    lo, hi = bottom.get_ylim()
    assert hi - lo >= 0.1 and -0.03 <= lo <= 0 and hi <= 0.15  # a readable scale, inside [0, 1]
    assert any("all 4 lines coincide at 0" in t.get_text() for t in bottom.texts)


def test_varying_gain_is_not_flattened():
    fig = figure(gain=lambda d, t, b: 0.2 + 0.5 * d * (1 + t))
    lo, hi = fig.axes[1].get_ylim()
    assert lo <= 0.2 and hi >= 1.2 and not fig.axes[1].texts


def test_flat_gain_near_one_keeps_inside_the_range():
    lo, hi = figure(gain=lambda d, t, b: 1.0).axes[1].get_ylim()
    assert hi <= 1.02 and hi - lo >= 0.1


def test_one_knob_grid_and_gaps():
    pts = [({"drive": 0.0}, -20.0, 0.1), ({"drive": 1.0}, None, None)]
    fig = loudness_figure([("drive", [0.0, 1.0])], pts, title="m")
    (line,) = fig.axes[0].get_lines()
    assert fig.axes[0].get_legend() is None and np.isnan(line.get_ydata()[1])
    assert fig.axes[1].get_xlabel() == "drive (knob value)"


def test_png_bytes():
    data = loudness_png(GRID, points(), title="t", knobs=KNOBS)
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.size == (900, 700)
    pixels = np.asarray(image.convert("RGB"))
    assert (pixels < 128).any() and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20  # text and coloured lines
    assert "Software" not in image.info and loudness_png(GRID, points(), title="t", knobs=KNOBS) == data


def test_many_lines_get_an_ordered_colour_scale():
    grid = [("drive", [0.0, 1.0]), ("tone", [i / 11 for i in range(12)])]
    pts = [({"drive": d, "tone": t}, -20 - d - t, 0.5) for d in (0.0, 1.0) for t in grid[1][1]]
    fig = loudness_figure(grid, pts, title="m")
    lines = fig.axes[0].get_lines()
    assert len(lines) == 12 and len({ln.get_color() for ln in lines}) == 12
    # a colorbar names the knob instead of a legend entry per line; the colour follows its value
    assert fig.axes[0].get_legend() is None and fig.axes[2].get_ylabel() == "tone (line colour)"
    import matplotlib.colors as mc
    greens = [mc.to_rgb(ln.get_color())[1] for ln in lines]  # viridis: green rises along the scale
    assert greens == sorted(greens)


def test_automation_figure():
    rate = 1000
    audio = np.sin(np.linspace(0, 60, 2500))
    curves = {"drive": np.linspace(0, 1, 2500), "bright": np.array([0.0, 0.0, 1.0, 1.0, 1.0])}
    fig = automation_figure(audio, rate, curves, "amp.nam: automation", knobs=KNOBS)
    ax, drive_ax, bright_ax = fig.axes  # the waveform, then one panel per knob, sharing the time axis
    assert ax.get_ylabel() == "audio (sample value)" and ax.get_title() == "amp.nam: automation"
    assert bright_ax.get_xlabel() == "time (s)" and ax.get_xlim() == bright_ax.get_xlim() == (0.0, 2.5)
    (drive,), (bright,) = drive_ax.get_lines(), bright_ax.get_lines()
    assert (drive_ax.get_ylabel(), bright_ax.get_ylabel()) == ("drive", "bright")
    assert drive.get_label() == "drive (range 0 to 1)" and bright.get_label() == "bright (switch)"
    assert np.allclose(bright.get_xdata(), [0.25, 0.75, 1.25, 1.75, 2.25])  # block values spread over the 2.5 s
    assert [t.get_text() for t in bright_ax.get_yticklabels()] == ["off", "on"]
    assert [t.get_text() for t in drive_ax.get_yticklabels()] == ["0", "1"]


def test_each_knob_is_drawn_on_its_own_range():
    """A sweep over a sixth of a knob's range looks like one: the panel spans the param
    config's range, not the values (the README's drive=0:0,30:1 on a 5 s file)."""
    rate, audio = 1000, np.zeros(5000)
    curves = {"drive": np.linspace(0, 1 / 6, 500), "tone": np.full(500, 0.3), "level": np.linspace(0.5, 1.5, 500)}
    fig = automation_figure(audio, rate, curves, "t", knobs=KNOBS)
    drive_ax, tone_ax, level_ax = fig.axes[1:]
    for panel in (drive_ax, tone_ax):
        lo, hi = panel.get_ylim()
        assert lo < 0 < 1 < hi and hi - lo < 1.3  # 0 to 1 with a margin
    (drive,) = drive_ax.get_lines()
    lo, hi = drive_ax.get_ylim()
    assert (drive.get_ydata().max() - lo) / (hi - lo) < 0.3  # the line stays in the panel's lower part
    lo, hi = level_ax.get_ylim()
    assert lo < 0 and 1.5 < hi  # extrapolated values widen the range instead of leaving the panel
    # without specs: the values' own span (a flat one around its value)
    free = automation_figure(audio, rate, {"x": np.full(10, 2.0)}, "t").axes[1]
    lo, hi = free.get_ylim()
    assert lo < 2 < hi and free.get_lines()[0].get_label() == "x (range unknown)"


def _tick_texts(panel):
    return [t.get_text() for t in panel.get_yticklabels()]


def test_a_knob_that_stays_put_shows_its_value():
    """A constant knob's panel labels its value (drive = 0.7 reads off the plot), beside
    its range's ends; a flat knob of unknown range shows its value alone."""
    rate, audio = 1000, np.zeros(2000)
    curves = {"drive": np.full(200, 0.7), "tone": np.full(200, 0.95), "bright": np.zeros(200)}
    fig = automation_figure(audio, rate, curves, "t", knobs=KNOBS)
    drive_ax, tone_ax, bright_ax = fig.axes[1:]
    assert _tick_texts(drive_ax) == ["0", "0.7", "1"]
    assert _tick_texts(tone_ax) == ["0", "0.95"]  # 1 is too close to label beside it
    assert _tick_texts(bright_ax) == ["off", "on"]
    free = automation_figure(audio, rate, {"knob 1": np.full(10, 0.3)}, "t").axes[1]
    assert _tick_texts(free) == ["0.3"]
    moving = automation_figure(audio, rate, {"drive": np.linspace(0.2, 0.6, 50)}, "t", knobs=KNOBS).axes[1]
    assert _tick_texts(moving) == ["0", "1"]


def _shown_share(ax, lo, hi):
    bottom, top = ax.get_ylim()
    return (hi - lo) / (top - bottom)


def test_waveform_panel_spans_the_outputs_own_range():
    """An output with a DC offset fills the waveform panel instead of lying along one edge of
    a range symmetric about 0."""
    rate = 1000
    offset = -0.017 + 0.004 * np.sin(np.linspace(0, 40, 3000))
    ax = automation_figure(offset, rate, {"drive": np.linspace(0, 1, 10)}, "t", knobs=KNOBS).axes[0]
    bottom, top = ax.get_ylim()
    assert bottom < offset.min() and offset.max() < top and _shown_share(ax, offset.min(), offset.max()) > 0.8
    # centred audio keeps 0 in the middle, as before
    centred = np.sin(np.linspace(0, 40, 3000))
    ax = automation_figure(centred, rate, {"drive": np.linspace(0, 1, 10)}, "t").axes[0]
    bottom, top = ax.get_ylim()
    assert bottom == pytest.approx(-top, rel=1e-3) and _shown_share(ax, -1, 1) > 0.8
    # a flat output: a readable scale around its level, not rounding noise filling the panel
    flat = np.full(3000, 0.04, dtype=np.float32).astype(np.float64) + np.tile([0, 1e-9], 1500)
    bottom, top = automation_figure(flat, rate, {"d": [0.0]}, "t").axes[0].get_ylim()
    assert bottom < 0.04 < top and 0.0005 < top - bottom < 0.01
    # silence: -1 to 1 (with its margin)
    bottom, top = automation_figure(np.zeros(100), rate, {"d": [0.0]}, "t").axes[0].get_ylim()
    assert bottom < -1 and 1 < top < 1.2


def _range_marks(panel):
    """(low, high) of the shaded band and the heights of dashed horizontal lines."""
    bands = [p.get_path().transformed(p.get_patch_transform()).vertices for p in panel.patches]
    bands = [(v[:, 1].min(), v[:, 1].max()) for v in bands]
    dashed = sorted(ln.get_ydata()[0] for ln in panel.get_lines() if ln.get_linestyle() == "--")
    return bands, dashed


def test_extrapolated_knob_marks_its_valid_range():
    """--extrapolate with a curve outside the knob's range: the panel runs beyond the range,
    which stays visible as a shaded band between dashed lines, its ends labelled."""
    rate, audio = 1000, np.zeros(5000)
    panel = automation_figure(audio, rate, {"drive": np.linspace(-1, 3, 500)}, "t", knobs=KNOBS).axes[1]
    bands, dashed = _range_marks(panel)
    assert [(pytest.approx(lo), pytest.approx(hi)) for lo, hi in bands] == [(0.0, 1.0)] and dashed == [0.0, 1.0]
    assert _tick_texts(panel) == ["-1", "0", "1", "3"]
    (curve,) = [ln for ln in panel.get_lines() if ln.get_linestyle() != "--"]
    assert curve.get_label() == "drive (range 0 to 1, shaded; extrapolated outside it)"
    # inside its range: nothing added
    inside = automation_figure(audio, rate, {"drive": np.linspace(0, 1, 500)}, "t", knobs=KNOBS).axes[1]
    assert _range_marks(inside) == ([], []) and inside.get_lines()[0].get_label() == "drive (range 0 to 1)"


def test_plot_automation_writes_a_png(tmp_path):
    out = plot_automation(tmp_path / "a.png", np.zeros(48_000 * 3), 48_000, {"tone": np.full(100, 0.5)}, "silence")
    image = Image.open(out)
    assert out == tmp_path / "a.png" and image.format == "PNG" and image.size == (1000, 500)
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]  # written atomically, nothing left beside


@pytest.mark.parametrize("audio, rate, curves, message", [
    (np.zeros(0), 48_000, {"a": [0]}, "no samples"),
    (np.zeros((2, 10)), 48_000, {"a": [0]}, "mono"),
    (np.zeros(10), 0, {"a": [0]}, "rate"),
    (np.zeros(10), float("nan"), {"a": [0]}, "rate"),
    (np.zeros(10), 48_000, {}, "no automation curves"),
    (np.zeros(10), 48_000, {"a": []}, "'a' has no values"),
])
def test_automation_rejects(audio, rate, curves, message):
    with pytest.raises(ValueError, match=message):
        automation_figure(audio, rate, curves, "x")


@pytest.mark.parametrize("n", [1, 7, 1500, 1501, 100_003])
def test_envelope_gathered_in_blocks_is_the_whole_signals(n):
    """render --plot gathers the envelope block by block while streaming: the same columns as
    the min/max of the whole signal, whatever the blocks."""
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n)
    envelope, i = WaveformEnvelope(n), 0
    while i < n:
        size = int(rng.integers(1, 5000))
        envelope.add(x[i:i + size])
        i += size
    edges = np.linspace(0, n, min(n, 1500) + 1).astype(int)  # about one column per pixel
    assert envelope.complete and envelope.lo.size == min(n, 1500)
    assert np.array_equal(envelope.lo, np.minimum.reduceat(x, edges[:-1]))
    assert np.array_equal(envelope.hi, np.maximum.reduceat(x, edges[:-1]))
    with pytest.raises(ValueError, match=f"made for {n} samples"):
        envelope.add([0.0])


def test_envelope_skips_non_finite_samples():
    envelope = WaveformEnvelope(6, columns=3)
    envelope.add([0.5, np.nan, np.inf])
    envelope.add([-np.inf, 0.25, -0.5])
    t, lo, hi = envelope.columns(3.0)
    assert np.allclose(t, [0.5, 1.5, 2.5])
    assert np.allclose(lo, [0.5, np.nan, -0.5], equal_nan=True) and np.allclose(hi, [0.5, np.nan, 0.25], equal_nan=True)


def test_automation_figure_from_an_envelope_draws_the_same():
    rate, audio = 1000, np.sin(np.linspace(0, 60, 2500))
    envelope = WaveformEnvelope(audio.size)
    for i in range(0, audio.size, 333):
        envelope.add(audio[i:i + 333])
    figures = [automation_figure(a, rate, {"drive": np.linspace(0, 1, 100)}, "t") for a in (audio, envelope)]
    paths = [fig.axes[0].collections[0].get_paths()[0].vertices for fig in figures]
    assert np.array_equal(paths[0], paths[1])
    assert figures[0].axes[0].get_ylim() == figures[1].axes[0].get_ylim()


def test_without_matplotlib(monkeypatch):
    for name in [n for n in sys.modules if n == "matplotlib" or n.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(PlotUnavailable, match=r"pip install matplotlib"):
        loudness_png(GRID, points(), title="t")
    with pytest.raises(PlotUnavailable):
        plot_automation("/nonexistent/x.png", np.zeros(10), 10, {"a": [0]}, "t")


def test_never_a_display(tmp_path):
    """No pyplot, no GUI backend: drawing works with a GUI backend requested and no display."""
    script = (
        "import sys, numpy as np\n"
        "from compat.migrate.plot import loudness_png, plot_automation\n"
        "loudness_png([('d', [0, 1])], [({'d': 0}, -1, 0), ({'d': 1}, -2, 0)], title='t')\n"
        f"plot_automation({str(tmp_path / 'a.png')!r}, np.zeros(100), 100, {{'k': [0, 1]}}, 't')\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["MPLBACKEND"] = "TkAgg"
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


# -- large grids: readable ticks, legends and colour scales -------------------------------------------------


def _linspace(a, b, n):
    return [float(f"{v:.12g}") for v in np.linspace(a, b, n)]  # as parse_grid makes them


def _grid_points(grid):
    import itertools

    names = [n for n, _ in grid]
    return [(dict(zip(names, combo)), -30 + sum(combo), min(1.0, sum(combo) / 4)) for combo in
            itertools.product(*(v for _, v in grid))]


def _drawn_labels(axis):
    """The tick labels matplotlib draws (inside the view), with their boxes on the canvas."""
    fig = axis.axes.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    lo, hi = sorted(axis.get_view_interval())
    ticks = [t for t in axis.get_major_ticks() if lo - 1e-9 <= t.get_loc() <= hi + 1e-9]
    labels = [lab for t in ticks for lab in (t.label1, t.label2) if lab.get_visible() and lab.get_text()]  # label2: a colorbar's
    return [(lab.get_text(), lab.get_window_extent(renderer)) for lab in labels]


def _no_overlaps(labels):
    boxes = [b for _, b in labels]
    return not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


@pytest.mark.parametrize("grid", [
    [("drive", _linspace(0, 1, 20)), ("tone", _linspace(0, 1, 10))],
    [("drive", _linspace(0, 1, 20))],
    [("drive", _linspace(-1, 1, 101)), ("tone", [0.0, 1.0])],
    [("drive", [0.0, 1 / 3, 2 / 3, 1.0])],
])
def test_x_ticks_are_few_short_and_apart(grid):
    fig = loudness_figure(grid, _grid_points(grid), title="m")
    labels = _drawn_labels(fig.axes[1].xaxis)
    assert 2 <= len(labels) <= 8 and _no_overlaps(labels), [t for t, _ in labels]
    assert all(len(text.lstrip("−-")) <= 5 for text, _ in labels), [t for t, _ in labels]  # 3 significant digits
    xs = grid[0][1]
    if len(xs) > 8:  # round numbers, and every file's place as a minor tick
        marked = list(fig.axes[1].xaxis.get_minorticklocs()) + list(fig.axes[1].get_xticks())  # minor ones under a major one are not repeated
        assert all(min(abs(m - x) for m in marked) < 1e-9 for x in xs)
    else:  # few values: a tick at each
        assert list(fig.axes[1].get_xticks()) == pytest.approx(xs)


def test_legend_labels_are_short():
    grid = [("drive", _linspace(0, 1, 5)), ("tone", _linspace(0, 1, 10))]
    legend = loudness_figure(grid, _grid_points(grid), title="m").axes[0].get_legend()
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts[:3] == ["tone=0", "tone=0.111", "tone=0.222"] and len(texts) == 10


def test_a_20_by_10_pack_has_a_legend_of_ten_short_lines():
    grid = [("drive", _linspace(0, 1, 20)), ("tone", _linspace(0, 1, 10))]
    fig = loudness_figure(grid, _grid_points(grid), title="m")
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert len(texts) == 10 and max(map(len, texts)) <= len("tone=0.111")
    assert len(fig.axes) == 2  # no colorbar at 10 lines


def test_many_lines_with_a_third_knob_get_a_colorbar_and_a_style_legend():
    grid = [("drive", _linspace(0, 1, 20)), ("bright", [0.0, 1.0]), ("tone", _linspace(0, 1, 10))]
    fig = loudness_figure(grid, _grid_points(grid), title="m")
    top, bottom, bar = fig.axes
    assert len(top.get_lines()) == 20
    assert bar.get_ylabel() == "tone (line colour)"  # the knob with the most values takes the colour
    ticks = _drawn_labels(bar.yaxis)
    assert 2 <= len(ticks) <= 8 and _no_overlaps(ticks)
    assert [t.get_text() for t in top.get_legend().get_texts()] == ["bright=0", "bright=1"]
    styles = {(ln.get_linestyle(), ln.get_marker()) for ln in top.get_lines()}
    assert len(styles) == 2  # one per bright value
