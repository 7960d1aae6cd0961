"""Every public inference path checks its input as ``fit`` does (issue 12, item 5).

One table of (model, method) cases. Each is called with NaN, infinity, the wrong width, a
non-numeric dtype and (where the units need a range) values outside it: every call raises
ValueError with the shared wording of ``layerwise._validation``. Valid input gives the result of
an independent formula (or, for sampling paths, of the same seeded computation on the unchecked
internals), so the checks change no number.
"""

import numpy as np
import pytest
import torch
from torch.nn import functional as F

import layerwise as lw
from layerwise.deconv import CNNClassifier, ConvAutoEncoder, ConvSparseCoding, DeconvNet, build_cnn
from layerwise.models.classifier import Classifier, build_mlp

# The shared wording (layerwise._validation.check_tensor / check_finite / check_rows / as_float_tensor).
NAN = r"must hold only finite values; found 1 NaN and 0 infinite value\(s\), the first at index \(1, 2"
INF = r"must hold only finite values; found 0 NaN and 1 infinite value\(s\), the first at index \(1, 2"
WIDTH = (r"has \d+ features(?: per row)?, but (?:\d+ were expected|this \w+(?:'s network)? takes)"
         r"|must have shape \(B, 6\)|must have 6 units in its last dimension")  # DBM states, SBN layers
DTYPE = r"must be an array of numbers \(bool, int or float\); got dtype <U"
RANGE = r"must lie in \[0, 1\]|must be binary \(every value 0 or 1\)"  # SBN data is binary


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _binary(n, d, seed=0):
    return torch.bernoulli(torch.full((n, d), 0.5), generator=_gen(seed))


def _rbm(**kw):
    torch.manual_seed(0)
    return lw.RBM(6, 4, **kw)


def _seeded(f):
    """Run ``f`` from torch seed 0 (sampling paths compare two seeded runs)."""
    torch.manual_seed(0)
    return f()


# ---- the cases ---------------------------------------------------------------------------------
# name -> (build the model, call(model, x), valid x, whether a [0, 1] range applies,
#          reference(model, x) computed without the public method, or None for shape/finiteness only)

def _rbm_ref_h(m, x):
    return torch.sigmoid(x @ m.weight.T + m.hidden_bias)


def _rbm_ref_f(m, x):
    return -(x @ m.visible_bias) - F.softplus(x @ m.weight.T + m.hidden_bias).sum(1)


def _ae_ref_code(m, x):
    return torch.sigmoid(m.encoder_layers[0](x))


