"""Talking to a decoder: one chat turn with timing, and what sampling does to the next-token distribution.

Batched generation for evaluation lives in :mod:`course_lib.evaluation`; this module is the interactive side used
when a learner chats with a model and looks inside one decoding step.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class Reply:
    """One generated answer.

    Attributes:
        text: the decoded answer (special tokens removed).
        new_tokens: tokens generated (EOS included when the model stopped by itself).
        seconds: wall-clock time of ``generate`` (prompt processing included).
        stopped: True when the model emitted EOS before ``max_new_tokens``.
    """

    text: str
    new_tokens: int
    seconds: float
    stopped: bool

    @property
    def tokens_per_s(self) -> float:
        return self.new_tokens / self.seconds if self.seconds > 0 else 0.0


def as_messages(prompt, system: str | None = None) -> list[dict]:
    """A user string (or an existing message list) as chat messages, with an optional system message first."""
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
    if system is not None:
        messages = [{"role": "system", "content": system}, *messages]
    return messages


def chat(model, tokenizer, prompt, max_new_tokens: int = 64, temperature: float = 0.0, top_p: float = 1.0,
         system: str | None = None, seed: int | None = None) -> Reply:
    """Generate one answer to ``prompt`` (a string or a list of chat messages).

    ``temperature == 0`` means greedy decoding (deterministic); otherwise tokens are sampled from the
    temperature-scaled distribution restricted to the top-p nucleus. ``seed`` makes a sampled answer repeatable.
    """
    import torch

    inputs = tokenizer.apply_chat_template(as_messages(prompt, system), add_generation_prompt=True,
                                           return_tensors="pt", return_dict=True).to(model.device)
    sampling = {"do_sample": False} if temperature <= 0 else {
        "do_sample": True, "temperature": temperature, "top_p": top_p, "top_k": 0}
    if seed is not None:
        torch.manual_seed(seed)
    start = time.perf_counter()
    with torch.no_grad():
        output = model.generate(**inputs, max_new_tokens=max_new_tokens, **sampling)
    seconds = time.perf_counter() - start
    new = output[0, inputs["input_ids"].shape[1]:]
    stopped = bool((new == tokenizer.eos_token_id).any())
    return Reply(tokenizer.decode(new, skip_special_tokens=True).strip(), int(new.numel()), seconds, stopped)


def next_token_distribution(model, tokenizer, prompt, temperature: float = 1.0, top_p: float = 1.0,
                            k: int = 10, system: str | None = None):
    """The ``k`` most likely next tokens after ``prompt``'s generation prompt.

    Returns a pandas DataFrame with columns ``token``, ``probability`` (after temperature scaling, before the
    nucleus cut) and ``in_nucleus`` (whether top-p sampling could pick it): temperature < 1 sharpens the
    distribution, > 1 flattens it; top-p keeps the smallest set of tokens whose probabilities sum to ``top_p``.
    The table shows ``k`` rows, but the nucleus is measured over the whole vocabulary: ``table.attrs`` holds
    ``nucleus_size`` (tokens top-p sampling can pick), ``nucleus_mass`` (their total probability) and
    ``vocabulary`` (tokens scored).
    """
    import pandas as pd
    import torch

    inputs = tokenizer.apply_chat_template(as_messages(prompt, system), add_generation_prompt=True,
                                           return_tensors="pt", return_dict=True).to(model.device)
    with torch.no_grad():
        logits = model(**inputs).logits[0, -1].float()
    probs = torch.softmax(logits / max(temperature, 1e-6), dim=-1)
    sorted_probs, order = probs.sort(descending=True)
    # A token is in the nucleus if the mass of the tokens ranked above it is still below top_p.
    # top_p >= 1 turns the cut off, as in generate(): every token stays (a float cumsum can reach 1.0 early).
    mass_before = sorted_probs.cumsum(0) - sorted_probs
    in_nucleus = mass_before < top_p if top_p < 1.0 else torch.ones_like(sorted_probs, dtype=torch.bool)
    rows = [{"token": tokenizer.decode([int(order[i])]), "probability": float(sorted_probs[i]),
             "in_nucleus": bool(in_nucleus[i])} for i in range(k)]
    table = pd.DataFrame(rows)
    table.attrs.update(nucleus_size=int(in_nucleus.sum()), nucleus_mass=float(sorted_probs[in_nucleus].sum()),
                       vocabulary=int(probs.numel()))
    return table
