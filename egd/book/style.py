"""One look for every figure of the book: a palette and a label per method, sizes for the page.

* :func:`method_style` — colour, line style and label of a method key
  (:func:`egd.grokking.labels.variant_key`): the same method has the same colour in every
  chapter. Variants (``decoupled-wd``, ...) keep the method's colour with a dashed line.
* :func:`use` — matplotlib settings for the book (fonts, dpi); every chapter calls it once.
* :func:`figure` — a figure as wide as the book's text column, its height set by the number
  of panel rows; more than :data:`MAX_COLUMNS` panels wrap onto new rows instead of
  squeezing.

Sizes: the text column of the built book is about :data:`TEXT_WIDTH_PX` CSS pixels wide.
Figures are drawn :data:`TEXT_WIDTH_IN` inches wide at :data:`DPI` dots per inch and scaled
to the column, so a font of ``f`` points renders at ``f * TEXT_WIDTH_PX / (72 * TEXT_WIDTH_IN)``
CSS pixels; :func:`rendered_points` turns that back into points (1 pt = 4/3 CSS px). The
smallest font used, :data:`SMALL_FONT_PT`, renders at about 8.5 pt.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from egd.grokking import labels, registry

__all__ = ["MethodStyle", "method_style", "PALETTE", "use", "figure", "rendered_points", "TEXT_WIDTH_IN",
           "TEXT_WIDTH_PX", "DPI", "SMALL_FONT_PT", "BASE_FONT_PT", "MAX_COLUMNS", "THRESHOLD_STYLE"]

TEXT_WIDTH_IN = 7.5   # figure width: the text column
TEXT_WIDTH_PX = 720   # the built book's text column at a 1280 px wide window (CSS px)
DPI = 150             # crisp on high-density screens; the image is scaled down to the column
BASE_FONT_PT = 11
SMALL_FONT_PT = 10    # ticks and legends
PANEL_HEIGHT_IN = 3.3
MAX_COLUMNS = 2

#: Okabe–Ito colours (readable with every common colour-vision deficiency), one per method.
PALETTE: dict[str, str] = {
    "vanilla": "#000000",
    "egd-svd": "#D55E00",
    "egd-svd-lapack": "#D55E00",
    "egd-gram": "#D55E00",
    "colnorm": "#009E73",
    "grokfast": "#0072B2",
    "egd-newton-schulz": "#56B4E9",
    "egd-svd-top": "#E69F00",
    "egd-svd-cut": "#8C510A",
    "egd-svd-batch": "#882255",  # Tol's wine: apart from the truncation's orange and exact EGD's vermilion
}
#: Exact EGD with a relative spectral cutoff: one hue (brown), lighter for smaller cutoffs.
CUTOFF_SHADES: dict[float, str] = {1e-2: "#8C510A", 1e-3: "#BF812D"}
#: RSVD ranks: one hue (purple), darker for larger ranks.
RSVD_SHADES: dict[int, str] = {128: "#4B0082", 64: "#7B3FA0", 40: "#9966CC", 36: "#9966CC", 30: "#B48BD6",
                               20: "#CC79A7", 16: "#7B3FA0", 10: "#E0A0C8", 8: "#B48BD6", 4: "#E0A0C8"}
RSVD_DEFAULT = "#9966CC"
#: The 95% threshold line drawn in accuracy plots.
THRESHOLD_STYLE = dict(color="0.45", lw=0.8, ls=":")


@dataclass(frozen=True)
class MethodStyle:
    color: str
    linestyle: str
    label: str

    def kwargs(self) -> dict:
        """For ``ax.plot(x, y, **style.kwargs())``."""
        return {"color": self.color, "linestyle": self.linestyle, "label": self.label}


def method_style(key: str) -> MethodStyle:
    """The style of a method key such as ``"egd-rsvd128"`` or ``"egd-svd decoupled-wd"``.

    ``ValueError`` for a key of no registered method (see :func:`egd.grokking.labels.method_label`).
    """
    label = labels.method_label(key)
    head, *variants = key.split(" ")
    cut = next((name for name in registry.METHODS if registry.METHODS[name].needs_cutoff
                and head.startswith(name)), None)
    if head in PALETTE:
        color = PALETTE[head]
    elif cut is not None:
        color = CUTOFF_SHADES.get(float(head[len(cut):]), PALETTE[cut])
    elif head.startswith("egd-svd-top"):
        color = PALETTE["egd-svd-top"]
    else:
        rsvd = next(name for name in registry.METHODS if registry.METHODS[name].needs_rank and head.startswith(name))
        color = RSVD_SHADES.get(int(head[len(rsvd):]), RSVD_DEFAULT)
    return MethodStyle(color, "--" if variants else "-", label)


def use() -> None:
    """Apply the book's matplotlib settings (fonts, dpi, inline PNG)."""
    import matplotlib as mpl

    mpl.rcParams.update({
        "figure.dpi": DPI, "savefig.dpi": DPI, "figure.figsize": (TEXT_WIDTH_IN, PANEL_HEIGHT_IN),
        "font.size": BASE_FONT_PT, "axes.titlesize": BASE_FONT_PT, "axes.labelsize": BASE_FONT_PT,
        "xtick.labelsize": SMALL_FONT_PT, "ytick.labelsize": SMALL_FONT_PT, "legend.fontsize": SMALL_FONT_PT,
        "legend.title_fontsize": SMALL_FONT_PT, "legend.framealpha": 0.9, "axes.grid": True, "grid.alpha": 0.25,
        "lines.linewidth": 1.6, "figure.constrained_layout.use": True,
    })
    try:  # inside IPython: inline PNG at the book's dpi, no cropping that would change the scale
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:
            shell.run_line_magic("config", "InlineBackend.figure_formats = ['png']")
            shell.run_line_magic("config", "InlineBackend.print_figure_kwargs = {'bbox_inches': None}")
    except ImportError:
        pass


def figure(panels: int = 1, *, columns: int | None = None, height: float = PANEL_HEIGHT_IN, **subplot_kw):
    """``(fig, axes)``: ``panels`` axes (a flat array), the full text width, ``height`` per row.

    At most :data:`MAX_COLUMNS` panels side by side; more wrap onto new rows. Unused slots
    of the last row are removed.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    if not isinstance(panels, int) or panels < 1:
        raise ValueError(f"panels must be an integer >= 1, got {panels!r}")
    columns = min(panels, MAX_COLUMNS) if columns is None else columns
    if not isinstance(columns, int) or not 1 <= columns <= MAX_COLUMNS:
        raise ValueError(f"columns must be an integer in [1, {MAX_COLUMNS}], got {columns!r}")
    rows = math.ceil(panels / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(TEXT_WIDTH_IN, height * rows), squeeze=False, **subplot_kw)
    axes = np.asarray(axes).ravel()
    for ax in axes[panels:]:
        ax.remove()
    return fig, axes[:panels]


def rendered_points(font_pt: float, figure_width_in: float = TEXT_WIDTH_IN) -> float:
    """The size in points at which a ``font_pt`` font of a figure ``figure_width_in`` wide appears
    once the figure is scaled to the text column (:data:`TEXT_WIDTH_PX` CSS px, 96 px per inch)."""
    return font_pt * TEXT_WIDTH_PX / (96.0 * figure_width_in)
