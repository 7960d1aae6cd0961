"""The lecture's movie example: an RBM recovers the genres, recommends and explains within them."""

import numpy as np
import pytest
import torch

import layerwise as lw
from layerwise.movies import make_movies


@pytest.fixture(scope="module")
def trained():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    X, genre, names, people = make_movies(n_people=1000, n_genres=3, movies_per_genre=6, seed=0)
    torch.manual_seed(0)
    rbm = lw.RBM(X.shape[1], 4).init_visible_bias(torch.as_tensor(X))  # one unit more than genres
    lw.fit(rbm, torch.as_tensor(X), epochs=60, batch_size=20, lr=0.1, momentum=0.5, weight_decay=0.01,
           progress=False, device="cpu")
    torch.set_num_threads(n)
    return rbm, X, genre, names, people


def test_data_follow_the_genres():
    X, genre, names, people = make_movies(n_people=500, n_genres=3, seed=1)
    assert X.shape == (500, 18) and set(np.unique(X)) <= {0.0, 1.0} and len(names) == 18
    liked = X[people[:, 0] == 1][:, genre == 0].mean()
    other = X[people[:, 0] == 0][:, genre == 0].mean()
    assert liked > 0.7 and other < 0.2


def test_each_genre_has_a_hidden_unit(trained):
    rbm, X, genre, names, _ = trained
    w = rbm.weight.detach().numpy()  # (hidden, films)
    found = set()
    for j in range(w.shape[0]):
        top = np.argsort(-w[j])[:6]
        g = np.bincount(genre[top], minlength=3)
        if g.max() >= 5:  # at least 5 of its 6 strongest films share a genre
            found.add(int(g.argmax()))
    assert found == {0, 1, 2}


@pytest.mark.parametrize("g", [0, 1, 2])
def test_recommends_and_explains_within_the_genre(trained, g):
    rbm, X, genre, names, _ = trained
    films = np.flatnonzero(genre == g)
    torch.manual_seed(0)
    recs = rbm.recommend(liked=films[:2].tolist(), top_k=3)
    assert [genre[i] for i, _ in recs] == [g, g, g]
    assert all(p > 0.5 for _, p in recs)
    named = rbm.recommend(liked=films[:2].tolist(), top_k=1, names=names)
    assert named[0][0] in [names[i] for i in films]
    first = rbm.explain(films[:2].tolist(), top_units=1, top_visible=6)[0]
    assert first["probability"] > 0.5
    assert np.bincount(genre[first["visible"]], minlength=3).argmax() == g


def test_bad_recommend_input(trained):
    rbm = trained[0]
    with pytest.raises(ValueError, match=r"'liked' holds index 99; expected indices in \[0, 18\)"):
        rbm.recommend([99])
