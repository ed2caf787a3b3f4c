"""Plot helpers: image grids, training curves, slider figures; the course's plot style, its colour-blind-safe
palette, and a text alternative for every figure.

:func:`use_course_style` (which ``setup_notebook`` calls) sets the course's matplotlib style once: its sizes and
:data:`PALETTE`, the Okabe-Ito colours (distinguishable with the common colour-vision deficiencies) as the
default colour cycle, so ``"C0"``, ``"C1"``, ... and every unnamed line take them. In IPython it also gives every
figure a notebook shows a text alternative: :func:`describe` writes it from the figure's titles, axes and what it
draws (or takes the one :func:`set_alt` gave), and it travels with the PNG as the output's ``alt`` metadata (which
nbconvert, so the course's site and decks, turns into the image's ``alt``) and as its ``text/plain`` form (what
a front end that shows no image, or a screen reader reading the output as text, gets).
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch

from .train import History

# Okabe & Ito (2008), "Color Universal Design": blue, orange, bluish green, vermillion, reddish purple, sky blue,
# black, yellow (last: the palest on white)
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442")
# ten classes (Fashion-MNIST's) need ten colours, more than a CVD-safe palette has: matplotlib's
# tableau-colorblind10, the closest to it, for a class scatter in place of "tab10"
CLASS_COLORS = ("#006BA4", "#FF800E", "#ABABAB", "#595959", "#5F9ED1", "#C85200", "#898989", "#A2C8EC", "#FFBC79",
                "#CFCFCF")
STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "figure.figsize": (7.0, 4.0),
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.constrained_layout.use": True,
}
ALT_LIMIT = 600  # characters: a text alternative says what a figure shows, not every number in it


def use_course_style() -> None:
    """The course's matplotlib style and colour cycle (:data:`PALETTE`), and, in IPython, a text alternative for
    every figure shown (:func:`install_alt_text`). ``setup_notebook`` calls it; calling it again changes nothing."""
    import matplotlib as mpl
    from cycler import cycler

    mpl.rcParams.update({**STYLE, "axes.prop_cycle": cycler(color=list(PALETTE))})
    install_alt_text()


def set_alt(fig, text: str) -> None:
    """Give ``fig`` a text alternative of its own, which :func:`describe` then returns."""
    fig._course_alt = str(text)


def _plain(text: str) -> str:
    """A label's mathtext as words a screen reader can say: ``$\\mathbb{E}_q[\\log p]$`` -> ``E_q[log p]``."""
    text = re.sub(r"\\(?:math[a-z]+|text[a-z]*|operatorname|boldsymbol)\s*\{([^{}]*)\}", r"\1", text)
    text = re.sub(r"\\(?:left|right|displaystyle)\b", "", text)
    text = re.sub(r"\\([,;:!]| )", " ", text)
    text = re.sub(r"\\(geq?|ge)\b", ">=", text)
    text = re.sub(r"\\(leq?|le)\b", "<=", text)
    text = re.sub(r"\\([A-Za-z]+)", r"\1", text)
    text = text.replace("$", "").replace("{", "").replace("}", "")
    return re.sub(r"\s+", " ", text).strip()


def _num(x: float) -> str:
    return f"{x:.3g}"


def _legend_labels(ax) -> list[str]:
    legend = ax.get_legend()
    return [_plain(t.get_text()) for t in legend.get_texts()] if legend else []


def _is_colorbar(ax) -> bool:
    return hasattr(ax, "_colorbar") or ax.get_label() == "<colorbar>"


