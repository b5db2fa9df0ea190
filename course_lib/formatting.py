"""From a record to training tensors: chat template, response-only labels, padding collator, packing.

The pipeline for one instruction example::

    record {"instruction", "input"?, "output"}
      -> to_messages()        [system?, user, assistant] chat messages
         (prompt_completion(): the same split before the answer, TRL's prompt-completion format, notebook 09)
      -> tokenize_example()   input_ids / attention_mask / labels (labels = -100 except the answer and its EOS)
      -> CausalCollator       a right-padded batch (labels padded with -100, attention_mask 0 on pads)
   or -> pack_examples() + PackedCollator   several examples per row, no attention across examples

Shapes: a feature is a dict of equal-length Python int lists (``L`` tokens); a collated batch is a dict of
``torch.long`` tensors of shape ``(batch, L_max)``.

Why the labels look like this:

* ``-100`` is PyTorch's ``ignore_index`` for cross-entropy, so prompt tokens (system, user, the
  ``<|im_start|>assistant`` header) and padding add nothing to the loss: the model is trained to *answer*, not to
  reproduce questions.
* The end-of-turn token (``<|im_end|>`` for SmolLM2, the tokenizer's EOS) after the answer *is* trained: without
  it the model never learns to stop. This is also why the pad token must differ from EOS (see
  ``models.prepare_tokenizer``): masking pads would otherwise mask the EOS too.

torch is imported inside the collators only; importing this module is cheap.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from .errors import ConfigError

IGNORE_INDEX = -100  # torch.nn.CrossEntropyLoss(ignore_index=-100): positions with this label add no loss


# ----------------------------------------------------------------------------------------------------------------
# Records -> chat messages -> token ids with masked labels
# ----------------------------------------------------------------------------------------------------------------

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


class ExampleTooLong(ConfigError):
    """The prompt alone fills ``max_len``: no answer token would be left to train on."""


def tokenize_example(example: dict, tokenizer, max_len: int, system_prompt: str | None = None,
                     min_answer_tokens: int = 1) -> dict:
    """Tokenize one record with the chat template; the loss falls on the answer and its EOS only.

    Args:
        example: instruction record (see :func:`to_messages`).
        tokenizer: a chat tokenizer whose EOS ends an assistant turn (SmolLM2: ``<|im_end|>``, id 2).
        max_len: the longest sequence allowed, in tokens.
        system_prompt: see :func:`to_messages`.
        min_answer_tokens: fewest answer tokens that must survive truncation.

    Returns:
        ``{"input_ids", "attention_mask", "labels"}``, three int lists of the same length ``L <= max_len``.
        ``labels[i] == input_ids[i]`` on the answer tokens and the EOS that closes them, ``-100`` elsewhere. The
        sequence ends at that EOS (the template's trailing newline is not kept: nothing follows it in training).

    Truncation: when the example is longer than ``max_len`` the *answer's tail* is cut (the prompt is kept whole,
    so the model still sees the full question); the cut answer then has no EOS. When the prompt leaves fewer than
    ``min_answer_tokens`` tokens, :class:`ExampleTooLong` is raised — :func:`tokenize_dataset` drops and counts
    such rows, so no row ever reaches training with zero trained tokens.
    """
    if max_len < 2:
        raise ConfigError(f"max_len={max_len} is too short to hold a prompt and an answer — use 32 or more")
    messages = to_messages(example, system_prompt)
    prompt_text = tokenizer.apply_chat_template(messages[:-1], add_generation_prompt=True, tokenize=False)
    full_text = tokenizer.apply_chat_template(messages, tokenize=False)
    # The chat template already wrote every special token: add_special_tokens=False avoids a second BOS.
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    full_ids = tokenizer(full_text, add_special_tokens=False)["input_ids"]
    if full_ids[:len(prompt_ids)] != prompt_ids:
        # Tokenizers can merge characters across the prompt/answer boundary; then the split below would be wrong.
        raise ConfigError("the chat template's prompt is not a token prefix of the full conversation for record "
                          f"{example.get('id', '?')!r} — this tokenizer cannot be masked by prefix; use a model "
                          "from the course registry")
    eos_id = tokenizer.eos_token_id
    try:
        end = full_ids.index(eos_id, len(prompt_ids))  # the EOS closing the assistant turn
    except ValueError as err:
        raise ConfigError("the chat template does not close the assistant turn with the tokenizer's EOS "
                          f"({tokenizer.eos_token!r}) — set tokenizer.eos_token to the end-of-turn token") from err
    input_ids = full_ids[:end + 1]
    if len(prompt_ids) + min_answer_tokens > max_len:
        raise ExampleTooLong(f"record {example.get('id', '?')!r}: the prompt is {len(prompt_ids)} tokens, leaving "
                             f"fewer than {min_answer_tokens} answer token(s) within max_len={max_len} — raise "
                             "max_len or shorten the instruction/input")
    input_ids = input_ids[:max_len]
    labels = [IGNORE_INDEX] * len(prompt_ids) + input_ids[len(prompt_ids):]
    return {"input_ids": input_ids, "attention_mask": [1] * len(input_ids), "labels": labels}


@dataclass
class TokenizeReport:
    """What :func:`tokenize_dataset` did.

    Attributes:
        rows: records given.
        kept: features produced.
        truncated: kept features whose answer was cut (no EOS trained on those).
        dropped: ids (or 0-based positions) of records dropped because the prompt alone filled ``max_len``.
        tokens: total tokens of the kept features.
        trained_tokens: tokens with a label (answer + EOS); ``trained_tokens / tokens`` is the share of compute
            that teaches the model something.
        lengths: token length of each kept feature.
    """

    rows: int = 0
    kept: int = 0
    truncated: int = 0
    dropped: list = field(default_factory=list)
    tokens: int = 0
    trained_tokens: int = 0
    lengths: list = field(default_factory=list)

    def __str__(self) -> str:
        share = self.trained_tokens / self.tokens if self.tokens else 0.0
        return (f"{self.kept}/{self.rows} examples kept ({self.truncated} with a truncated answer, "
                f"{len(self.dropped)} dropped: prompt longer than max_len); {self.tokens} tokens, "
                f"{self.trained_tokens} trained on ({100 * share:.0f}%)")


def tokenize_dataset(examples, tokenizer, max_len: int, system_prompt: str | None = None,
                     min_answer_tokens: int = 1) -> tuple[list[dict], TokenizeReport]:
    """Tokenize many records with :func:`tokenize_example`; drop (and report) rows with no room for an answer.

    Returns:
        ``(features, report)``. Raises :class:`ConfigError` when nothing is left.
    """
    features, report = [], TokenizeReport()
    for position, example in enumerate(examples):
        report.rows += 1
        try:
            feature = tokenize_example(example, tokenizer, max_len, system_prompt, min_answer_tokens)
        except ExampleTooLong:
            report.dropped.append(example.get("id", position))
            continue
        features.append(feature)
        n_trained = sum(label != IGNORE_INDEX for label in feature["labels"])
        report.kept += 1
        report.truncated += int(feature["labels"][-1] != tokenizer.eos_token_id)
        report.tokens += len(feature["input_ids"])
        report.trained_tokens += n_trained
        report.lengths.append(len(feature["input_ids"]))
    if not features:
        raise ConfigError(f"all {report.rows} examples are longer than max_len={max_len} before their answer "
                          "starts — raise the profile's max_seq_len or shorten the prompts")
    return features, report


def check_feature(feature: dict, tokenizer) -> None:
    """Assert the masking rules on one feature; raises ``AssertionError`` naming the broken rule.

    Rules: equal lengths; at least one trained token; every trained label equals its input token; no pad token is
    trained; the trained span is one contiguous block at the end; if it ends in EOS the EOS is trained.
    """
    ids, labels = feature["input_ids"], feature["labels"]
    assert len(ids) == len(labels) == len(feature.get("attention_mask", ids)), "input_ids/labels lengths differ"
    trained = [i for i, label in enumerate(labels) if label != IGNORE_INDEX]
    assert trained, "no token is trained on (all labels are -100)"
    assert all(labels[i] == ids[i] for i in trained), "a trained label differs from its input token"
    assert all(ids[i] != tokenizer.pad_token_id for i in trained), "a pad token is trained on"
    if ids[-1] == tokenizer.eos_token_id:
        assert labels[-1] == tokenizer.eos_token_id, "the closing EOS is masked: the model would never learn to stop"
    assert trained == list(range(trained[0], len(ids))), "the trained tokens are not one block ending the sequence"


# ----------------------------------------------------------------------------------------------------------------
# Batching: dynamic padding
# ----------------------------------------------------------------------------------------------------------------

@dataclass
class CausalCollator:
    """Pad a list of features to the longest one in the batch (dynamic padding), on the right.

    Args:
        pad_token_id: id written into padded ``input_ids`` (SmolLM2: 0, ``<|endoftext|>``; never the EOS id).
        pad_to_multiple_of: round the padded length up (e.g. 8 for GPU tensor cores); ``None`` = exact.

    Call with ``[{"input_ids", "attention_mask", "labels"}, ...]``; returns ``{"input_ids", "attention_mask",
    "labels"}`` as ``torch.long`` tensors of shape ``(batch, L_max)`` — labels padded with -100, attention mask 0
    on pads. Padding to the batch's longest (not to ``max_len``) is where most of the CPU time is saved when
    lengths vary; sorting by length (``train_sampling_strategy="group_by_length"``) saves more.
    """

    pad_token_id: int
    pad_to_multiple_of: int | None = None

    def __call__(self, features: list[dict]) -> dict:
        import torch

        if not features:
            raise ConfigError("cannot collate an empty batch")
        width = max(len(f["input_ids"]) for f in features)
        if self.pad_to_multiple_of:
            width = -(-width // self.pad_to_multiple_of) * self.pad_to_multiple_of
        ids, mask, labels = [], [], []
        for f in features:
            gap = width - len(f["input_ids"])
            ids.append(list(f["input_ids"]) + [self.pad_token_id] * gap)
            mask.append(list(f.get("attention_mask") or [1] * len(f["input_ids"])) + [0] * gap)
            labels.append(list(f["labels"]) + [IGNORE_INDEX] * gap)
        return {"input_ids": torch.tensor(ids, dtype=torch.long),
                "attention_mask": torch.tensor(mask, dtype=torch.long),
                "labels": torch.tensor(labels, dtype=torch.long)}


# ----------------------------------------------------------------------------------------------------------------
# Packing: several examples in one row, no attention across them
# ----------------------------------------------------------------------------------------------------------------

def pack_examples(features: list[dict], max_len: int) -> list[dict]:
    """Pack features into rows of at most ``max_len`` tokens (first-fit on lengths sorted longest first).

    Each packed row is ``{"input_ids", "labels", "position_ids", "seq_lens"}`` (int lists; ``seq_lens`` lists the
    lengths of the examples in the row, in order). Positions restart at 0 for every example, and the first label
    of every example is -100 so no example is trained to predict the start of the next one.

    Isolation: in transformers 5.x, when a batch comes with ``position_ids`` and *no* ``attention_mask``, the
    model derives a block-diagonal causal mask from the places where the positions restart
    (``masking_utils.find_packed_sequence_indices``) for the eager and SDPA attention paths, and the
    flash-attention path uses the same positions for its variable-length kernel. So a token only ever attends to
    its own example: the per-example losses of a packed row equal the unpacked ones
    (``tests/test_formatting.py`` checks this to 1e-4).

    Two traps, both measured with transformers 5.23 (a packed SmolLM2 row then scores losses off by up to 11
    nats, i.e. attention leaks across examples): the detection is skipped when an ``attention_mask`` is passed,
    and when a KV cache exists — and the model creates one by default (``use_cache=True``), *in training mode
    too*. :class:`PackedCollator` therefore adds no attention mask and passes ``use_cache=False`` with every
    batch; :func:`verify_packing` checks the isolation on the actual model before training relies on it.
    """
    if any(len(f["input_ids"]) > max_len for f in features):
        raise ConfigError(f"a feature is longer than max_len={max_len} — tokenize with the same max_len you pack to")
    order = sorted(range(len(features)), key=lambda i: (-len(features[i]["input_ids"]), i))
    rows: list[list[int]] = []
    room: list[int] = []
    for i in order:
        n = len(features[i]["input_ids"])
        for r, free in enumerate(room):
            if n <= free:
                rows[r].append(i)
                room[r] -= n
                break
        else:
            rows.append([i])
            room.append(max_len - n)
    packed = []
    for members in rows:
        ids, labels, positions, lens = [], [], [], []
        for i in members:
            f = features[i]
            n = len(f["input_ids"])
            ids.extend(f["input_ids"])
            labels.extend([IGNORE_INDEX] + list(f["labels"][1:]))
            positions.extend(range(n))
            lens.append(n)
        packed.append({"input_ids": ids, "labels": labels, "position_ids": positions, "seq_lens": lens})
    return packed


def packing_efficiency(features: list[dict], packed: list[dict], max_len: int) -> dict:
    """Tokens of real data per token of compute: padded to each batch's longest vs packed rows of ``max_len``.

    Returns ``{"examples", "rows", "real_tokens", "packed_fill"}`` where ``packed_fill`` is real tokens divided by
    ``rows * max_len`` (1.0 = no padding at all).
    """
    real = sum(len(f["input_ids"]) for f in features)
    return {"examples": len(features), "rows": len(packed), "real_tokens": real,
            "packed_fill": real / (len(packed) * max_len) if packed else 0.0}


@dataclass
class PackedCollator:
    """Batch packed rows from :func:`pack_examples`: right-pad, positions, and deliberately no attention mask.

    Returns ``{"input_ids", "labels", "position_ids"}`` as ``torch.long`` tensors of shape ``(batch, L_max)``,
    plus ``"use_cache": False`` (without it the model builds a KV cache and ignores the packing; see
    :func:`pack_examples`). The padding tail of a row gets positions ``0, 1, ...`` of its own, so it is a separate
    segment that no real token attends to; its labels are -100.
    """

    pad_token_id: int

    def __call__(self, rows: list[dict]) -> dict:
        import torch

        if not rows:
            raise ConfigError("cannot collate an empty batch")
        width = max(len(r["input_ids"]) for r in rows)
        ids, labels, positions = [], [], []
        for r in rows:
            gap = width - len(r["input_ids"])
            ids.append(list(r["input_ids"]) + [self.pad_token_id] * gap)
            labels.append(list(r["labels"]) + [IGNORE_INDEX] * gap)
            positions.append(list(r["position_ids"]) + list(range(gap)))
        return {"input_ids": torch.tensor(ids, dtype=torch.long),
                "labels": torch.tensor(labels, dtype=torch.long),
                "position_ids": torch.tensor(positions, dtype=torch.long),
                "use_cache": False}


def per_token_losses(logits, labels):
    """Cross-entropy of each position's prediction of the next token, in nats; shape ``(L - 1,)``.

    ``logits``: ``(L, vocab)`` for one sequence; ``labels``: ``(L,)`` (list or tensor), -100 = not scored (loss 0).
    Computed in fp32 so bf16 rounding does not bias a comparison.
    """
    import torch

    labels = torch.as_tensor(labels, device=logits.device)
    return torch.nn.functional.cross_entropy(logits[:-1].float(), labels[1:], reduction="none",
                                             ignore_index=IGNORE_INDEX)


def packed_vs_separate(model, features: list[dict], pad_token_id: int) -> float:
    """Largest absolute difference (nats) between per-token losses of ``features`` packed in one row and run
    one at a time. ~1e-6 when packing isolates the examples; whole nats when attention leaks across them."""
    import torch

    rows = pack_examples(features, sum(len(f["input_ids"]) for f in features))
    batch = PackedCollator(pad_token_id)(rows[:1])
    labels = batch.pop("labels")[0]
    device = next(model.parameters()).device
    batch = {k: v.to(device) if hasattr(v, "to") else v for k, v in batch.items()}
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            packed_logits = model(**batch).logits[0]
            worst, start = 0.0, 0
            # pack_examples sorts longest first; map every segment back to its feature by content.
            for n in rows[0]["seq_lens"]:
                segment = batch["input_ids"][0, start:start + n].tolist()
                feature = next(f for f in features if list(f["input_ids"]) == segment)
                alone = model(input_ids=torch.tensor([segment], device=device), use_cache=False).logits[0]
                diff = (per_token_losses(packed_logits[start:start + n], labels[start:start + n])
                        - per_token_losses(alone, [IGNORE_INDEX] + list(feature["labels"][1:]))).abs().max()
                worst = max(worst, float(diff))
                start += n
    finally:
        model.train(was_training)
    return worst


def verify_packing(model, features: list[dict], pad_token_id: int, tolerance: float = 1e-3) -> float:
    """Raise :class:`ConfigError` unless packing ``features`` (2-4 short ones are enough) leaves every example's
    losses unchanged within ``tolerance`` nats on this model and attention implementation; return the difference.

    A guard for the training loop: a new library version or attention backend that ignores the restarting
    positions would otherwise train silently on leaked context.
    """
    if len(features) < 2:
        raise ConfigError("verify_packing needs at least two features to pack together")
    worst = packed_vs_separate(model, features, pad_token_id)
    if worst > tolerance:
        impl = getattr(getattr(model, "config", None), "_attn_implementation", "?")
        raise ConfigError(f"packing leaks attention across examples with attn_implementation={impl!r} (per-token "
                          f"losses differ by {worst:.3g} nats packed vs separate) — train with packing=False")
    return worst


def count_tokens(batch: dict, pad_token_id: int) -> tuple[int, int]:
    """``(useful, computed)`` tokens of a collated batch: non-padding tokens and all positions (``B * L``).

    With an ``attention_mask`` the useful tokens are its ones; for packed batches (no mask) they are the tokens
    that are not ``pad_token_id``.
    """
    computed = int(batch["input_ids"].numel())
    if "attention_mask" in batch:
        return int(batch["attention_mask"].sum()), computed
    return int((batch["input_ids"] != pad_token_id).sum()), computed


# ----------------------------------------------------------------------------------------------------------------
# Seeing the mask
# ----------------------------------------------------------------------------------------------------------------

@dataclass
class MaskView:
    """Tokens of one or more features, coloured by role. Jupyter shows the HTML; ``print`` shows plain text.

    HTML: green = trained on (label = token), grey = masked prompt (label -100), faint = padding.
    Plain text: trained tokens are wrapped in ``[[ ]]``, padding is shown as ``·``.
    """

    rows: list  # per feature: list of (token_text, role) with role in {"trained", "masked", "pad"}

    def _repr_html_(self) -> str:
        style = {"trained": "background:#b7e4c7;color:#000", "masked": "background:#e9ecef;color:#555",
                 "pad": "background:#fff;color:#bbb"}
        parts = ['<div style="font-family:monospace;line-height:1.9">',
                 '<div><span style="background:#b7e4c7">&nbsp;trained (in the loss)&nbsp;</span> '
                 '<span style="background:#e9ecef">&nbsp;masked (-100)&nbsp;</span> '
                 '<span style="color:#bbb">&nbsp;padding&nbsp;</span></div>']
        for row in self.rows:
            spans = "".join(
                f'<span style="{style[role]};border-right:1px solid #fff;white-space:pre-wrap">'
                f'{html.escape(text).replace(chr(10), "↵<br>")}</span>' for text, role in row)
            parts.append(f'<div style="margin:6px 0;padding:4px;border:1px solid #ddd">{spans}</div>')
        parts.append("</div>")
        return "".join(parts)

    def _repr_png_(self) -> bytes:
        """A picture of the same colouring (:func:`course_lib.plotting.mask_figure`): Jupyter shows the HTML, but
        the PNG travels in the notebook's output too, so an executed notebook can be turned into images."""
        from .plotting import figure_png, mask_figure

        return figure_png(mask_figure(self), dpi=110)

    def __str__(self) -> str:
        out = []
        for row in self.rows:
            text, inside = [], False
            for token, role in row:
                if role == "trained" and not inside:
                    text.append("[[")
                    inside = True
                elif role != "trained" and inside:
                    text.append("]]")
                    inside = False
                text.append("·" if role == "pad" else token)
            if inside:
                text.append("]]")
            out.append("".join(text))
        return "\n---\n".join(out)

    __repr__ = __str__


