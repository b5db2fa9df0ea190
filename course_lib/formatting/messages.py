"""Records -> chat messages: the user's turn, the [system?, user, assistant?] messages, few-shot prompts."""

from __future__ import annotations

from ..errors import ConfigError


def user_text(example: dict) -> str:
    """The user's turn of an instruction record: ``instruction``, then ``input`` after a blank line when present."""
    instruction = str(example.get("instruction") or "").strip()
    extra = example.get("input")
    extra = "" if extra is None else str(extra).strip()
    if not instruction and not extra:
        raise ConfigError(f"record {example.get('id', '?')!r} has an empty instruction and input — give every "
                          "record an 'instruction' (clean the file with course_lib.data first)")
    return f"{instruction}\n\n{extra}" if instruction and extra else instruction or extra


def to_messages(example: dict, system_prompt: str | None = None, with_answer: bool = True) -> list[dict]:
    """Chat messages for one instruction record.

    Args:
        example: a dict with ``instruction``, optional ``input`` (extra context) and ``output`` (the answer).
        system_prompt: optional system message. ``None`` lets the chat template insert its own default (SmolLM2's
            is "You are a helpful AI assistant named SmolLM, ..." — about 20 tokens on every example).
        with_answer: include the assistant turn (``False`` gives the prompt used at generation time).

    Returns:
        ``[{"role": "system", ...}?, {"role": "user", ...}, {"role": "assistant", ...}?]``.
    """
    messages = [] if system_prompt is None else [{"role": "system", "content": system_prompt}]
    messages.append({"role": "user", "content": user_text(example)})
    if with_answer:
        answer = example.get("output")
        if answer is None or not str(answer).strip():
            raise ConfigError(f"record {example.get('id', '?')!r} has no 'output' (the answer to train on) — "
                              "drop rows with empty answers before tokenizing (course_lib.data does)")
        messages.append({"role": "assistant", "content": str(answer).strip()})
    return messages


def few_shot_messages(example: dict, shots: list[dict], system_prompt: str | None = None) -> list[dict]:
    """A prompt that shows the model worked examples first: ``[system?, user_1, assistant_1, ..., user]``.

    ``shots`` are solved records (instruction/input/output) placed as earlier turns of the conversation; the
    last message is ``example``'s question, without its answer. This is the "just prompt it" baseline that
    fine-tuning has to beat.
    """
    messages = [] if system_prompt is None else [{"role": "system", "content": system_prompt}]
    for shot in shots:
        messages.extend(to_messages(shot))
    messages.extend(to_messages(example, with_answer=False))
    return messages
