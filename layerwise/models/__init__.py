"""Model families: one module per family (autoencoder, rbm, dbn, dbm, sbn, deconv)."""

from .autoencoder import AutoEncoder

__all__ = ["AutoEncoder"]
