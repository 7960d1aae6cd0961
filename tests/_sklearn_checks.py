"""scikit-learn common checks that the estimators are expected to fail, with the reason.

Only what scikit-learn's own ``BernoulliRBM`` cannot pass either: its ``score_samples`` draws one
random visible unit per row (the pseudo-likelihood estimate), so the score of a row depends on
the rows scored with it. ``check_estimator(BernoulliRBM(), on_fail=None)`` (scikit-learn 1.9)
fails exactly these two checks, for that reason; test_sklearn_bernoulli verifies it.
"""

ONE_RANDOM_UNIT = ("score_samples draws one random visible unit per row (the pseudo-likelihood "
                   "estimate), as BernoulliRBM's, which fails this check too")
SCORE_SAMPLES_CHECKS = ("check_methods_sample_order_invariance", "check_methods_subset_invariance")


def expected_failed_checks(estimator):
    """The checks ``estimator`` is expected to fail, with the reason: those that BernoulliRBM
    fails, for the estimators with its ``score_samples`` (RBMTransformer with binary units)."""
    if not hasattr(estimator, "score_samples"):
        return {}
    return {name: ONE_RANDOM_UNIT for name in SCORE_SAMPLES_CHECKS}
