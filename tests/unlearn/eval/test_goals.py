"""Goal checks of a benchmark run against hand-made result rows."""

from unlearn.eval.goals import Goals, check_goals, goals_section


def _results() -> dict:
    return {
        "methods": {
            "memorized": {"forget_acc": 0.90, "retain_acc": 0.90},
            "oracle": {"forget_acc": 0.30, "retain_acc": 0.90, "mia_auc": {"loss": 0.50, "zlib": 0.52}},
            "dual": {
                "forget_acc": 0.40,  # efficacy (0.9 - 0.4) / (0.9 - 0.3) = 0.8333
                "forget_holdout_acc": 0.30,
                "retain_acc": 0.882,  # KP 0.98
                "forgetting_efficacy": 0.5 / 0.6,
                "forgetting_efficacy_holdout": None,
                "knowledge_preservation": 0.98,
                "changed_param_fraction": 0.0011,
                "mia_auc": {"loss": 0.54, "zlib": 0.60},
                "relearn_recovery": {"mean": 0.4, "std": 0.1},
            },
            "graddiff": {"forgetting_efficacy": 1.0, "knowledge_preservation": 0.95},
        }
    }


def test_each_goal_against_hand_values() -> None:
    checks = {c.goal: c for c in check_goals(_results())}
    assert [c.met for c in checks.values()] == [False, None, False, True, False, False, True, False]
    assert checks["forget acc within 5 points of the oracle's"].measured == "10.0% apart"
    assert (
        checks["MIA AUC of every attack within 0.05 of the oracle's"].measured == "largest gap 0.080 (zlib)"
    )
    # harmonic: dual 2 / (1/0.8333 + 1/0.98) = 0.9007; graddiff 2 / (1 + 1/0.95) = 0.9744
    assert checks["harmonic mean of efficacy and KP ahead of every baseline"].measured == (
        "0.901 vs 0.974 (graddiff)"
    )


def test_thresholds_are_configurable() -> None:
    loose = Goals(efficacy_min=0.8, oracle_gap_max=0.11, changed_max=0.002, mia_gap_max=0.1)
    met = [c.met for c in check_goals(_results(), goals=loose)]
    assert met == [True, None, True, True, True, True, True, False]


def test_section_needs_the_method_and_the_oracle() -> None:
    res = _results()
    assert goals_section(res, "npo") is None
    section = goals_section(res)
    assert section is not None and section["method"] == "dual" and len(section["checks"]) == 8
    assert section["checks"][3] == {"goal": "KP ≥ 0.97", "measured": "0.980", "met": True}
