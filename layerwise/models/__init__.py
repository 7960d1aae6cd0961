"""Model families: one module per family (autoencoder, rbm, dbn, dbm, sbn, updown, the
convolutional cnn / resnet / conv_autoencoder / csc / deconv), and the supervised
``classifier`` (a head on a feature network, fine-tuning) that DBN and DBM build on."""

from .autoencoder import AutoEncoder
from .classifier import Classifier, CNNClassifier
from .dbm import DBM
from .dbn import DBN
from .rbm import RBM
from .sbn import SigmoidBeliefNet
from .updown import UpDownDBN

__all__ = ["AutoEncoder", "CNNClassifier", "Classifier", "DBM", "DBN", "RBM", "SigmoidBeliefNet", "UpDownDBN"]
