"""Talking to a decoder: one chat turn with timing, what sampling does to the next-token distribution, and
greedy answers to many prompts a batch at a time.

:func:`chat` and :func:`next_token_distribution` are the interactive side (notebook 00: a learner chats with a
model and looks inside one decoding step). :func:`generate_answers` is the batched side that evaluation
(:mod:`course_lib.evaluation`, notebooks 02-07) and retrieval (:func:`course_lib.retrieval.answer_questions`,
notebook 06) both build on; it lives here, below them, so neither has to import the other for it.
:func:`generate_continuations` keeps the special tokens of what was generated, so that a scorer can tell how a
turn ended (``evaluation.chat_format``, notebook 11: does a base model stop at its end-of-turn token?).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from .errors import ConfigError
from .formatting import chat_messages
from .models import attention_kernel, evaluating


# Generation attends with SDPA even where training attends eagerly (the CPU, ``runtime.attention_implementation``).
# At each new token, eager attention copies every layer's whole key/value cache to repeat SmolLM2's 3 key/value
# heads for its 9 query heads; SDPA reads the cache in place, so the longer the prompt, the more it saves. Measured
# with benchmarks/generation_speed.py (fp32 greedy, 60 answers of notebook 03, 2 AMD EPYC cores, 2026-12-08):
# the 3-shot prompts 38.6 -> 26.8 s (1.44x), the plain questions 23.1 -> 22.9 s, the same 120 answers both ways.
# On a GPU the course loads SDPA anyway.
GENERATION_ATTENTION = "sdpa"


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


def chat(model, tokenizer, prompt, max_new_tokens: int = 64, temperature: float = 0.0, top_p: float = 1.0,
         system: str | None = None, seed: int | None = None) -> Reply:
    """Generate one answer to ``prompt`` (a string or a list of chat messages).

    ``temperature == 0`` means greedy decoding (deterministic); otherwise tokens are sampled from the
    temperature-scaled distribution restricted to the top-p nucleus. ``seed`` makes a sampled answer repeatable.
    """
    import torch

    inputs = tokenizer.apply_chat_template(chat_messages(prompt, system), add_generation_prompt=True,
                                           return_tensors="pt", return_dict=True).to(model.device)
    sampling = {"do_sample": False} if temperature <= 0 else {
        "do_sample": True, "temperature": temperature, "top_p": top_p, "top_k": 0}
    if seed is not None:
        torch.manual_seed(seed)
    start = time.perf_counter()
    with attention_kernel(model, GENERATION_ATTENTION), torch.no_grad():
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

    inputs = tokenizer.apply_chat_template(chat_messages(prompt, system), add_generation_prompt=True,
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


def _bar(progress: bool) -> dict:
    """tqdm keyword arguments: off when ``progress`` is False; otherwise tqdm's own default, which honours
    ``TQDM_DISABLE=1`` (an explicit ``disable=False`` would override that environment variable)."""
    return {} if progress else {"disable": True}


def _render(tokenizer, items, system: str | None, chat_template: bool) -> list[str]:
    """Each prompt as the text the model continues: its chat template's generation prompt, or the raw string."""
    if chat_template:
        return [tokenizer.apply_chat_template(chat_messages(item, system), add_generation_prompt=True,
                                              tokenize=False) for item in items]
    return [str(item) for item in items]


# Prompts that share at least this many leading tokens (a few-shot prompt's solved examples, a long system prompt)
# have that shared part read once and its key/value cache copied into every batch. Below it the saving is smaller
# than the copying, so short shared heads (the chat template and a one-line system prompt) are read with each prompt.
SHARED_PREFIX_MIN_TOKENS = 64


def _shared_prefix_length(rows: list[list[int]], minimum: int | None = None) -> int:
    """How many leading token ids every row shares, leaving each row at least one token of its own; 0 for a single
    row or when that is fewer than ``minimum`` (None: :data:`SHARED_PREFIX_MIN_TOKENS`, read at call time)."""
    minimum = SHARED_PREFIX_MIN_TOKENS if minimum is None else minimum
    if len(rows) < 2:
        return 0
    shortest = min(len(row) for row in rows) - 1
    length = 0
    while length < shortest and all(row[length] == rows[0][length] for row in rows):
        length += 1
    return length if length >= minimum else 0


