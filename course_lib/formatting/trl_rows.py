"""TRL's prompt-completion rows (notebook 09): one record, or a batch in column form, split before the answer."""

from __future__ import annotations

from .messages import to_messages


def prompt_completion(example: dict, system_prompt: str | None = None, tokenizer=None) -> dict:
    """One record in TRL's *prompt-completion* format (notebook 09), conversational or rendered as text.

    Without ``tokenizer``: the conversational form, ``{"prompt": [system?, user], "completion": [assistant]}``,
    the messages of :func:`to_messages` split before the answer; ``SFTTrainer`` renders both with the chat template.
    With ``tokenizer``: the standard (text) form, the same chat template applied here: ``prompt`` is the rendered
    prompt with the generation prompt (``<|im_start|>assistant\n``), ``completion`` the answer and the
    tokenizer's EOS (``<|im_end|>``). Its tokens are exactly :func:`tokenize_example`'s; the conversational form
    adds the newline the template writes after ``<|im_end|>`` (one more trained token per untruncated example).
    With ``completion_only_loss`` TRL takes the loss on the completion's tokens only, as the course does.
    """
    messages = to_messages(example, system_prompt)
    if tokenizer is None:
        return {"prompt": messages[:-1], "completion": messages[-1:]}
    prompt = tokenizer.apply_chat_template(messages[:-1], add_generation_prompt=True, tokenize=False)
    return {"prompt": prompt, "completion": messages[-1]["content"] + tokenizer.eos_token}


def prompt_completion_columns(batch: dict, system_prompt: str | None = None, tokenizer=None) -> dict:
    """:func:`prompt_completion` for a batch of rows in column form, as ``datasets.Dataset.map(batched=True)``
    passes it: ``{"instruction": [...], "input": [...], "output": [...]}`` in, ``{"prompt": [...],
    "completion": [...]}`` out (one entry per row)."""
    rows = [dict(zip(batch, values)) for values in zip(*batch.values())]
    pairs = [prompt_completion(row, system_prompt, tokenizer) for row in rows]
    return {"prompt": [p["prompt"] for p in pairs], "completion": [p["completion"] for p in pairs]}