def _panel(ax) -> str:
    """What one axes shows, in a sentence."""
    import matplotlib.collections as mcoll

    bits = []
    title = _plain(ax.get_title() or ax.get_title("left") or ax.get_title("right"))
    images = ax.get_images()
    shown = [ln for ln in ax.get_lines() if ln.get_visible()]
    lines = [ln for ln in shown if len(ln.get_xdata()) > 1]
    markers = len(shown) - len(lines)
    points = sum(len(c.get_offsets()) for c in ax.collections if isinstance(c, mcoll.PathCollection))
    bars = len(ax.patches)
    if images:
        shape = images[0].get_array().shape
        bits.append(f"{'an image' if len(images) == 1 else f'{len(images)} images'} ({shape[1]}x{shape[0]})")
    if lines:
        bits.append(f"{len(lines)} line{'s' if len(lines) > 1 else ''}")
    if markers:
        bits.append(f"{markers} marker{'s' if markers > 1 else ''}")
    if points:
        bits.append(f"{points} points")
    if bars and not images:
        bits.append(f"{bars} bars")
    labels = _legend_labels(ax)
    where = []
    if ax.axison and (not images or ax.get_xlabel() or ax.get_ylabel()):  # an image's pixel axes say nothing
        for name, label, lim, scale in (("x", ax.get_xlabel(), ax.get_xlim(), ax.get_xscale()),
                                        ("y", ax.get_ylabel(), ax.get_ylim(), ax.get_yscale())):
            text = _plain(label) or name
            where.append(f"{text} from {_num(min(lim))} to {_num(max(lim))}{' (log scale)' if scale == 'log' else ''}")
    sentence = (f"'{title}': " if title else "") + (", ".join(bits) or "empty")
    if labels:
        sentence += " (legend: " + "; ".join(labels) + ")"
    if where:
        sentence += "; " + ", ".join(where)
    return sentence


def describe(fig) -> str:
    """A text alternative for ``fig``: the one :func:`set_alt` gave it, else one written from its title, each
    panel's title, axes (labels and ranges), what it draws (images, lines, points, bars) and its legend. A grid of
    images without axes (:func:`show_images`) is said as one: how many, and their titles."""
    own = getattr(fig, "_course_alt", None)
    if own:
        return own
    suptitle = _plain(fig._suptitle.get_text()) if getattr(fig, "_suptitle", None) else ""
    axes = [ax for ax in fig.axes if ax.get_visible() and not _is_colorbar(ax)]
    drawn = [ax for ax in axes if ax.get_images() or ax.get_lines() or ax.collections or ax.patches]
    grid = [ax for ax in drawn if ax.get_images() and not ax.axison and not ax.get_lines()]
    head = f"Figure: {suptitle}." if suptitle else "Figure."
    if drawn and len(grid) == len(drawn) and len(grid) > 2:  # an image grid
        titles = [_plain(ax.get_title()) for ax in grid if ax.get_title()]
        shape = grid[0].get_images()[0].get_array().shape
        text = f"{head} A grid of {len(grid)} images ({shape[1]}x{shape[0]} each)"
        if titles:
            text += ", titled " + ", ".join(titles)
        text += "."
    elif not drawn:
        text = f"{head} Nothing drawn."
    else:
        panels = [_panel(ax) for ax in drawn]
        if len(panels) == 1 and not suptitle and panels[0].startswith("'"):  # its title is the figure's
            title, rest = panels[0][1:].split("': ", 1)
            text = f"Figure: {title}. {rest[:1].upper()}{rest[1:]}."
        elif len(panels) == 1:
            text = f"{head} {panels[0][:1].upper()}{panels[0][1:]}."
        else:
            text = f"{head} {len(panels)} panels. " + " ".join(f"{i}: {p}." for i, p in enumerate(panels, 1))
        if any(_is_colorbar(ax) for ax in fig.axes):
            text += " With a colour bar."
    return text if len(text) <= ALT_LIMIT else text[: ALT_LIMIT - 1].rstrip() + "…"


def _figure_bundle(fig, include=None, exclude=None):
    """IPython's mimebundle printer for figures: ``text/plain`` and the images' ``alt`` metadata from
    :func:`describe`; the image itself still comes from the inline backend's own formatter."""
    alt = describe(fig)
    return {"text/plain": alt}, {mime: {"alt": alt} for mime in ("image/png", "image/jpeg", "image/svg+xml")}


def install_alt_text() -> bool:
    """In IPython, give every figure displayed a text alternative (:func:`_figure_bundle`); returns whether it
    could (no IPython: nothing to do)."""
    try:
        from IPython import get_ipython
        from matplotlib.figure import Figure
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return False
    shell.display_formatter.mimebundle_formatter.for_type(Figure, _figure_bundle)
    return True


def figure_png_html(png: bytes, alt: str) -> str:
    """An ``<img>`` of a PNG with its text alternative, for outputs drawn as HTML (:func:`interactive_figure`)."""
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt, quote=True)}">'


