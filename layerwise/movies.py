"""The lecture's movie example: a small synthetic film-preference data set with known genres.

The lecture reads a restricted Boltzmann machine trained on "which films did each person
like" as follows:

* the **visible units** are films, one per film, on when the person liked it;
* the **hidden units** are film groups (genres, tastes) that the RBM discovers by itself:
  a hidden unit that has large positive weights to all the science-fiction films and small
  ones to the rest stands for "likes science fiction";
* **bottom-up** (explain): clamp a person's liked films on the visible layer; the hidden
  units that fire, p(h_j = 1 | v), are the groups that explain that person's choices
  (:meth:`layerwise.models.rbm.RBM.explain`);
* **top-down** (recommend): clamp a group on (or clamp a person's liked films and let the
  hidden layer settle) and read p(v_i = 1 | h) off the visible layer: the films with the
  highest probability that the person has not seen yet are the recommendations
  (:meth:`layerwise.models.rbm.RBM.recommend`).

:func:`make_movies` generates such data from a known ground truth, so that one can check
that an RBM really recovers the genres (``tests/test_movies.py``)::

    >>> from layerwise.movies import make_movies
    >>> X, genre, names, person_genres = make_movies(n_people=200, seed=0)
    >>> X.shape, names[0]
    ((200, 18), 'sci-fi: Alien')

Each person likes one genre (sometimes two, with probability ``second_genre_prob``), likes
each film of a liked genre with probability ``like_prob`` and each other film with
probability ``noise``. References: Hinton (2010), "A practical guide to training restricted
Boltzmann machines"; Salakhutdinov, Mnih & Hinton (2007), "Restricted Boltzmann machines
for collaborative filtering".
"""

from __future__ import annotations

import numpy as np

from ._validation import check_int, check_real

__all__ = ["GENRES", "make_movies", "movie_names"]

#: Genre name -> film titles, in the order in which :func:`make_movies` uses them.
GENRES: dict[str, tuple[str, ...]] = {
    "sci-fi": ("Alien", "Blade Runner", "The Matrix", "Solaris", "Interstellar", "Arrival",
               "Dune", "Gattaca", "Metropolis", "Contact"),
    "romance": ("Casablanca", "Titanic", "Notting Hill", "Amelie", "Before Sunrise",
                "Roman Holiday", "The Notebook", "Brief Encounter", "Pride & Prejudice", "La La Land"),
    "horror": ("Psycho", "The Shining", "Halloween", "The Exorcist", "Get Out", "Hereditary",
               "Nosferatu", "Rosemary's Baby", "The Thing", "Scream"),
    "western": ("High Noon", "Rio Bravo", "Unforgiven", "The Searchers", "Stagecoach",
                "Shane", "True Grit", "Tombstone", "Django", "The Wild Bunch"),
    "comedy": ("Airplane!", "Groundhog Day", "Some Like It Hot", "The Big Lebowski",
               "Dr. Strangelove", "Annie Hall", "Monty Python", "Ghostbusters", "Tootsie", "Hot Fuzz"),
    "animation": ("Spirited Away", "Toy Story", "Up", "Wall-E", "Totoro", "Persepolis",
                  "Fantasia", "Pinocchio", "Akira", "Coco"),
}


def movie_names(n_genres: int = 3, movies_per_genre: int = 6) -> list[str]:
    """Readable names ``"<genre>: <title>"``, genre by genre (``"genre 7: film 3"`` beyond the lists)."""
    genres = list(GENRES.items())
    names = []
    for g in range(n_genres):
        label, titles = genres[g] if g < len(genres) else (f"genre {g + 1}", ())
        for m in range(movies_per_genre):
            title = titles[m] if m < len(titles) else f"film {m + 1}"
            names.append(f"{label}: {title}")
    return names


def make_movies(
    n_people: int = 1000,
    n_genres: int = 3,
    movies_per_genre: int = 6,
    like_prob: float = 0.85,
    noise: float = 0.05,
    seed: int | None = 0,
    *,
    second_genre_prob: float = 0.2,
) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """Generate who liked which film from known genres (the lecture's movie example).

    Parameters
    ----------
    n_people : int
        Rows of the data (people).
    n_genres : int
        Number of genres; films are grouped genre by genre.
    movies_per_genre : int
        Films per genre; ``n_movies = n_genres * movies_per_genre``.
    like_prob : float
        Probability that a person likes a film of one of their genres.
    noise : float
        Probability that a person likes a film of another genre.
    seed : int or None
        Seed of the NumPy generator (None: fresh randomness).
    second_genre_prob : float
        Probability that a person has a second favourite genre (needs ``n_genres >= 2``).

    Returns
    -------
    X : float32 array (n_people, n_movies) of {0, 1}
        ``X[p, m] = 1`` when person p liked film m.
    genre_of_movie : int array (n_movies,)
        The genre index of each film.
    names : list of str
        ``"sci-fi: Alien"``, ... one per film.
    person_genres : int array (n_people, n_genres) of {0, 1}
        The genres each person likes (one or two ones per row).
    """
    n_people = check_int("n_people", n_people, 1)
    n_genres = check_int("n_genres", n_genres, 1)
    movies_per_genre = check_int("movies_per_genre", movies_per_genre, 1)
    like_prob = check_real("like_prob", like_prob, 0.0, 1.0)
    noise = check_real("noise", noise, 0.0, 1.0)
    second_genre_prob = check_real("second_genre_prob", second_genre_prob, 0.0, 1.0)
    if seed is not None:
        seed = check_int("seed", seed, 0)
    rng = np.random.default_rng(seed)

    genre_of_movie = np.repeat(np.arange(n_genres), movies_per_genre)
    person_genres = np.zeros((n_people, n_genres), dtype=np.int64)
    first = rng.integers(n_genres, size=n_people)
    person_genres[np.arange(n_people), first] = 1
    if n_genres >= 2:
        two = rng.random(n_people) < second_genre_prob
        # a different genre: shift the first by 1 .. n_genres - 1
        second = (first + rng.integers(1, n_genres, size=n_people)) % n_genres
        person_genres[np.flatnonzero(two), second[two]] = 1
    likes_genre = person_genres[:, genre_of_movie].astype(bool)  # (n_people, n_movies)
    prob = np.where(likes_genre, like_prob, noise)
    X = (rng.random(prob.shape) < prob).astype(np.float32)
    return X, genre_of_movie, movie_names(n_genres, movies_per_genre), person_genres
