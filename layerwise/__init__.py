"""layerwise: unsupervised learning and greedy layer-wise pre-training on PyTorch.

>>> import layerwise as lw
>>> X, y = lw.datasets.load("digits")                    # embedded, no download
>>> stack = lw.pretrain([lambda n: lw.AutoEncoder(n, [64], loss="bce", noise="masking", noise_level=0.3)],
...                     X, epochs=10, optimizer="adam", lr=3e-3, progress=False)
>>> clf, history = lw.finetune(stack, (X[:150], y[:150]), epochs=20, progress=False)
"""

from ._validation import max_memory, set_max_memory
from . import callbacks, datasets, deconv, functional, likelihood, partition, plots, presets, units
from .checkpoint import load_model, save_checkpoint
from .models import DBM, DBN, RBM, AutoEncoder, SigmoidBeliefNet, UpDownDBN
from .models.classifier import Classifier, build_mlp, finetune
from .model_summary import summary
from .pretraining import pretrain
from .training import Callback, History, fit

__version__ = "0.1.0"

__all__ = ["AutoEncoder", "Callback", "Classifier", "DBM", "DBN", "History", "RBM", "build_mlp", "callbacks",
           "datasets", "deconv", "finetune", "fit", "functional", "likelihood", "load_model", "max_memory",
           "partition", "plots", "presets", "pretrain", "save_checkpoint", "set_max_memory", "SigmoidBeliefNet",
           "summary", "units", "UpDownDBN", "__version__"]
