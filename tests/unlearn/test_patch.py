"""The sparse unlearning patch: diff, bit-exact apply/revert on a tiny Llama, safetensors round trip."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from ontology.common import InputError, MedunlearnError
from unlearn.patch import (
    apply_patch,
    changed_parameter_count,
    compute_patch,
    load_patch,
    revert_patch,
    save_patch,
)


def tiny_llama(seed: int = 0, tie: bool = False) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=32,
        tie_word_embeddings=tie,
    )
    return LlamaForCausalLM(cfg)


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def bit_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(
        torch.equal(a[k].view(torch.int32), b[k].view(torch.int32)) for k in a
    )


@pytest.fixture()
def edited() -> tuple[LlamaForCausalLM, dict, dict, int]:
    """A tiny model edited at known coordinates: (model after, state before, state after, edit count)."""
    model = tiny_llama()
    before = snapshot(model)
    with torch.no_grad():
        q = model.model.layers[1].self_attn.q_proj.weight
        q[3, 5:9] += 0.5  # 4 coordinates
        q[0, 0] = -q[0, 0]  # 1
        mlp = model.model.layers[0].mlp.down_proj.weight
        mlp.view(-1)[::97] *= 1.5  # ceil(numel / 97) coordinates
        norm = model.model.norm.weight
        norm[2] = 0.0
    n_mlp = -(-mlp.numel() // 97)
    # one more bit-level edit: +0.0 -> -0.0 compares equal as numbers but is a different weight
    before["model.norm.weight"][2] = 0.0
    with torch.no_grad():
        norm[2] = -0.0
    model_state = snapshot(model)
    return model, before, model_state, 4 + 1 + n_mlp + 1


def test_changed_parameter_count_and_patch(edited) -> None:
    model, before, after, n_edits = edited
    total = sum(p.numel() for p in model.parameters())
    assert changed_parameter_count(before, after) == (n_edits, total)
    patch = compute_patch(before, after)
    assert patch.changed == n_edits and patch.total == total
    assert sorted(patch.entries) == [
        "model.layers.0.mlp.down_proj.weight",
        "model.layers.1.self_attn.q_proj.weight",
        "model.norm.weight",
    ]
    e = patch.entries["model.layers.1.self_attn.q_proj.weight"]
    assert e.indices.tolist() == [0, 3 * 32 + 5, 3 * 32 + 6, 3 * 32 + 7, 3 * 32 + 8]
    assert torch.equal(e.new[1:], e.old[1:] + 0.5)


def test_apply_and_revert_are_bit_exact(edited) -> None:
    model, before, after, _ = edited
    patch = compute_patch(before, after)
    revert_patch(model, patch)
    assert bit_equal(snapshot(model), before)
    apply_patch(model, patch)
    assert bit_equal(snapshot(model), after)
    # on a plain state dict too
    state = {k: v.clone() for k, v in before.items()}
    apply_patch(state, patch)
    assert bit_equal(state, after)


def test_patch_refuses_the_wrong_model(edited) -> None:
    model, before, after, _ = edited
    patch = compute_patch(before, after)
    with pytest.raises(MedunlearnError, match="not the original one"):
        apply_patch(model, patch)  # already patched
    other = tiny_llama(seed=1)
    untouched = snapshot(other)
    with pytest.raises(MedunlearnError, match="differs from the patch"):
        revert_patch(other, patch)
    assert bit_equal(snapshot(other), untouched)  # nothing written when the check fails
    with pytest.raises(MedunlearnError, match="no tensor"):
        apply_patch({"x": torch.zeros(2)}, patch)
    with pytest.raises(MedunlearnError, match="changed shape"):
        compute_patch({"w": torch.zeros(2)}, {"w": torch.zeros(3)})
    with pytest.raises(MedunlearnError, match="missing after"):
        compute_patch({"w": torch.zeros(2)}, {})


def test_save_load_round_trip(edited, tmp_path) -> None:
    model, before, after, n_edits = edited
    patch = compute_patch(before, after, metadata={"method": "dual"})
    out = save_patch(patch, tmp_path / "patch")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["changed"] == n_edits and manifest["metadata"] == {"method": "dual"}
    loaded = load_patch(out)
    assert loaded.changed == n_edits and loaded.total == patch.total and loaded.metadata == {"method": "dual"}
    revert_patch(model, loaded)
    assert bit_equal(snapshot(model), before)
    apply_patch(model, loaded)
    assert bit_equal(snapshot(model), after)
    # overwriting is atomic and leaves no temporary directory
    save_patch(loaded, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["patch"]


def test_load_rejects_bad_patches(edited, tmp_path) -> None:
    _, before, after, _ = edited
    out = save_patch(compute_patch(before, after), tmp_path / "patch")
    with pytest.raises(InputError, match="not a patch directory"):
        load_patch(tmp_path / "nowhere")
    blob = (out / "tensors.safetensors").read_bytes()
    (out / "tensors.safetensors").write_bytes(blob[:-4] + bytes(b ^ 0xFF for b in blob[-4:]))
    with pytest.raises(InputError, match="sha256"):
        load_patch(out)
    (out / "manifest.json").write_text("{\n  bad")
    with pytest.raises(InputError, match=r"manifest.json:2: bad JSON"):
        load_patch(out)


def test_tied_weights_are_counted_once() -> None:
    model = tiny_llama(tie=True)
    assert model.lm_head.weight is model.model.embed_tokens.weight
    before = snapshot(model)
    with torch.no_grad():
        model.lm_head.weight[5, :4] += 1.0
    state = model.state_dict()
    total = sum(p.numel() for p in model.parameters())  # parameters() lists the tied tensor once
    assert changed_parameter_count(state, state)[1] == total
    # the snapshot holds two separate copies; the model's state shares one tensor under two names
    assert changed_parameter_count(before, state) == (4, total)
    patch = compute_patch(before, state)
    assert patch.changed == 4 and list(patch.entries) == ["model.embed_tokens.weight"]
    revert_patch(model, patch)
    assert torch.equal(model.lm_head.weight, before["model.embed_tokens.weight"])
