"""app/report.py: verdicts, one summary and one table for compare runs and experiments."""

from layerwise.app.report import format_table, summarise, verdict


def test_verdict_paired_t_test():
    assert verdict([]) == "baseline"
    assert verdict([0.05, 0.06, 0.055]).startswith("helped: +5.5")
    assert verdict([-0.05, -0.06, -0.055]).startswith("hurt")
    assert verdict([0.05, -0.04, 0.01]).startswith("no clear difference")
    # +2.5 ± 0.87 points over 3 seeds: 2.9 standard errors, within t(0.975, 2) = 4.30 of zero
    assert verdict([0.01, 0.025, 0.04]).startswith("no clear difference")
    assert "one seed" in verdict([0.02])


def test_one_summary_for_a_compare_run_and_an_experiment():
    rows = [{"network": n, "seed": s, "test_accuracy": a, "pretrain_seconds": p, "finetune_seconds": 1.0,
             "n_labelled": 10}
            for n, p, accs in (("random", 0.0, (0.5, 0.6)), ("ae", 2.0, (0.7, 0.9))) for s, a in enumerate(accs)]
    table = summarise(rows, {"ae": "random"})
    assert [t["network"] for t in table] == ["random", "ae"]
    assert table[1]["accuracy_mean"] == 0.8 and table[1]["total_seconds"] == 3.0 and table[1]["baseline"] == "random"
    assert table[0]["verdict"] == "" and table[1]["verdict"].startswith("no clear difference: +25.0")
    compare = format_table(table, against="random")
    assert compare.splitlines()[0].endswith("| against random init |")
    assert "| random | 55.0 ± 7.1 % | 0.0 | 1.0 | baseline |" in compare
    experiment = format_table([dict(t, label_fraction=0.1) for t in table])
    assert experiment.startswith("### 10% of the training labels (10 images)")
    assert "| ae | 80.0 ± 14.1 | 2.0 | 1.0 | 3.0 | vs random: no clear difference" in experiment
