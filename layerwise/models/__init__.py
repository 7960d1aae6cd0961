"""Model families: one module per family (autoencoder, rbm, dbn, dbm, sbn, deconv)."""

from .autoencoder import AutoEncoder
from .dbn import DBN
from .rbm import RBM
from .sbn import SigmoidBeliefNet

__all__ = ["AutoEncoder", "DBN", "RBM", "SigmoidBeliefNet"]
