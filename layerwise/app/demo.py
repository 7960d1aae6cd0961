"""The deconvolutional section of ``layerwise demo``: a small CNN's projections, sparse-coding filters."""

from __future__ import annotations

from pathlib import Path

from ..models.cnn import describe_cnn
from .config import load_config
from .tasks import train_single

__all__ = ["run_deconv_demo"]


def run_deconv_demo(out: Path, progress: bool = True, log=print, cnn_epochs: int = 8, csc_epochs: int = 2) -> str:
    """The demo's deconvolutional section: a small CNN on the digits with its Zeiler-Fergus
    projections (``deconv-cnn/``), and convolutional sparse coding filters (``deconv-csc/``).

    Parameters
    ----------
    out : Path
        The demo's run folder; the two runs go into sub-folders.
    progress : bool
        Show progress bars.
    log : callable
        Where progress lines go.
    cnn_epochs, csc_epochs : int
        Training epochs of the CNN and of the sparse coder.

    Returns
    -------
    str
        A Markdown section for the demo's report.
    """
    section = ["", "## Deconvolutional networks", ""]
    cnn = load_config("digits_cnn", [f"train.epochs={cnn_epochs}"])
    row = train_single(cnn, out / "deconv-cnn", progress, log)
    section.append(f"A small CNN ({describe_cnn(cnn.model['network'])}) trained on all digits labels for {cnn_epochs} epochs: test "
                   f"accuracy {row['test_accuracy'] * 100:.1f} % ({row['seconds']:.0f} s). Its feature maps "
                   "projected back to pixels by a deconvnet (Zeiler & Fergus 2014), beside the input patches "
                   "that excite them most (`layerwise visualize deconv-cnn` redraws it):")
    section += ["", "![projections](deconv-cnn/projections.png)", ""]
    csc = load_config("digits_csc", [f"train.epochs={csc_epochs}"])
    row = train_single(csc, out / "deconv-csc", progress, log)
    section.append(f"Convolutional sparse coding (Zeiler et al. 2010), {csc.model['n_filters']} filters of "
                   f"{csc.model['kernel_size']}x{csc.model['kernel_size']} learned with FISTA inference: test "
                   f"objective {row['test_objective']:.3g}, {row['test_sparsity'] * 100:.1f} % of the "
                   "feature-map entries non-zero:")
    section += ["", "![csc](deconv-csc/csc.png)", ""]
    return "\n".join(section)