def _prefix_cache(model, prefix: list[int]) -> tuple[str, object] | None:
    """The key/value cache of ``prefix`` (one row) and the ``generate`` keyword that takes it, or None when the
    model's cache is not a plain one per layer (sliding-window or linear-attention layers, e.g. Gemma 3's, keep state
    that copying row by row would not follow; those models read the shared part with every prompt, as before)."""
    import torch

    if not prefix:
        return None
    # logits_to_keep=1: only the cache is wanted, not the vocabulary scores of every prefix position.
    output = model(input_ids=torch.tensor([prefix], device=model.device), use_cache=True, logits_to_keep=1)
    # transformers renamed past_key_values to cache after 5.18 (both name the output field and generate's keyword).
    keyword = "cache" if "cache" in output else "past_key_values"
    cache = output.get(keyword)
    if cache is None or any(cache.is_sliding) or any(cache.is_linear):
        return None
    return keyword, cache


def _cache_for_batch(prefix_cache: tuple[str, object] | None, rows: int) -> dict:
    """``generate`` keyword arguments that start a batch of ``rows`` prompts from a copy of the shared head's cache
    (nothing when there is none); ``generate`` extends the copy, so the original stays the head alone."""
    import copy

    if prefix_cache is None:
        return {}
    keyword, cache = prefix_cache
    batch_cache = copy.deepcopy(cache)
    batch_cache.batch_repeat_interleave(rows)
    return {keyword: batch_cache}


def _padded_batch(prefix: list[int], suffixes: list[list[int]], pad_id: int, device):
    """input_ids and attention_mask (batch, len(prefix) + longest suffix): the prefix, then each suffix padded on
    its LEFT, so that every row ends where generation starts. With an empty prefix this is plain left padding;
    with one, the pads sit between prefix and suffix, masked out, and ``generate`` numbers the positions from the
    mask, so each row sees the same positions as its unpadded prompt."""
    import torch

    width = max(len(suffix) for suffix in suffixes)
    ids = [prefix + [pad_id] * (width - len(s)) + s for s in suffixes]
    mask = [[1] * len(prefix) + [0] * (width - len(s)) + [1] * len(s) for s in suffixes]
    return torch.tensor(ids, device=device), torch.tensor(mask, device=device)


def _generated_rows(model, tokenizer, texts, max_new_tokens, batch_size, progress, sampling, eos_ids,
                    add_special_tokens):
    """The new token ids of every text (``generate`` a batch at a time, padded on the left), in order; each row
    still holds what ``generate`` wrote after the row stopped (the stop token, then pads).

    Prefix caching: when all texts share a long head (:data:`SHARED_PREFIX_MIN_TOKENS`), the model reads it once
    and each batch starts from a copy of its cache. On a 2-core CPU this answers notebook 03's 60 3-shot questions
    1.9x faster with the same greedy answers (benchmarks/generation_speed.py, 2026-12-04). Attention runs through
    :data:`GENERATION_ATTENTION` while generating; the model gets its own kernel back afterwards."""
    import torch
    from tqdm.auto import tqdm

    if tokenizer.pad_token_id is None:
        raise ConfigError("the tokenizer has no pad token — load it with models.load_causal_lm (which sets one)")
    if not texts:
        return []  # the tokenizer refuses an empty batch
    # The chat template already wrote the special tokens; do not let the tokenizer add a BOS twice.
    token_rows = tokenizer(list(texts), add_special_tokens=add_special_tokens)["input_ids"]
    rows: list[list[int]] = []
    with evaluating(model), attention_kernel(model, GENERATION_ATTENTION), torch.no_grad():
        shared = _shared_prefix_length(token_rows)
        prefix_cache = _prefix_cache(model, token_rows[0][:shared]) if shared else None
        shared = shared if prefix_cache is not None else 0
        for start in tqdm(range(0, len(texts), batch_size), desc="generate", **_bar(progress),
                          total=math.ceil(len(texts) / batch_size)):
            suffixes = [row[shared:] for row in token_rows[start:start + batch_size]]
            input_ids, mask = _padded_batch(token_rows[0][:shared], suffixes, tokenizer.pad_token_id, model.device)
            output = model.generate(input_ids=input_ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                                    **sampling, **_cache_for_batch(prefix_cache, len(suffixes)),
                                    eos_token_id=eos_ids, pad_token_id=tokenizer.pad_token_id)
            rows.extend(output[:, input_ids.shape[1]:].tolist())
    return rows


