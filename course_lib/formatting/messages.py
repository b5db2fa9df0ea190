"""Chat messages: the one builder (:func:`chat_messages`), a record's [system?, user, assistant?] turns, few-shot
prompts. Taught in notebooks 00 (chat templates), 01 (records to messages) and 03 (few-shot baselines)."""

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


def chat_messages(prompt, system_prompt: str | None = None) -> list[dict]:
    """One prompt as chat messages, ready for ``tokenizer.apply_chat_template``: the course's one message builder.

    ``prompt`` is a user string, or a list of ``{"role", "content"}`` messages kept as they are; anything else is
    refused by name. ``system_prompt`` goes first unless the list already starts with a system message; ``None``
    lets the chat template insert its own default. Generation (00, 02-08), retrieval's
    prompts (06) and :func:`to_messages` (training records, 01 and 03) all build their messages here.
    """
    if isinstance(prompt, str):
        messages = [{"role": "user", "content": prompt}]
    elif isinstance(prompt, (list, tuple)) and all(isinstance(m, dict) and "role" in m for m in prompt):
        messages = list(prompt)
    else:
        raise ConfigError("each prompt must be a string or a list of {'role', 'content'} messages — got "
                          f"{type(prompt).__name__}")
    if system_prompt is not None and (not messages or messages[0]["role"] != "system"):
        messages = [{"role": "system", "content": system_prompt}, *messages]
    return messages


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
    messages = chat_messages(user_text(example), system_prompt)
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
