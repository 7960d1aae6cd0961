"""scikit-learn common checks that Bernoulli-visible estimators cannot pass, with the reason.

Bernoulli visible units need X in [0, 1]. The tag positive_only is set (negative values are
rejected with sklearn's "Negative values in data" wording), but it only makes the checks shift
their data to >= 0, and no tag says "at most 1": these checks feed values above 1, which fit
rejects. The same checks pass with Gaussian visible units, which take any real X.
"""

ABOVE_ONE = "feeds X with values above 1; Bernoulli visible units need X in [0, 1]"
OUT_OF_RANGE = [
    "check_dict_unchanged", "check_dont_overwrite_parameters", "check_estimators_dtypes",
    "check_estimators_fit_returns_self", "check_estimators_overwrite_params",
    "check_estimators_pickle", "check_f_contiguous_array_estimator", "check_fit2d_1feature",
    "check_fit2d_predict1d", "check_fit_check_is_fitted", "check_fit_idempotent",
    "check_methods_sample_order_invariance", "check_methods_subset_invariance",
    "check_n_features_in", "check_n_features_in_after_fitting", "check_pipeline_consistency",
    "check_readonly_memmap_input",
]
OUT_OF_RANGE_TRANSFORMER = ["check_fit2d_1sample", "check_transformer_data_not_an_array",
                            "check_transformer_general", "check_transformer_preserve_dtypes"]
OUT_OF_RANGE_CLASSIFIER = ["check_classifier_data_not_an_array", "check_classifiers_classes",
                           "check_classifiers_train"]


def expected_failed_checks(estimator):
    """The checks ``estimator`` is expected to fail, with the reason: those feeding values above 1
    to Bernoulli visible units (RBMTransformer, DBNClassifier and DBMTransformer)."""
    if not estimator.__sklearn_tags__().input_tags.positive_only:  # the Bernoulli-visible ones
        return {}
    is_transformer = hasattr(estimator, "transform")
    extra = OUT_OF_RANGE_TRANSFORMER if is_transformer else OUT_OF_RANGE_CLASSIFIER
    failed = {name: ABOVE_ONE for name in OUT_OF_RANGE + extra}
    if hasattr(estimator, "score_samples"):
        # as for sklearn's BernoulliRBM: score_samples draws one random unit per row
        for name in ("check_methods_sample_order_invariance", "check_methods_subset_invariance"):
            failed[name] += "; score_samples draws one random unit per row (as BernoulliRBM)"
    return failed
