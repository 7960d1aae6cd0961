"""Model families: one module per family (autoencoder, rbm, dbn, dbm, sbn, deconv)."""

from .autoencoder import AutoEncoder
from .dbm import DBM
from .dbn import DBN
from .rbm import RBM
from .sbn import SigmoidBeliefNet
from .updown import UpDownDBN

__all__ = ["AutoEncoder", "DBM", "DBN", "RBM", "SigmoidBeliefNet", "UpDownDBN"]