CASES = {
    "RBM.transform": (_rbm, lambda m, x: m.transform(x), lambda: torch.rand(5, 6), True, _rbm_ref_h),
    "RBM.hidden_probs": (_rbm, lambda m, x: m.hidden_probs(x), lambda: torch.rand(5, 6), True, _rbm_ref_h),
    "RBM.free_energy": (_rbm, lambda m, x: m.free_energy(x), lambda: torch.rand(5, 6), True, _rbm_ref_f),
    "RBM.reconstruct": (_rbm, lambda m, x: m.reconstruct(x), lambda: torch.rand(5, 6), True,
                        lambda m, x: torch.sigmoid(_rbm_ref_h(m, x) @ m.weight + m.visible_bias)),
    "RBM.sample_hidden": (_rbm, lambda m, x: _seeded(lambda: m.sample_hidden(x)), lambda: torch.rand(5, 6), True,
                          lambda m, x: _seeded(lambda: m._sample_hidden(x))),
    "RBM.sample_code": (_rbm, lambda m, x: _seeded(lambda: m.sample_code(x)), lambda: torch.rand(5, 6), True,
                        lambda m, x: _seeded(lambda: m._sample_hidden(x))),
    "RBM.gibbs": (_rbm, lambda m, x: _seeded(lambda: m.gibbs(x, 2)), lambda: torch.rand(5, 6), True,
                  lambda m, x: _seeded(lambda: m._sample_visible(m._sample_hidden(
                      m._sample_visible(m._sample_hidden(x)))))),
    "RBM.sample(init=)": (_rbm, lambda m, x: m.sample(0, steps=0, init=x), lambda: torch.rand(5, 6), True,
                          lambda m, x: x),
    "RBM.infer": (_rbm, lambda m, x: m.infer(x, torch.ones(6, dtype=torch.bool), steps=1), lambda: torch.rand(5, 6),
                  True, lambda m, x: x),
    "RBM.energy(v)": (_rbm, lambda m, x: m.energy(x, torch.ones(len(x), 4)), lambda: torch.rand(5, 6), True,
                      lambda m, x: -(x @ m.visible_bias) - (x @ m.weight.T + m.hidden_bias).sum(1)),
    "RBM.energy(h)": (_rbm, lambda m, h: m.energy(torch.ones(len(h), 6), h), lambda: torch.rand(5, 4), True,
                      lambda m, h: -m.visible_bias.sum() - (h * (m.weight.sum(1) + m.hidden_bias)).sum(1)),
    "RBM.visible_mean": (_rbm, lambda m, h: m.visible_mean(h), lambda: torch.rand(5, 4), True,
                         lambda m, h: torch.sigmoid(h @ m.weight + m.visible_bias)),
    "RBM.sample_visible": (_rbm, lambda m, h: _seeded(lambda: m.sample_visible(h)), lambda: torch.rand(5, 4), True,
                           lambda m, h: _seeded(lambda: m._sample_visible(h))),
    "RBM.pseudo_log_likelihood": (_rbm, lambda m, x: m.pseudo_log_likelihood(x), lambda: _binary(5, 6), True, None),
    "GaussianRBM.transform": (lambda: _rbm(visible="gaussian"), lambda m, x: m.transform(x),
                              lambda: 3 * torch.randn(5, 6, generator=_gen()), False, _rbm_ref_h),
    "GaussianRBM.free_energy": (lambda: _rbm(visible="gaussian"), lambda m, x: m.free_energy(x),
                                lambda: 3 * torch.randn(5, 6, generator=_gen()), False,
                                lambda m, x: 0.5 * ((x - m.visible_bias) ** 2).sum(1)
                                - F.softplus(x @ m.weight.T + m.hidden_bias).sum(1)),
    "AutoEncoder.transform": (lambda: lw.AutoEncoder(6, [3], loss="bce"), lambda m, x: m.transform(x),
                              lambda: torch.rand(5, 6), True, _ae_ref_code),
    "AutoEncoder.encode": (lambda: lw.AutoEncoder(6, [3], loss="bce"), lambda m, x: m.encode(x),
                           lambda: torch.rand(5, 6), True, _ae_ref_code),
    "AutoEncoder.reconstruct": (lambda: lw.AutoEncoder(6, [3], loss="mse"), lambda m, x: m.reconstruct(x),
                                lambda: 4 * torch.randn(5, 6, generator=_gen()), False,
                                lambda m, x: torch.sigmoid(m.decoder_layers[0](_ae_ref_code(m, x)))),
    "AutoEncoder.decode": (lambda: lw.AutoEncoder(6, [3], loss="mse"), lambda m, h: m.decode(h),
                           lambda: torch.randn(5, 3, generator=_gen()), False,
                           lambda m, h: torch.sigmoid(m.decoder_layers[0](h))),  # output = hidden activation
    "AutoEncoder.corrupt": (lambda: lw.AutoEncoder(6, [3], loss="bce"), lambda m, x: m.corrupt(x),
                            lambda: torch.rand(5, 6), True, lambda m, x: x),
    "AutoEncoder.contractive_penalty": (lambda: lw.AutoEncoder(6, [3], loss="bce"),
                                        lambda m, x: m.contractive_penalty(x), lambda: torch.rand(5, 6), True, None),
    "ConvAutoEncoder.transform": (lambda: ConvAutoEncoder((1, 4, 4), 2, 3, loss="bce"), lambda m, x: m.transform(x),
                                  lambda: torch.rand(5, 16), True,
                                  lambda m, x: F.max_pool2d(F.relu(m.convs[0](x.reshape(-1, 1, 4, 4))), 2).flatten(1)),
    "ConvAutoEncoder.reconstruct": (lambda: ConvAutoEncoder((1, 4, 4), 2, 3, loss="bce"),
                                    lambda m, x: m.reconstruct(x), lambda: torch.rand(5, 16), True, None),
    "DBN.transform": (lambda: lw.DBN([6, 4, 3]), lambda m, x: m.transform(x), lambda: torch.rand(5, 6), True,
                      lambda m, x: torch.sigmoid(_rbm_ref_h(m.rbms[0], x) @ m.rbms[1].weight.T + m.rbms[1].hidden_bias)),
    "DBN.up": (lambda: lw.DBN([6, 4, 3]), lambda m, x: m.up(x)[0], lambda: torch.rand(5, 6), True,
               lambda m, x: _rbm_ref_h(m.rbms[0], x)),
    "DBN.down": (lambda: lw.DBN([6, 4, 3]), lambda m, h: m.down(h), lambda: torch.rand(5, 4), True,
                 lambda m, h: torch.sigmoid(h @ m.rbms[0].weight + m.rbms[0].visible_bias)),
    "DBN.generate(init=)": (lambda: lw.DBN([6, 4, 3]), lambda m, x: m.generate(0, 0, init=x).shape,
                            lambda: torch.rand(5, 6), True, lambda m, x: (5, 6)),
    "DBM.transform": (lambda: lw.DBM([6, 4, 3]), lambda m, x: m.transform(x), lambda: torch.rand(5, 6), True, None),
    "DBM.recognition": (lambda: lw.DBM([6, 4, 3]), lambda m, x: m.recognition(x)[1], lambda: torch.rand(5, 6), True,
                        lambda m, x: torch.sigmoid(2 * x @ m.weights[0].T + m.biases[1])),
    "DBM.reconstruct": (lambda: lw.DBM([6, 4, 3]), lambda m, x: m.reconstruct(x), lambda: torch.rand(5, 6), True,
                        None),
    "DBM.energy": (lambda: lw.DBM([6, 4, 3]), lambda m, x: m.energy([x, torch.zeros(len(x), 4), torch.zeros(len(x), 3)]),
                   lambda: torch.rand(5, 6), True, lambda m, x: -(x @ m.biases[0])),
    "SBN.transform": (lambda: lw.SigmoidBeliefNet([6, 4, 3]), lambda m, x: m.transform(x), lambda: _binary(5, 6),
                      True, None),
    "SBN.log_joint": (lambda: lw.SigmoidBeliefNet([6, 4, 3]),
                      lambda m, x: m.log_joint(x, [torch.zeros(len(x), 4), torch.zeros(len(x), 3)]),
                      lambda: _binary(5, 6), True, None),
    "UpDownDBN.transform": (lambda: lw.UpDownDBN([6, 4, 3, 2]), lambda m, x: m.transform(x), lambda: torch.rand(5, 6),
                            True, None),
    "UpDownDBN.down": (lambda: lw.UpDownDBN([6, 4, 3, 2]), lambda m, h: _seeded(lambda: m.down(h)),
                       lambda: torch.rand(5, 3), True, None),
    "Classifier.predict_proba": (lambda: Classifier(build_mlp(6, [4]), 3), lambda m, x: m.predict_proba(x),
                                 lambda: torch.randn(5, 6, generator=_gen()), False,
                                 lambda m, x: torch.softmax(m.head(m.body(x)), 1)),
    "Classifier.predict": (lambda: Classifier(build_mlp(6, [4]), 3), lambda m, x: m.predict(x),
                           lambda: torch.randn(5, 6, generator=_gen()), False,
                           lambda m, x: m.head(m.body(x)).argmax(1)),
    "Classifier.accuracy": (lambda: Classifier(build_mlp(6, [4]), 3), lambda m, x: m.accuracy(x, torch.zeros(5)),
                            lambda: torch.randn(5, 6, generator=_gen()), False,
                            lambda m, x: float((m.head(m.body(x)).argmax(1) == 0).float().mean())),
    "CNNClassifier.predict": (lambda: CNNClassifier("cnn-tiny", (1, 8, 8), 3), lambda m, x: m.predict(x),
                              lambda: torch.rand(5, 64), False, None),
}