def show_images(
    images: torch.Tensor,
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    title: str | None = None,
    scale: float = 1.1,
    cmap: str = "gray",
):
    """Show ``[N, 1, H, W]`` (or ``[N, H, W]``) images in a grid, optionally with a title each.

    Values are shown on a fixed [0, 1] scale, so a dark reconstruction looks dark.
    Returns the matplotlib figure.
    """
    imgs = images.detach().float().cpu()
    if imgs.dim() == 4:
        if imgs.shape[1] != 1:
            raise ValueError(f"show_images expects one channel, got shape {tuple(imgs.shape)}")
        imgs = imgs[:, 0]
    if imgs.dim() != 3:
        raise ValueError(f"show_images expects [N, 1, H, W] or [N, H, W], got shape {tuple(images.shape)}")
    n = len(imgs)
    ncols = max(1, min(ncols, n))
    nrows = (n + ncols - 1) // ncols
    height = scale * nrows + (0.3 if title else 0) + (0.25 * nrows if titles else 0)
    fig, axes = plt.subplots(nrows, ncols, figsize=(scale * ncols, height), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(imgs[i].clamp(0, 1), cmap=cmap, vmin=0, vmax=1)
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def plot_history(
    history: History | dict,
    keys: Sequence[str] | None = None,
    ax=None,
    title: str | None = None,
    logy: bool = False,
):
    """Plot per-epoch curves from a :class:`History` (or a ``{name: [values]}`` dict)."""
    metrics = history.metrics if isinstance(history, History) else history
    keys = list(keys) if keys is not None else list(metrics)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for k in keys:
        vals = metrics[k]
        ax.plot(range(1, len(vals) + 1), vals, marker="o" if len(vals) < 30 else None, label=k)
    ax.set_xlabel("epoch")
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    if len(keys) > 1:
        ax.legend()
    ax.grid(alpha=0.3)
    return ax


def interactive_figure(draw, **controls):
    """A figure that follows its controls, like ``ipywidgets.interactive(draw, **controls)``.

    ``draw(**values)`` draws with matplotlib and calls ``plt.show()``, as for ``interactive``; ``controls`` are
    widgets (sliders, dropdowns) whose ``value`` is passed under their keyword. Returns a ``VBox`` of the controls
    above the figure, to ``display``. Each control is a native ipywidgets control, so it is reached with Tab and
    changed with the arrow keys (a slider: arrows, Page Up/Down, Home/End); the figure follows, with its text
    alternative (:func:`describe`).

    Why not ``interactive`` itself: it draws into an ``Output`` widget by capturing the kernel's output messages,
    and nbclient (so ``nbconvert --execute``, nbgrader's autograde and the site's build) imitates that widget by
    sending a message back on the shell channel while it waits for the cell's reply there; the reply can be missed,
    and the cell then waits out its whole timeout (jupyter/nbclient#312; nbgrader's autograde of notebook 03 with
    a 120-s timeout: 135.9 s with ``interactive``, 15.8 s with this). Here the figure is drawn to a PNG and
    put into the ``Output`` widget's state directly, first and after every change, so that nothing is captured
    and the executed notebook keeps the figure in its widget state.
    """
    import contextlib
    import io
    import traceback

    import ipywidgets as widgets

    out = widgets.Output()

    def render(*_):
        before = set(plt.get_fignums())
        text = io.StringIO()
        show, plt.show = plt.show, lambda *a, **k: None  # draw() ends with plt.show(): keep its figures here
        try:
            with contextlib.redirect_stdout(text):
                draw(**{name: control.value for name, control in controls.items()})
            error = None
        except Exception:  # shown under the controls, as interactive shows it; the cell itself stays green
            error = traceback.format_exc()
        finally:
            plt.show = show
        outputs = []
        if text.getvalue():
            outputs.append({"output_type": "stream", "name": "stdout", "text": text.getvalue()})
        for num in sorted(set(plt.get_fignums()) - before):
            fig = plt.figure(num)
            png = io.BytesIO()
            fig.savefig(png, format="png", bbox_inches="tight")
            alt = describe(fig)
            plt.close(fig)
            # as HTML: JupyterLab and the site's widget renderer show a PNG output without its alt metadata
            outputs.append({"output_type": "display_data", "metadata": {"image/png": {"alt": alt}},
                            "data": {"text/html": figure_png_html(png.getvalue(), alt), "text/plain": alt}})
        if error:
            outputs.append({"output_type": "stream", "name": "stderr", "text": error})
        out.outputs = tuple(outputs)

    for control in controls.values():
        control.observe(render, names="value")
    render()
    return widgets.VBox([*controls.values(), out])
