"""Pictures: filters, reconstructions, samples, projections, training curves and bar charts.

Callbacks and the command line call these functions; models never plot. Figures are built
as :class:`matplotlib.figure.Figure` objects drawn by ``FigureCanvasAgg``, never through
``pyplot``, so nothing here needs a display or touches matplotlib's global state and the
package is safe to use from worker processes and headless machines. No model is imported:
the figures of a model take it duck-typed.

Every ``save_*`` / ``plot_*`` function validates its input before drawing, creates the
parent folders, writes the PNG atomically (a temporary file in the same folder, then
``os.replace``, so a reader never sees half a file) and returns the :class:`~pathlib.Path`.

- :mod:`~layerwise.plots.images`: :func:`image_grid` (the pure-numpy core: it tiles a batch of
  images into one array), :func:`save_image_grid`, :func:`plot_filters`,
  :func:`plot_reconstructions`, :func:`plot_samples`, :func:`plot_projections`;
- :mod:`~layerwise.plots.charts`: :func:`plot_curves`, :func:`plot_lines`, :func:`plot_bars`;
- :mod:`~layerwise.plots.conv`: :func:`plot_csc` (convolutional sparse coding) and
  :func:`projection_figure` (Zeiler & Fergus's figure 2).
"""

from .charts import plot_bars, plot_curves, plot_lines
from .conv import plot_csc, projection_figure
from .images import (check_image_shape, image_grid, plot_filters, plot_projections, plot_reconstructions,
                     plot_samples, save_image_grid)

__all__ = [
    "image_grid",
    "save_image_grid",
    "plot_filters",
    "plot_reconstructions",
    "plot_projections",
    "plot_samples",
    "plot_curves",
    "plot_lines",
    "plot_bars",
    "plot_csc",
    "projection_figure",
    "check_image_shape",
]
