"""Small valid artefacts for the hostile-input tests: an ontology, a model's patch, file snapshots."""

from __future__ import annotations

from pathlib import Path

OBO = """format-version: 1.4

[Term]
id: X:1
name: disease

[Term]
id: X:2
name: heart disease
is_a: X:1 ! disease

[Term]
id: X:3
name: valve disease
is_a: X:2 ! heart disease
"""


def write_obo(path: Path, text: str = OBO) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def tiny_patch(out: Path) -> tuple[Path, Path]:
    """The prepared tiny model (in ``$MEDUNLEARN_HOME``) and a patch against it changing three coordinates."""
    from unlearn.models import prepare
    from unlearn.outputs import input_weights
    from unlearn.patch import compute_patch, save_patch

    model_dir = prepare("tiny-llama")
    before = input_weights(model_dir)
    after = {k: v.clone() for k, v in before.items()}
    name = next(k for k in after if k.endswith("down_proj.weight"))
    after[name].view(-1)[:3] += 1.0
    save_patch(compute_patch(before, after, {"base_model": "tiny-llama"}), out)
    return model_dir, out


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative name → bytes), hidden ones included: to show nothing was touched."""
    if root.is_file():
        return {root.name: root.read_bytes()}
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
