"""course_utils.plots: the course's colour-blind-safe palette, set once, and a text alternative for every figure
(written from its titles, axes and contents, carried as the image's alt metadata and its text/plain form)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from course_utils import plots  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_setup_notebook_sets_the_okabe_ito_cycle_in_one_place():
    from course_utils.notebook import _style_plots

    with matplotlib.rc_context():
        _style_plots()
        assert matplotlib.rcParams["axes.prop_cycle"].by_key()["color"] == list(plots.PALETTE)
        _, ax = plt.subplots()
        (line,) = ax.plot([0, 1], [0, 1])
        assert matplotlib.colors.to_hex(line.get_color()).upper() == "#0072B2"
        assert matplotlib.colors.to_hex("C3").upper() == "#D55E00", "'C3' is the palette's vermillion, not tab10's red"
    assert "tab10" not in str(plots.PALETTE) and len(set(plots.PALETTE)) == 8


def test_a_line_plot_is_described_by_its_title_axes_and_legend():
    fig, ax = plt.subplots()
    xs = torch.linspace(0.05, 4.0, 50).numpy()
    ax.plot(xs, np.log(xs), label=r"$\log x$ (concave)")
    ax.scatter(xs[:30], np.log(xs[:30]), label=r"samples $(x_i, \log x_i)$")
    ax.plot(1.0, 0.0, "o", label=r"$(\mathbb{E}[X],\ \log \mathbb{E}[X])$")
    ax.set(xlabel="$x$", ylabel=r"$\log x$", title="Jensen's inequality for the concave log")
    ax.legend()
    alt = plots.describe(fig)
    assert alt.startswith("Figure: Jensen's inequality for the concave log.")
    assert "1 line" in alt and "1 marker" in alt and "30 points" in alt
    assert "log x (concave)" in alt and "(E[X], log E[X])" in alt and "\\" not in alt and "$" not in alt
    assert "x from" in alt and "log x from" in alt


def test_an_image_grid_a_heatmap_and_a_figure_of_its_own():
    grid = plots.show_images(torch.rand(12, 1, 28, 28), titles=[f"#{i}" for i in range(12)], title="Samples")
    assert plots.describe(grid) == ("Figure: Samples. A grid of 12 images (28x28 each), titled #0, #1, #2, #3, "
                                    "#4, #5, #6, #7, #8, #9, #10, #11.")
    fig, (a, b) = plt.subplots(1, 2)
    fig.colorbar(a.imshow(np.random.rand(24, 24)), ax=a)
    a.set_title("$s_{i,j}$")
    b.bar(range(3), [1, 2, 3])
    alt = plots.describe(fig)
    assert "2 panels" in alt and "an image (24x24)" in alt and "3 bars" in alt and "colour bar" in alt
    plots.set_alt(fig, "Similarity matrices of two encoders: the trained one has a bright diagonal.")
    assert plots.describe(fig).startswith("Similarity matrices")
    _, empty = plt.subplots()
    assert plots.describe(empty.figure) == "Figure. Nothing drawn."


def test_a_displayed_figure_carries_its_alt_text_as_metadata_and_plain_text():
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.core.pylabtools import select_figure_formats

    shell = InteractiveShell.instance()
    select_figure_formats(shell, {"png"})  # what the inline backend registers
    assert plots.install_alt_text()
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [3, 1, 2])
    ax.set_title("A curve")
    data, metadata = shell.display_formatter.format(fig)
    assert data["image/png"] and data["text/plain"] == plots.describe(fig)
    assert metadata["image/png"]["alt"].startswith("Figure: A curve. 1 line")


def test_the_slider_figure_draws_an_image_with_its_alt_text():
    import ipywidgets as widgets

    def draw(t):
        _, ax = plt.subplots()
        ax.plot([0, 1], [0, t])
        ax.set_title(f"t = {t}")
        plt.show()

    box = plots.interactive_figure(draw, t=widgets.FloatSlider(value=0.5, min=0, max=1))
    (out,) = box.children[-1].outputs
    assert out["data"]["text/html"].startswith('<img src="data:image/png;base64,')
    assert 'alt="Figure: t = 0.5. 1 line' in out["data"]["text/html"]
    assert out["metadata"]["image/png"]["alt"] == out["data"]["text/plain"]
