"""Fisher selection on a tiny Llama, top-ρ masks, mask files, and masked optimizer updates."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from ontology.common import InputError, MedunlearnError
from unlearn import selection
from unlearn.selection import (
    SelectionError,
    enforce_mask,
    fisher_diagonal,
    load_mask,
    mask_gradients,
    mask_size,
    saliency,
    save_mask,
    select_parameters,
    top_fraction_mask,
)

VOCAB = 64


def tiny_llama(seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=32,
        tie_word_embeddings=False,
    )
    return LlamaForCausalLM(cfg)


def lm_loss(model: torch.nn.Module, ids: torch.Tensor) -> torch.Tensor:
    return model(input_ids=ids, labels=ids).loss


def batches(seed: int, n: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, VOCAB, (2, 8), generator=g) for _ in range(n)]


def bits_changed(before: dict[str, torch.Tensor], model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {
        n: p.detach().view(torch.int32) != before[n].view(torch.int32) for n, p in model.named_parameters()
    }


# --- parameter filters -------------------------------------------------------------------------------


def test_select_parameters_filters() -> None:
    model = tiny_llama()
    got = select_parameters(model, include=[r"mlp\."], exclude=["down_proj"], layers=[1])
    assert sorted(got) == ["model.layers.1.mlp.gate_proj.weight", "model.layers.1.mlp.up_proj.weight"]
    assert len(select_parameters(model)) == len(list(model.parameters()))
    with pytest.raises(SelectionError, match="no parameter matches"):
        select_parameters(model, layers=[7])
    with pytest.raises(SelectionError, match="bad parameter filter"):
        select_parameters(model, include=["("])


# --- Fisher and saliency -----------------------------------------------------------------------------


def test_fisher_matches_manual_squared_gradients_and_restores_model() -> None:
    model = tiny_llama()
    model.train()
    params = select_parameters(model, include=[r"layers\.1\."])
    data = batches(1, 2)
    fisher = fisher_diagonal(model, data, lm_loss, params)
    # manual: mean over the two batches of the squared gradient
    model.eval()
    expected = {n: torch.zeros_like(p) for n, p in params.items()}
    for ids in data:
        model.zero_grad()
        lm_loss(model, ids).backward()
        for n, p in params.items():
            expected[n] += p.grad.pow(2) / 2
    model.zero_grad(set_to_none=True)
    for n in params:
        assert torch.allclose(fisher[n], expected[n], rtol=1e-5, atol=1e-12)
    # restored: training mode, requires_grad flags, no gradient left behind
    fisher_diagonal(model.train(), data, lm_loss, params)
    assert model.training
    assert all(p.requires_grad and p.grad is None for p in model.parameters())


def test_fisher_rejects_empty_data_and_nan_loss() -> None:
    model = tiny_llama()
    params = select_parameters(model, layers=[0])
    with pytest.raises(SelectionError, match="no batches"):
        fisher_diagonal(model, [], lm_loss, params)
    with pytest.raises(SelectionError, match="non-finite loss"):
        fisher_diagonal(model, batches(0, 1), lambda m, b: lm_loss(m, b) * float("nan"), params)


def test_saliency_hand_values() -> None:
    s = saliency({"w": torch.tensor([2.0, 0.0, 1.0])}, {"w": torch.tensor([1.0, 0.0, 3.0])}, eps=1.0)
    assert torch.allclose(s["w"], torch.tensor([1.0, 0.0, 0.25]))
    with pytest.raises(SelectionError, match="different tensors"):
        saliency({"a": torch.ones(1)}, {"b": torch.ones(1)})


# --- top-ρ masks -------------------------------------------------------------------------------------


def random_scores(seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    # heavy-tailed, spanning many orders of magnitude, like Fisher ratios
    return {
        "a": torch.exp(4 * torch.randn(300, 7, generator=g)),
        "b": torch.exp(4 * torch.randn(1000, generator=g)),
        "c": torch.exp(4 * torch.randn(5, 40, generator=g)),
    }


@pytest.mark.parametrize("method", ["kthvalue", "histogram"])
@pytest.mark.parametrize("rho", [1e-3, 0.01, 0.37, 1.0])
def test_top_fraction_count_and_order(method: str, rho: float) -> None:
    scores = random_scores(0)
    n = sum(s.numel() for s in scores.values())  # 2100 + 1000 + 200 = 3300
    assert n == 3300
    mask = top_fraction_mask(scores, rho, method=method)
    assert abs(mask_size(mask) - rho * n) <= 1  # within one coordinate of ρ·N
    assert mask_size(mask) == max(1, round(rho * n))
    chosen = torch.cat([s[mask[k]] for k, s in scores.items()])
    left = torch.cat([s[~mask[k]] for k, s in scores.items()])
    if left.numel():
        assert float(chosen.min()) >= float(left.max())  # what a global sort would pick


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_methods_agree_and_histogram_refines(monkeypatch: pytest.MonkeyPatch, dtype: torch.dtype) -> None:
    scores = {k: v.to(dtype) for k, v in random_scores(1).items()}
    every = torch.cat([v.reshape(-1) for v in scores.values()])
    scores["d"] = torch.full((50,), float(every.topk(40).values[-1]))  # 51 ties at the 40th largest score
    exact = top_fraction_mask(scores, 0.013, method="kthvalue")
    monkeypatch.setattr(selection, "_EXACT_LIMIT", 4)  # force several histogram rounds
    monkeypatch.setattr(selection, "_HIST_BINS", 16)
    approx = top_fraction_mask(scores, 0.013, method="histogram")
    assert all(torch.equal(exact[k], approx[k]) for k in scores)
    # k = round(0.013·3350) = 44: the 39 scores above the tied value, then 5 of its 51 copies in tensor
    # order: the original one (in a, b or c, which come before d) and the first 4 of d
    assert mask_size(exact) == 44
    assert exact["d"].tolist() == [True] * 4 + [False] * 46


@pytest.mark.parametrize("method", ["kthvalue", "histogram"])
def test_ties_are_broken_deterministically(method: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(selection, "_EXACT_LIMIT", 4)
    flat = {"x": torch.ones(10), "y": torch.ones(2, 5)}
    mask = top_fraction_mask(flat, 0.25, method=method)  # k = 5 of 20, all tied: first five in order
    assert mask["x"].tolist() == [True] * 5 + [False] * 5
    assert not mask["y"].any()
    few = {"x": torch.tensor([3.0, 1.0, 1.0, 0.0]), "y": torch.tensor([1.0, 1.0, 2.0, 0.0])}
    mask = top_fraction_mask(few, 0.5, method=method)  # k = 4: 3, 2, then two of the four 1s
    assert mask["x"].tolist() == [True, True, True, False]
    assert mask["y"].tolist() == [False, False, True, False]


@pytest.mark.parametrize("rho", [0.0, -0.1, 1.5, math.nan, "0.1"])
def test_rho_outside_unit_interval_is_an_error(rho: object) -> None:
    with pytest.raises(SelectionError, match=r"rho .* must be in \(0, 1\]"):
        top_fraction_mask({"a": torch.ones(3)}, rho)  # type: ignore[arg-type]
    assert issubclass(SelectionError, MedunlearnError) and issubclass(SelectionError, ValueError)


def test_nan_scores_and_unknown_method_are_errors() -> None:
    with pytest.raises(SelectionError, match="NaN"):
        top_fraction_mask({"a": torch.tensor([1.0, math.nan])}, 0.5)
    with pytest.raises(SelectionError, match="unknown selection method"):
        top_fraction_mask({"a": torch.ones(3)}, 0.5, method="sort")


# --- mask files ----------------------------------------------------------------------------------------


def test_mask_round_trip(tmp_path) -> None:
    mask = top_fraction_mask(random_scores(2), 0.05)
    path = save_mask(mask, tmp_path / "m" / "mask.safetensors", metadata={"rho": "0.05"})
    back = load_mask(path)
    assert list(back) == sorted(mask)  # safetensors stores keys sorted
    assert all(torch.equal(back[k], mask[k]) for k in mask)
    assert not list(tmp_path.glob("m/.*tmp"))  # no temporary left behind
    with pytest.raises(InputError, match="not found"):
        load_mask(tmp_path / "missing.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(InputError, match="bad.safetensors: not a safetensors"):
        load_mask(tmp_path / "bad.safetensors")
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(3)}, str(tmp_path / "float.safetensors"))
    with pytest.raises(
        InputError, match="float.safetensors: not a mask file: its header records no tensor shapes"
    ):
        load_mask(tmp_path / "float.safetensors")


# --- masked optimizer updates --------------------------------------------------------------------------


def fisher_mask(model: LlamaForCausalLM, rho: float) -> tuple[dict, dict]:
    params = select_parameters(model)
    forget, retain = batches(10, 1), batches(11, 2)
    f_f = fisher_diagonal(model, forget, lm_loss, params)
    f_r = fisher_diagonal(model, retain, lm_loss, params)
    scores = saliency(f_f, f_r)
    mask = top_fraction_mask(scores, rho)
    # every selected coordinate has a non-zero forget gradient (so an update must move it)
    assert all(bool((f_f[n][m] > 0).all()) for n, m in mask.items())
    return params, mask


def test_masked_adam_changes_exactly_the_selected_coordinates() -> None:
    model = tiny_llama()
    params, mask = fisher_mask(model, rho=0.005)
    before = {n: p.detach().clone() for n, p in params.items()}
    opt = torch.optim.Adam(params.values(), lr=1e-2, weight_decay=0.0)
    forget = batches(10, 1)[0]
    for _ in range(3):
        opt.zero_grad()
        (-lm_loss(model, forget)).backward()
        mask_gradients(params, mask)
        opt.step()
    changed = bits_changed(before, model)
    n_params = sum(p.numel() for p in model.parameters())
    assert mask_size(mask) == round(0.005 * n_params)
    assert sum(int(c.sum()) for c in changed.values()) == mask_size(mask)
    assert all(torch.equal(changed[n], mask[n]) for n in mask)


def test_weight_decay_leaks_outside_the_mask_unless_enforced() -> None:
    model = tiny_llama()
    params, mask = fisher_mask(model, rho=0.005)
    before = {n: p.detach().clone() for n, p in params.items()}
    forget = batches(10, 1)[0]

    def one_step(enforce: bool) -> int:
        for n, p in params.items():
            p.data.copy_(before[n])
        opt = torch.optim.AdamW(params.values(), lr=1e-2, weight_decay=0.1)
        opt.zero_grad()
        (-lm_loss(model, forget)).backward()
        mask_gradients(params, mask)
        opt.step()
        if enforce:
            enforce_mask(params, mask, before)
        return sum(int(c.sum()) for c in bits_changed(before, model).values())

    assert one_step(enforce=False) > mask_size(mask)  # decoupled weight decay moves every coordinate
    assert one_step(enforce=True) == mask_size(mask)