def show_mask(tokenizer, features, max_tokens: int = 400) -> MaskView:
    """Colour the tokens of ``features`` (a feature dict, a list of them, or a collated batch) by training role.

    Args:
        tokenizer: the tokenizer that produced the ids.
        features: ``{"input_ids", "labels", "attention_mask"?}`` with lists or tensors (2-D tensors = a batch).
        max_tokens: show at most this many tokens per row.
    """
    if isinstance(features, dict):
        ids = features["input_ids"]
        if hasattr(ids, "dim") and ids.dim() == 2:  # a collated batch
            features = [{k: v[i].tolist() for k, v in features.items()} for i in range(ids.shape[0])]
        else:
            features = [features]
    rows = []
    for f in features:
        ids = list(f["input_ids"].tolist() if hasattr(f["input_ids"], "tolist") else f["input_ids"])
        labels = list(f["labels"].tolist() if hasattr(f["labels"], "tolist") else f["labels"])
        mask = f.get("attention_mask")
        mask = list(mask.tolist() if hasattr(mask, "tolist") else mask) if mask is not None else None
        row = []
        for i, (tok, label) in enumerate(zip(ids[:max_tokens], labels[:max_tokens])):
            is_pad = (mask is not None and mask[i] == 0) or (mask is None and tok == tokenizer.pad_token_id
                                                             and label == IGNORE_INDEX)
            role = "pad" if is_pad else "trained" if label != IGNORE_INDEX else "masked"
            row.append((tokenizer.decode([tok]), role))
        rows.append(row)
    return MaskView(rows)
