"""``layerwise.fit`` on a torch DataLoader, Dataset or IterableDataset (layerwise.data_source)."""

import warnings

import numpy as np
import pytest
import torch
from torch.utils.data import (DataLoader, Dataset, DistributedSampler, IterableDataset, TensorDataset,
                              WeightedRandomSampler)

from layerwise.data_source import MONITOR_SIZE, open_source
from layerwise.models.autoencoder import AutoEncoder
from layerwise.models.classifier import Classifier, build_mlp
from layerwise.models.rbm import RBM
from layerwise.training import fit

OPTS = dict(device="cpu", progress=False)


def binary(n=60, d=6, seed=1):
    return (torch.rand(n, d, generator=torch.Generator().manual_seed(seed)) > 0.5).float()


def rbm(**kw):
    torch.manual_seed(0)
    return RBM(6, 3, **kw)


def labelled(n=80, seed=2):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    return x, (x[:, 0] + 0.5 * x[:, 1] > 0).long()


def classifier():
    torch.manual_seed(0)
    return Classifier(build_mlp(4, [8]), 2)


def same_weights(a, b):
    return all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


class Stream(IterableDataset):
    """Rows made on the fly (no length): data that need not fit in memory."""

    def __init__(self, x):
        self.x = x

    def __iter__(self):
        yield from self.x


def test_a_loader_with_a_constructed_batch_order_gives_the_weights_of_the_arrays():
    x, seed = binary(), 4
    arrays = rbm(persistent=True, n_chains=7)
    fit(arrays, x, epochs=1, batch_size=8, seed=seed, **OPTS)
    # the order of fit's shuffle, written out: torch.randperm seeded with seed + epoch (DistributedSampler's)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed)).tolist()
    batches = [order[i:i + 8] for i in range(0, len(x), 8)]
    loaded = rbm(persistent=True, n_chains=7)
    fit(loaded, DataLoader(TensorDataset(x), batch_sampler=batches), epochs=1, seed=seed, **OPTS)
    assert same_weights(arrays, loaded)  # the sampling noise too: iterating the loader draws nothing from it
    other = rbm(persistent=True, n_chains=7)
    fit(other, DataLoader(TensorDataset(x), batch_sampler=batches[::-1]), epochs=1, seed=seed, **OPTS)
    assert not same_weights(arrays, other)  # the order matters: the comparison can fail


@pytest.mark.parametrize("shuffle", [True, False])
def test_a_shuffling_loader_is_the_arrays_over_several_epochs(shuffle):
    x = binary()
    arrays, loaded = rbm(), rbm()
    fit(arrays, x, epochs=3, batch_size=8, shuffle=shuffle, seed=5, **OPTS)
    history = fit(loaded, DataLoader(TensorDataset(x), batch_size=8, shuffle=shuffle), epochs=3, seed=5, **OPTS)
    assert same_weights(arrays, loaded)
    assert len(history) == 3 and {"reconstruction_error", "pseudo_log_likelihood"} <= set(history.columns)


def test_a_map_style_dataset_is_taken_directly():
    class Rows(Dataset):
        def __init__(self, x):
            self.x = x

        def __len__(self):
            return len(self.x)

        def __getitem__(self, i):
            return self.x[i]

    x = binary()
    arrays, loaded = rbm(), rbm()
    fit(arrays, x, epochs=2, batch_size=16, seed=5, **OPTS)
    fit(loaded, Rows(x), epochs=2, batch_size=16, seed=5, **OPTS)
    assert same_weights(arrays, loaded)


def test_an_iterable_dataset_trains_and_monitors_its_first_samples():
    x = binary(200, 6, 3)
    model = AutoEncoder(6, 3)
    before = float(((model.reconstruct(x) - x) ** 2).mean())
    history = fit(model, DataLoader(Stream(x), batch_size=10), epochs=15, optimizer="adam", lr=0.02, seed=1, **OPTS)
    assert len(history) == 15 and history["loss"][-1] < 0.7 * history["loss"][0]
    assert float(((model.reconstruct(x) - x) ** 2).mean()) < 0.8 * before
    # an IterableDataset passed directly is batched with fit's batch_size
    direct = AutoEncoder(6, 3)
    assert len(fit(direct, Stream(x), epochs=2, batch_size=25, **OPTS)) == 2


def test_the_monitoring_set_of_a_loader_is_the_first_samples_of_the_epoch():
    x = binary(MONITOR_SIZE + 100, 6, 4)
    model = rbm()
    history = fit(model, DataLoader(Stream(x), batch_size=100), epochs=1, seed=1, **OPTS)
    first = x[:MONITOR_SIZE]
    torch.manual_seed(0)  # the one random metric (pseudo-likelihood) aside
    expected = model.metrics(first)
    assert history[-1]["reconstruction_error"] == pytest.approx(expected["reconstruction_error"], rel=1e-5)
    assert history[-1]["free_energy"] == pytest.approx(expected["free_energy"], rel=1e-5)
    whole = model.metrics(x)
    assert history[-1]["reconstruction_error"] != pytest.approx(whole["reconstruction_error"], rel=1e-6)