# ConvSparseCoding and DeconvNet take images (B, C, H, W); "wrong width" is the wrong channel count.
IMAGE_CASES = {
    "ConvSparseCoding.infer": (lambda: ConvSparseCoding(1, 2, 3, n_iter=3), lambda m, y: m.infer(y)),
    "ConvSparseCoding.transform": (lambda: ConvSparseCoding(1, 2, 3, n_iter=3), lambda m, y: m.transform(y)),
    "ConvSparseCoding.objective": (lambda: ConvSparseCoding(1, 2, 3, n_iter=3),
                                   lambda m, y: m.objective(y, torch.zeros(len(y), 2, 7, 7))),
    "ConvSparseCoding.adjoint": (lambda: ConvSparseCoding(1, 2, 3, n_iter=3), lambda m, y: m.adjoint(y)),
    "DeconvNet.features": (lambda: DeconvNet(build_cnn("cnn-tiny", (1, 8, 8))), lambda m, y: m.features(y, 0)),
}


def _bad(kind, x):
    """``x`` spoiled the way ``kind`` says."""
    x = x.clone()
    if kind == "nan":
        x[1, 2] = float("nan")
    elif kind == "inf":
        x[1, 2] = float("inf")
    elif kind == "width":
        x = torch.cat([x, x[:, :1]], 1)
    elif kind == "dtype":
        return np.full(tuple(x.shape), "a")
    elif kind == "range":
        x[0, 0] = 1.5
    return x


