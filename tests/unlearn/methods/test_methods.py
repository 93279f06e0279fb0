"""Methods registry and run-config validation."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ontology.common.config import validate_config
from ontology.common.errors import ConfigError
from unlearn.config import RunConfig, load_run_config, parse_overrides
from unlearn.methods import FORGET_TERMS, METHODS, MethodConfig, method_config


def test_registry_has_ours_and_the_baselines() -> None:
    assert set(METHODS) == {"dual", "ga", "graddiff", "npo", "simnpo", "rmu", "salun", "gru"}
    assert all(m.description and m.name == name for name, m in METHODS.items())


@pytest.mark.parametrize(
    ("name", "forget", "retain", "selection", "projection"),
    [
        ("dual", "token_npo", "nll", "fisher", "basis"),
        ("ga", "ga", "none", "none", "none"),
        ("graddiff", "ga", "nll", "none", "none"),
        ("npo", "npo", "none", "none", "none"),
        ("simnpo", "simnpo", "nll", "none", "none"),
        ("rmu", "rmu", "none", "none", "none"),
        ("salun", "ga", "nll", "fisher", "none"),
        ("gru", "ga", "nll", "none", "gru"),
    ],
)
def test_method_defaults(name: str, forget: str, retain: str, selection: str, projection: str) -> None:
    m = method_config(name)
    assert (m.forget_loss, m.retain_loss, m.selection, m.projection) == (
        forget,
        retain,
        selection,
        projection,
    )


def test_dual_defaults_follow_the_method_note() -> None:
    m = method_config("dual")
    assert (m.rho, m.basis_k, m.forget_tokens, m.keep_loss) == (0.001, 8, "target", "nll")
    assert m.needs_targets and m.needs_reference and m.separate_gradients


def test_overrides_win_over_registry_defaults() -> None:
    m = method_config("salun", rho=0.01, projection="pcgrad")
    assert (m.rho, m.projection, m.forget_loss) == (0.01, "pcgrad", "ga")


@pytest.mark.parametrize("rho", [0.0, -0.1, 1.5])
def test_rho_outside_unit_interval_is_rejected(rho: float) -> None:
    with pytest.raises(ConfigError, match=r"rho must lie in \(0, 1\]"):
        method_config("dual", rho=rho)
    assert method_config("dual", rho=1.0).rho == 1.0


def test_unknown_method_and_key() -> None:
    with pytest.raises(ConfigError, match="unknown method 'foo'"):
        method_config("foo")
    with pytest.raises(ConfigError, match="bogus: unknown key"):
        method_config("dual", bogus=1)


def test_config_errors_name_file_and_key_path(tmp_path: Path) -> None:
    p = tmp_path / "run.yaml"
    p.write_text("data:\n  forget: f.parquet\ntrain:\n  stepz: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_run_config(p)
    assert str(err.value) == f"{p}: train.stepz: unknown key"
    p.write_text("data:\n  forget: f.parquet\ntrain:\n  steps: many\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"run.yaml: train.steps: .*integer"):
        load_run_config(p)
    p.write_text("data:\n  forget: f.parquet\nmethod:\n  name: dual\n  rho: 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"run.yaml: method.rho: .*rho must lie in"):
        load_run_config(p)
    p.write_text("train:\n  steps: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="data: required key is missing"):
        load_run_config(p)


def test_paths_resolve_against_the_config_file_and_overrides_apply(tmp_path: Path) -> None:
    p = tmp_path / "sub" / "run.yaml"
    p.parent.mkdir()
    p.write_text("data:\n  forget: f.parquet\n  retain: [r.jsonl]\noutput:\n  dir: out\n", encoding="utf-8")
    cfg = load_run_config(p, parse_overrides(["train.steps=7", "method.name=npo", "method.beta=2e-1"]))
    assert cfg.data.forget == str(p.parent / "f.parquet") and cfg.data.retain == [str(p.parent / "r.jsonl")]
    assert cfg.output.dir == str(p.parent / "out")
    assert (cfg.train.steps, cfg.method.name, cfg.method.forget_loss, cfg.method.beta) == (
        7,
        "npo",
        "npo",
        0.2,
    )
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_overrides(["train.steps"])


def test_example_configs_validate(repo_root: Path) -> None:
    files = sorted((repo_root / "configs").glob("*.yaml"))
    assert files
    for f in files:
        assert isinstance(load_run_config(f), RunConfig)


def _forget_losses(node: object) -> set[str]:
    """Every ``forget_loss`` value in a parsed YAML tree."""
    if isinstance(node, dict):
        found = {node["forget_loss"]} if isinstance(node.get("forget_loss"), str) else set()
        return found.union(*(_forget_losses(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_forget_losses(v) for v in node))
    return set()


def test_each_forget_term_is_used_by_a_method_or_a_bundled_config(repo_root: Path) -> None:
    assert {m.forget for m in METHODS.values()} <= set(FORGET_TERMS)
    bundled = [
        repo_root / "unlearn" / "demo" / "recipes.yaml",
        *(repo_root / "unlearn" / "eval" / "suites").glob("*.yaml"),
        *(repo_root / "configs").glob("*.yaml"),
    ]
    in_configs = set().union(*(_forget_losses(yaml.safe_load(f.read_text())) for f in bundled))
    assert in_configs <= set(FORGET_TERMS)
    assert {m.forget for m in METHODS.values()} | in_configs == set(FORGET_TERMS)  # no term nobody runs
    assert method_config("dual").needs_reference and not method_config("graddiff").needs_reference
    with pytest.raises(
        ConfigError, match="method: forget_loss: .*unknown forget term 'foo'; known: token_npo, ref_kl, ga"
    ):
        validate_config({"name": "dual", "forget_loss": "foo"}, MethodConfig, source="method")


def test_recipe_gives_the_pre_memorisation_model_only_to_terms_that_read_it() -> None:
    from unlearn.recipes import UnlearnRecipe

    recipe = UnlearnRecipe(lr={"default": 1e-3}, method={"dual": {"forget_loss": "ref_kl"}})
    paths = {
        "seed": 0,
        "model": "memorized",
        "forget": "f.parquet",
        "retain": ["r.parquet"],
        "max_length": 64,
    }
    assert recipe.run_config("dual", reference="base", **paths).model.reference == "base"
    assert recipe.run_config("npo", reference="base", **paths).model.reference is None  # NPO: the start
    assert recipe.run_config("dual", **paths).model.reference is None  # none given: ref_kl's fallback
