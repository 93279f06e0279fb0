"""The one MCQ prompt format: rendered for training, located for scoring, the same string."""

from __future__ import annotations

from typing import Any

import pytest

from ontology.common.errors import MedunlearnError
from unlearn.prompts import chat_prompt, mcq_option_texts, mcq_options, render_mcq


@pytest.fixture(scope="module")
def tok(tiny: tuple[Any, Any]) -> Any:
    return tiny[1]


def test_mcq_rendered_with_chat_template(tok: Any) -> None:
    row = {"question": "Which organ is removed in a cholecystectomy?", "opa": "liver", "opb": "gallbladder",
           "opc": "spleen", "opd": "kidney", "cop": 1}  # fmt: skip
    text = render_mcq(row, tok)
    assert text == (
        "<|im_start|>user\nWhich organ is removed in a cholecystectomy?\nA. liver\nB. gallbladder\nC. spleen\n"
        "D. kidney<|im_end|>\n<|im_start|>assistant\nAnswer: B. gallbladder<|im_end|>\n"
    )
    assert mcq_options({"question": "q", "options": ["x", "y", "z"], "answer": 2}) == (["x", "y", "z"], 2)
    with pytest.raises(ValueError):
        mcq_options({"question": "q", "opa": "x", "opb": "y", "opc": "z", "opd": "w", "cop": 7})


def test_rendering_matches_the_training_text(tok: Any) -> None:
    item = {"question": "Which disorder is a mental disorder?",
            "options": ["hernia", "appendicitis", "panic disorder", "fracture"], "answer": 2}  # fmt: skip
    for option, (text, start, end) in enumerate(mcq_option_texts(tok, item)):
        assert text[start:end] == f" {'ABCD'[option]}. {item['options'][option]}"
    text, _, _ = mcq_option_texts(tok, item)[item["answer"]]
    assert text == render_mcq(item, tok)


def test_chat_prompt_needs_template(tok: Any) -> None:
    assert chat_prompt(tok, "hi").endswith("<|im_start|>assistant\n")
    bare = type(tok).from_pretrained(tok.name_or_path)
    bare.chat_template = None
    with pytest.raises(MedunlearnError, match="no chat template"):
        chat_prompt(bare, "hi")