MATCH = {"nan": NAN, "inf": INF, "width": WIDTH, "dtype": DTYPE, "range": RANGE}


@pytest.mark.parametrize("case, kind", [(c, k) for c in sorted(CASES) for k in MATCH
                                        if k != "range" or CASES[c][3]])   # range: only units that have one
def test_bad_input_is_refused_with_the_shared_wording(case, kind):
    build, call, valid, _, _ = CASES[case]
    model = build()
    with pytest.raises(ValueError, match=MATCH[kind]):
        call(model, _bad(kind, valid()))


@pytest.mark.parametrize("case", sorted(CASES))
def test_valid_input_gives_the_unchecked_result(case):
    build, call, valid, _, reference = CASES[case]
    model = build()
    x = valid()
    with torch.no_grad():
        got = call(model, x)
        as_numpy = call(model, x.numpy())  # array-likes take the same path
        want = reference(model, x) if reference is not None else None
    if isinstance(got, torch.Tensor):
        assert torch.isfinite(got.float()).all()
        torch.testing.assert_close(as_numpy, got)
        if want is not None:
            torch.testing.assert_close(got, want)
    else:  # a float (accuracy) or a shape
        assert got == as_numpy and got == pytest.approx(want)


@pytest.mark.parametrize("kind", ["nan", "inf", "channels", "dtype"])
@pytest.mark.parametrize("case", sorted(IMAGE_CASES))
def test_image_paths_refuse_bad_images(case, kind):
    build, call = IMAGE_CASES[case]
    model = build()
    side = 8 if case.startswith("DeconvNet") else 5
    y = torch.rand(2, 1, side, side)
    if kind == "nan":
        y[0, 0, 1, 2] = float("nan")
        match = r"must hold only finite values; found 1 NaN and 0 infinite value\(s\), the first at index \(0, 0, 1, 2\)"
    elif kind == "inf":
        y[1, 0, 0, 0] = float("-inf")
        match = r"found 0 NaN and 1 infinite value\(s\), the first at index \(1, 0, 0, 0\)"
    elif kind == "channels":
        y = torch.rand(2, 3, side, side)
        match = r"has 3 channel\(s\), but the"
    else:
        y = np.full((2, 1, side, side), "a")
        match = DTYPE
    with pytest.raises(ValueError, match=match):
        call(model, y)


def test_image_paths_valid_input_unchanged():
    """infer with checks = the unchecked ISTA loop on the same images (bitwise)."""
    m = ConvSparseCoding(1, 2, 3, n_iter=5)
    y = torch.rand(2, 1, 5, 5, generator=_gen())
    torch.testing.assert_close(m.infer(y), m._infer(y, m.method, 5, m.tol), rtol=0, atol=0)
    z = torch.zeros(2, 2, 7, 7)
    z[0, 1, 3, 3] = float("nan")
    with pytest.raises(ValueError, match=r"'z' must hold only finite values"):
        m.reconstruct(z)