def test_a_classifier_trains_from_a_loader_of_pairs():
    x, y = labelled()
    arrays, loaded = classifier(), classifier()
    fit(arrays, (x, y), epochs=20, batch_size=16, lr=0.5, seed=2, **OPTS)
    history = fit(loaded, DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True), epochs=20, lr=0.5, seed=2,
                  **OPTS)
    assert same_weights(arrays, loaded)
    assert history[-1]["accuracy"] > 0.9
    assert float((loaded.predict(x) == y).float().mean()) > 0.9


def test_an_exact_resume_from_a_map_style_loader(tmp_path):
    x = binary()
    loader = DataLoader(TensorDataset(x), batch_size=8, shuffle=True)
    whole = rbm(persistent=True)
    fit(whole, loader, epochs=4, seed=3, **OPTS)
    parts = rbm(persistent=True)
    fit(parts, loader, epochs=2, seed=3, checkpoint_dir=tmp_path / "run", **OPTS)
    resumed = rbm(persistent=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning: this resume is exact
        fit(resumed, loader, epochs=4, seed=3, checkpoint_dir=tmp_path / "run", resume=True, **OPTS)
    assert same_weights(whole, resumed)


def test_a_stream_resumes_at_the_epoch_boundary_with_a_warning(tmp_path):
    x = binary()
    fit(rbm(), DataLoader(Stream(x), batch_size=8), epochs=1, seed=3, checkpoint_dir=tmp_path / "run", **OPTS)
    with pytest.warns(UserWarning, match=r"Resuming from epoch 1 with an iterable dataset \(Stream\): epoch 2 starts"):
        history = fit(rbm(), DataLoader(Stream(x), batch_size=8), epochs=2, seed=3, checkpoint_dir=tmp_path / "run",
                      resume=True, **OPTS)
    assert history["epoch"] == [1, 2]


def test_batch_size_and_shuffle_come_from_the_loader():
    loader = DataLoader(TensorDataset(binary()), batch_size=8)
    with pytest.raises(ValueError, match=r"'batch_size' parameter is 16, but the DataLoader over TensorDataset "
                                         r"makes batches of 8.*Pass batch_size=None"):
        fit(rbm(), loader, batch_size=16, **OPTS)
    with pytest.raises(ValueError, match=r"'shuffle' parameter is True, .*built with shuffle=False"):
        fit(rbm(), loader, shuffle=True, **OPTS)
    with pytest.raises(ValueError, match=r"'shuffle' parameter is True, .*an iterable dataset's order is its own"):
        fit(rbm(), DataLoader(Stream(binary()), batch_size=8), shuffle=True, **OPTS)
    with pytest.raises(ValueError, match=r"has batch_size=None: it yields single samples"):
        fit(rbm(), DataLoader(TensorDataset(binary()), batch_size=None), **OPTS)
    assert len(fit(rbm(), loader, batch_size=8, shuffle=False, epochs=1, **OPTS)) == 1  # equal values are taken


def test_bad_batches_are_named():
    bad = binary()
    bad[13, 2] = 3.0
    with pytest.raises(ValueError, match=r"batch 2 of epoch 1 from the DataLoader over TensorDataset was refused: "
                                         r"'data' must lie in \[0, 1\]"):
        fit(rbm(), DataLoader(TensorDataset(bad), batch_size=8), **OPTS)
    nan = binary()
    nan[20, 1] = float("nan")
    with pytest.raises(ValueError, match=r"batch 3 of epoch 1 .* 1 NaN"):
        fit(AutoEncoder(6, 3), DataLoader(TensorDataset(nan), batch_size=8), **OPTS)
    dicts = [{"x": row} for row in binary()]
    with pytest.raises(TypeError, match=r"batch 1 of epoch 1 from the DataLoader over list is a dict \(keys \['x'\]\)"):
        fit(rbm(), DataLoader(dicts, batch_size=8), **OPTS)
    with pytest.raises(ValueError, match=r"DataLoader over Stream yielded no batch in epoch 1"):
        fit(rbm(), DataLoader(Stream(binary()[:0]), batch_size=8), **OPTS)


@pytest.mark.parametrize("data, kind", [({"x": binary()}, "dict"), ("rows.csv", "str"),
                                        ((r for r in binary()), "generator")])
def test_unsupported_data_types_get_a_clear_message(data, kind):
    with pytest.raises(TypeError, match=rf"'data' must be an array of numbers \(a tensor or a numpy array\); got "
                                        rf"a {kind}\. The data of layerwise.fit is a tensor or array X, a tuple "
                                        r"\(X, y\), a TensorDataset, a torch Dataset or IterableDataset, or a torch "
                                        r"DataLoader"):
        fit(rbm(), data, **OPTS)
    with pytest.raises(TypeError, match=r"'data\[1\]' must be an array of numbers .* got a dict"):
        fit(classifier(), (labelled()[0], {"y": 1}), **OPTS)


def test_validation_from_a_loader_equals_validation_from_arrays():
    x, y = labelled()
    xv, yv = labelled(50, seed=9)
    a, b = classifier(), classifier()
    ha = fit(a, (x, y), epochs=3, batch_size=16, lr=0.5, validation=(xv, yv), **OPTS)
    hb = fit(b, (x, y), epochs=3, batch_size=16, lr=0.5, validation=DataLoader(TensorDataset(xv, yv), batch_size=7),
             **OPTS)
    assert hb["val_accuracy"] == pytest.approx(ha["val_accuracy"], abs=1e-6)  # other batches: float32 sums
    assert hb["val_loss"] == pytest.approx(ha["val_loss"], rel=1e-5)
    assert ha["val_accuracy"][-1] != ha["accuracy"][-1] or ha["val_loss"][-1] != ha["loss"][-1]


def test_each_rank_reads_its_share_of_a_map_style_dataset():
    """The sharding of LoaderSource without a process group (the 2-process run: test_ddp_streams.py)."""
    x = torch.arange(20.0)[:, None].repeat(1, 6)
    shares = []
    for rank in (0, 1):
        source = open_source(DataLoader(TensorDataset(x), batch_size=4, shuffle=True), None, None, None, 7)
        source.start(rank, 2, torch.device("cpu"))
        assert source.n_batches == 3
        shares.append(torch.cat([batch[:, 0] for batch, _ in source.batches(0)]).long().tolist())
    assert len(shares[0]) == len(shares[1]) == 10 and sorted(shares[0] + shares[1]) == list(range(20))
    assert shares[0] != list(range(0, 20, 2))  # shuffled


def test_a_custom_sampler_is_kept_alone_and_refused_under_ddp():
    x = binary(20)
    weights = torch.zeros(20)
    weights[3] = 1.0  # a sampler with replacement that draws row 3 only
    loader = DataLoader(TensorDataset(x), batch_size=5, sampler=WeightedRandomSampler(weights, 10))
    source = open_source(loader, None, None, None, 7)
    source.start(0, 1, torch.device("cpu"))
    batches = [batch for batch, _ in source.batches(0)]
    assert len(batches) == 2 and all(torch.equal(row, x[3]) for batch in batches for row in batch)
    with pytest.raises(ValueError, match=r"world size 2\) a DataLoader's sampler must be the default .* or a "
                                         r"DistributedSampler; got BatchSampler over WeightedRandomSampler"):
        open_source(loader, None, None, None, 7).start(0, 2, torch.device("cpu"))
    ok = DataLoader(TensorDataset(x), batch_size=5, sampler=DistributedSampler(TensorDataset(x), 2, 1, seed=1))
    source = open_source(ok, None, None, None, 7)
    source.start(1, 2, torch.device("cpu"))
    assert sum(n for _, n in source.batches(0)) == 10


def test_a_stream_may_yield_whole_batches():
    class Batches(IterableDataset):
        def __iter__(self):
            x, y = labelled()
            for i in range(0, len(x), 16):
                yield x[i:i + 16], y[i:i + 16]

    arrays, streamed = classifier(), classifier()
    fit(arrays, labelled(), epochs=3, batch_size=16, shuffle=False, lr=0.5, **OPTS)
    fit(streamed, DataLoader(Batches(), batch_size=None), epochs=3, lr=0.5, **OPTS)
    assert same_weights(arrays, streamed)
    with pytest.raises(ValueError, match=r"'batch_size' parameter is 16, but the DataLoader over Batches yields the "
                                         r"batches of its dataset \(batch_size=None\)"):
        fit(classifier(), DataLoader(Batches(), batch_size=None), batch_size=16, **OPTS)


def test_object_arrays_are_refused_by_name_not_by_torch():
    x, _ = labelled(4)
    labels = np.array(["cat", "dog", "cat", "dog"], dtype=object)  # was: torch's "can't convert np.ndarray"
    with pytest.raises(ValueError, match=r"'data\[1\]' must be an array of numbers \(bool, int or float\); got dtype "
                                         r"object"):
        fit(classifier(), (x.numpy(), labels), **OPTS)