def generate_answers(model, tokenizer, prompts_or_messages, max_new_tokens: int = 48, batch_size: int = 8,
                     progress: bool = True, system: str | None = None, chat_template: bool = True,
                     temperature: float = 0.0, seed: int | None = None) -> list[str]:
    """Greedy (or, with ``temperature > 0``, sampled) answers to many prompts, a batch at a time.

    Args:
        model: a causal LM (plain or PEFT-wrapped), on any device.
        tokenizer: its tokenizer, with a pad token distinct from EOS (see ``models.prepare_tokenizer``).
        prompts_or_messages: N user strings or N chat-message lists (the last message is the user's).
        max_new_tokens: generation budget per answer, in tokens.
        batch_size: prompts per ``generate`` call.
        progress: show a tqdm bar (``TQDM_DISABLE=1`` also hides it).
        system: optional system message put first when a conversation has none.
        chat_template: render prompts with the tokenizer's chat template (``False``: raw strings, for base
            models).
        temperature: 0 (the default) decodes greedily; above 0 samples from the temperature-scaled distribution
            (no top-k or top-p cut), e.g. two different answers to the same question for notebook 08's preference
            pairs.
        seed: seeds torch before sampling, so a sampled batch is repeatable (the same seed, the same answers).

    Returns:
        N answers (special tokens removed, text after the first EOS dropped, whitespace stripped).

    Prompts are padded on the LEFT: a decoder continues from the last position, so with right padding the
    shorter prompts would be continued after pad tokens. The tokenizer's padding side is restored afterwards.
    Greedy decoding (``do_sample=False``) makes the evaluation deterministic.
    """
    import torch

    sampling = {"do_sample": False} if temperature <= 0 else {"do_sample": True, "temperature": temperature,
                                                              "top_k": 0, "top_p": 1.0}
    if seed is not None:
        torch.manual_seed(seed)

    texts = _render(tokenizer, list(prompts_or_messages), system, chat_template)
    eos_id = tokenizer.eos_token_id
    answers: list[str] = []
    for row in _generated_rows(model, tokenizer, texts, max_new_tokens, batch_size, progress, sampling, eos_id,
                               add_special_tokens=not chat_template):
        if eos_id in row:
            row = row[:row.index(eos_id)]
        answers.append(tokenizer.decode(row, skip_special_tokens=True).strip())
    return answers


def generate_continuations(model, tokenizer, prompts_or_messages, stop_tokens, max_new_tokens: int = 48,
                           batch_size: int = 8, progress: bool = True, system: str | None = None) -> list[str]:
    """What the model writes after each prompt's chat-template generation prompt, special tokens kept (greedy).

    ``stop_tokens``: token strings that end generation (e.g. Gemma's ``"<end_of_turn>"`` and ``"<eos>"``). Each
    continuation is decoded with its special tokens and cut right *after* the first stop token it wrote, so a
    scorer can see how the turn ended: with an end-of-turn token, with a new ``<start_of_turn>``, or not at all
    within ``max_new_tokens`` (``evaluation.chat_format`` scores these strings; taught in notebook 11).
    Padding and batching as :func:`generate_answers`.
    """
    stop_ids = tokenizer.convert_tokens_to_ids(list(stop_tokens))
    unknown = [token for token, tid in zip(stop_tokens, stop_ids) if tid is None or tid == tokenizer.unk_token_id]
    if unknown:
        raise ConfigError(f"the tokenizer has no token {unknown[0]!r} — pass stop tokens from its vocabulary")
    texts = _render(tokenizer, list(prompts_or_messages), system, chat_template=True)
    continuations = []
    for row in _generated_rows(model, tokenizer, texts, max_new_tokens, batch_size, progress, {"do_sample": False},
                               stop_ids, add_special_tokens=False):
        end = next((i for i, tid in enumerate(row) if tid in stop_ids), None)
        kept = row if end is None else row[:end + 1]  # no stop token: generate ran to max_new_tokens, no pads
        continuations.append(tokenizer.decode(kept, skip_special_tokens=False))
    return continuations