def test_a_single_sample_is_refused_with_a_reshape_hint():
    with pytest.raises(ValueError, match=r"got one sample of shape \(6,\)\. Pass x\.reshape\(1, -1\)"):
        _rbm().transform(torch.rand(6))


def test_images_are_flattened_for_an_rbm_and_plain_lists_are_data():
    m = _rbm()
    x = torch.rand(5, 2, 3)
    torch.testing.assert_close(m.transform(x), m.transform(x.reshape(5, 6)))
    rows = torch.rand(2, 6)
    torch.testing.assert_close(m.transform(rows.tolist()), m.transform(rows))   # a list of rows, not an (X, y) pair
    torch.testing.assert_close(m.transform((rows, torch.zeros(2))), m.transform(rows))


def test_hidden_inputs_name_the_hidden_units():
    with pytest.raises(ValueError, match=r"'h' must lie in \[0, 1\] for Bernoulli hidden units"):
        _rbm().visible_mean(torch.full((2, 4), 2.0))
    with pytest.raises(ValueError, match=r"'h' has 5 features, but 4 were expected"):
        _rbm().sample_visible(torch.rand(2, 5))


# ---- the scikit-learn estimators: sklearn's own checks (check_array's wording) -----------------

def _fitted_sklearn():
    from layerwise.sklearn import (AutoEncoderTransformer, ConvSparseCodingTransformer, DBMTransformer,
                                   DBNClassifier, RBMTransformer, StackedAutoEncoderClassifier)
    X = torch.rand(20, 16, generator=_gen()).numpy()
    y = np.arange(20) % 2
    rbm = RBMTransformer(n_components=3, n_iter=1, random_state=0).fit(X)
    ae = AutoEncoderTransformer(hidden_layer_sizes=(3,), loss="bce", n_iter=1, random_state=0).fit(X)
    dbm = DBMTransformer(hidden_layer_sizes=(3, 2), n_iter=1, pretrain_epochs=0, random_state=0).fit(X)
    csc = ConvSparseCodingTransformer(n_filters=2, kernel_size=3, max_iter=3, max_epochs=1, image_shape=(1, 4, 4),
                                      random_state=0).fit(X)
    dbn = DBNClassifier(hidden_layer_sizes=(3,), pretrain_epochs=1, n_iter=1, random_state=0).fit(X, y)
    sae = StackedAutoEncoderClassifier(hidden_layer_sizes=(3,), ae_loss="bce", pretrain_epochs=1, n_iter=1,
                                       random_state=0).fit(X, y)
    return X, {"RBMTransformer.transform": rbm.transform, "RBMTransformer.score_samples": rbm.score_samples,
               "RBMTransformer.gibbs": rbm.gibbs, "AutoEncoderTransformer.transform": ae.transform,
               "AutoEncoderTransformer.score": ae.score, "DBMTransformer.transform": dbm.transform,
               "ConvSparseCodingTransformer.transform": csc.transform, "DBNClassifier.predict": dbn.predict,
               "DBNClassifier.predict_proba": dbn.predict_proba, "StackedAutoEncoderClassifier.predict": sae.predict}


@pytest.fixture(scope="module")
def sklearn_paths():
    return _fitted_sklearn()


@pytest.mark.parametrize("kind, match", [
    ("nan", "Input X contains NaN"), ("inf", "Input X contains infinity"),
    ("width", "X has 17 features, but .* is expecting 16 features"), ("dtype", "could not convert string to float"),
])
def test_sklearn_estimators_refuse_bad_input(sklearn_paths, kind, match):
    X, paths = sklearn_paths
    bad = _bad(kind, torch.from_numpy(X[:4].copy()))
    bad = bad.numpy() if isinstance(bad, torch.Tensor) else bad
    for name, method in paths.items():
        with pytest.raises(ValueError, match=match):
            method(bad)
