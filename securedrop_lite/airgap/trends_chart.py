"""Draw the trends report as a PNG: published counts as bars, suppressed ones as x."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from securedrop_lite.airgap.suppression import Cell, JointTable

if TYPE_CHECKING:
    from matplotlib.axes import Axes

TITLE = "Cases per category and period (cells below k suppressed)"
FOOTNOTE = "x at the base of a group: suppressed (no number is shown for it)"
DPI = 100  # fixed, so the same tags always give the same image
_PANEL_HEIGHT = 3.2  # inches
_MAX_WIDTH = 24.0  # inches: a long monthly report stays an image one can open


def render_chart(table: JointTable, suppressed: frozenset[Cell], k: int) -> bytes:
    """Return a PNG with one panel per dimension and grouped bars per period."""
    # Imported here so the other commands never load matplotlib. Figure with the Agg
    # canvas draws off-screen without pyplot's global state or any GUI backend.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dimensions = list(table.counts)
    widest = max(len(values) for values in table.counts.values())
    width = min(6.0 + 0.15 * widest * len(table.periods), _MAX_WIDTH)
    figure = Figure(figsize=(width, 1.0 + _PANEL_HEIGHT * len(dimensions)), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(dimensions), 1, squeeze=False)[:, 0]
    for panel, dimension in zip(axes, dimensions, strict=True):
        _draw_panel(panel, table, suppressed, dimension)
    figure.suptitle(f"{TITLE}, k = {k}")
    figure.supxlabel(FOOTNOTE, fontsize="small")
    png = io.BytesIO()
    # Software: None leaves out the matplotlib version the PNG would otherwise carry.
    figure.savefig(png, format="png", dpi=DPI, metadata={"Software": None})
    return png.getvalue()


def _draw_panel(
    panel: Axes, table: JointTable, suppressed: frozenset[Cell], dimension: str
) -> None:
    """Draw one dimension: a bar per published cell, an x at the base per suppressed one."""
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    values = list(table.counts[dimension])
    bar_width = 0.8 / len(values)
    tallest = 1  # a panel with every cell suppressed still gets whole-number ticks
    for number, value in enumerate(values):
        offset = (number - (len(values) - 1) / 2) * bar_width
        shown_x, shown_height, hidden_x = [], [], []
        for position, period in enumerate(table.periods):
            cell = Cell(dimension, value, period)
            if cell in suppressed:
                hidden_x.append(position + offset)
            else:
                shown_x.append(position + offset)
                shown_height.append(table.count(cell))
                tallest = max(tallest, table.count(cell))
        colour = f"C{number % 10}"
        panel.bar(shown_x, shown_height, width=bar_width, color=colour)
        # Never a height for a suppressed cell: only a mark on the axis line.
        panel.scatter(
            hidden_x, [0] * len(hidden_x), marker="x", s=16, color=colour, clip_on=False, zorder=3
        )
    panel.set_title(dimension)
    panel.set_xticks(range(len(table.periods)), table.periods, rotation=45, ha="right")
    panel.set_ylim(0, tallest * 1.1)
    panel.yaxis.set_major_locator(MaxNLocator(integer=True))
    handles = [Patch(color=f"C{n % 10}", label=value) for n, value in enumerate(values)]
    panel.legend(handles=handles, fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
