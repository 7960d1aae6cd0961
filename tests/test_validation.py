"""layerwise._validation: the shared checks' rules and wording."""

import pytest

from layerwise._validation import check_sizes


def test_check_sizes_accepts_lists_and_tuples_of_positive_ints():
    assert check_sizes("sizes", (784, 500, 2000), 2, (784, 500)) == [784, 500, 2000]
    assert check_sizes("layers", [3, 2, 1], 3, (784, 500, 1000)) == [3, 2, 1]


@pytest.mark.parametrize("sizes, error, match", [
    ("5,4", TypeError, r"The 'sizes' parameter must be a list of ints \(visible layer first, e\.g\. \[784, 500, 2000\]\)\. Got '5,4' instead\."),
    (7, TypeError, "list of ints"),
    ([5], ValueError, r"must list at least 2 layer sizes \(the visible layer and one hidden layer, e\.g\. \[784, 500\]\)\. Got \[5\] instead\."),
    ([5, 0], ValueError, r"The 'sizes\[1\]' parameter must be an int in the range \[1, inf\)\. Got 0 instead\."),
    ([5, 2.5], TypeError, r"'sizes\[1\]' parameter must be an int"),
    ([5, True], TypeError, r"'sizes\[1\]'"),
])
def test_check_sizes_errors(sizes, error, match):
    with pytest.raises(error, match=match):
        check_sizes("sizes", sizes, 2, (784, 500, 2000))


def test_check_sizes_minimum_and_hint():
    with pytest.raises(ValueError, match=r"at least 3 layer sizes \(the visible layer and 2 or more hidden layers, "
                                         r"e\.g\. \[784, 500, 1000\]\)\. Got \[4, 3\] instead\. Use an RBM\."):
        check_sizes("sizes", [4, 3], 3, (784, 500, 1000), " Use an RBM.")
