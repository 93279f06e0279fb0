"""The prompt formats training and scoring must agree on: chat turns and multiple-choice items.

An MCQ item is rendered through the model's chat template: the user turn is the question followed by one
``"A. option"`` line per option; the assistant turn is ``"Answer: X. option text"``. Memorisation and
unlearning train on that string (:func:`render_mcq`); scoring reads the log-likelihood of each option's
continuation ``"X. option text"`` after the same prompt (:func:`mcq_option_texts`).

Examples
--------
>>> mcq_user_text("Which organ?", ["liver", "gallbladder"])
'Which organ?\\nA. liver\\nB. gallbladder'
>>> answer_text(["liver", "gallbladder"], 1)
'B. gallbladder'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ontology.common.errors import MedunlearnError

LETTERS = "ABCDEFGHIJ"
ANSWER_PREFIX = "Answer:"


def chat_prompt(tokenizer: Any, user: str, assistant: str | None = None) -> str:
    """Render one user turn (and optionally the assistant's answer) through the chat template; without an
    answer the prompt ends with the assistant's turn opened."""
    if not getattr(tokenizer, "chat_template", None):
        raise MedunlearnError(
            "the tokenizer has no chat template; this model cannot be prompted as a chat model"
        )
    messages = [{"role": "user", "content": user}]
    if assistant is None:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    messages.append({"role": "assistant", "content": assistant})
    return tokenizer.apply_chat_template(messages, tokenize=False)


def mcq_options(row: Mapping[str, Any]) -> tuple[list[str], int]:
    """Options and the 0-based answer index of an MCQ row (MedMCQA ``opa..opd, cop`` or ``options, answer``).

    Examples
    --------
    >>> mcq_options({"question": "q", "opa": "x", "opb": "y", "opc": "z", "opd": "w", "cop": 2})
    (['x', 'y', 'z', 'w'], 2)
    >>> mcq_options({"question": "q", "options": ["a", "b"], "answer": "B"})
    (['a', 'b'], 1)
    """
    if "opa" in row:
        options = [str(row.get(k) or "") for k in ("opa", "opb", "opc", "opd")]
        answer = row.get("cop")
    else:
        options = [str(o) for o in row.get("options") or []]
        answer = row.get("answer")
    if isinstance(answer, str) and len(answer) == 1 and answer.upper() in LETTERS:
        answer = LETTERS.index(answer.upper())
    if not options or not isinstance(answer, int) or not 0 <= answer < len(options):
        raise ValueError("needs options (opa..opd or options) and a valid answer index (cop or answer)")
    return options, answer


def mcq_user_text(question: str, options: Sequence[str]) -> str:
    """The user turn of an MCQ item: the question, then one ``"A. option"`` line per option."""
    return str(question).strip() + "\n" + "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(options))


def answer_text(options: Sequence[str], index: int) -> str:
    """The scored part of the assistant's answer: ``"X. option"`` (it follows :data:`ANSWER_PREFIX`)."""
    return f"{LETTERS[index]}. {options[index]}"


def render_mcq(row: Mapping[str, Any], tokenizer: Any) -> str:
    """An MCQ item with its answer, rendered with the chat template (the string memorisation trains on)."""
    options, answer = mcq_options(row)
    return chat_prompt(
        tokenizer, mcq_user_text(row["question"], options), f"{ANSWER_PREFIX} {answer_text(options, answer)}"
    )


def mcq_option_texts(tokenizer: Any, item: Mapping[str, Any]) -> list[tuple[str, int, int]]:
    """For each option of ``item`` (``question``, ``options``): the full chat text with that option as the
    answer, and the character span of the scored continuation ``"X. option"``."""
    options = item["options"]
    user = mcq_user_text(item["question"], options)
    out = []
    for i in range(len(options)):
        assistant = f"{ANSWER_PREFIX} {answer_text(options, i)}"
        text = chat_prompt(tokenizer, user, assistant)
        where = text.rfind(assistant)
        if where < 0:
            raise MedunlearnError(
                "the chat template altered the assistant text; cannot locate the answer span"
            )
        start = where + len(ANSWER_PREFIX)  # includes the space before the letter (BPE joins them)
        out.append((text, start, where + len(assistant)))
    return out
