"""Token ids with response-only labels: -100 on the prompt, the answer and its EOS trained; the dataset
report, and the check of the masking rules on one feature (notebooks 01, 03)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ConfigError
from .messages import to_messages


IGNORE_INDEX = -100  # torch.nn.CrossEntropyLoss(ignore_index=-100): positions with this label add no loss


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

    def count(self, input_ids: list, labels: list, eos_token_id: int) -> None:
        """Add one kept feature (its ``input_ids`` and ``labels``) to the totals."""
        self.kept += 1
        self.truncated += int(labels[-1] != eos_token_id)
        self.tokens += len(input_ids)
        self.trained_tokens += sum(label != IGNORE_INDEX for label in labels)
        self.lengths.append(len(input_ids))

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
        report.count(feature["input_ids"], feature["labels"], tokenizer.eos_token_id)
    _raise_if_empty(report, max_len)
    return features, report


def _raise_if_empty(report: TokenizeReport, max_len: int) -> None:
    if not report.kept:
        raise ConfigError(f"all {report.rows} examples are longer than max_len={max_len} before their answer "
                          "starts — raise the profile's max_seq_len or shorten the prompts")


def tokenize_columns(batch: dict, tokenizer, max_len: int, system_prompt: str | None = None,
                     min_answer_tokens: int = 1) -> dict:
    """:func:`tokenize_dataset` in the form ``datasets.Dataset.map(..., batched=True)`` calls: one batch in columns.

    ``batch`` is ``{"instruction": [...], "input": [...], "output": [...], ...}`` (n rows); the result is
    ``{"input_ids", "attention_mask", "labels"}``, one list per row that fits, built by :func:`tokenize_example`.
    Rows with no room for an answer are left out, as :func:`tokenize_dataset` drops them, so pass
    ``remove_columns=dataset.column_names`` (a batched map may return fewer rows than it was given). Taught in
    notebook 01, beside the plain loop it replaces; notebook 09 builds TRL's input with the same idiom.
    """
    return _tokenize_batch(batch, None, tokenizer, max_len, system_prompt, min_answer_tokens)


def _tokenize_batch(batch: dict, indices, tokenizer, max_len: int, system_prompt, min_answer_tokens: int) -> dict:
    """:func:`tokenize_columns`; with ``indices`` (``map(with_indices=True)``) each kept row also gets its index
    in a ``row`` column, so the rows left out can be named."""
    out = {"input_ids": [], "attention_mask": [], "labels": []}
    if indices is not None:
        out["row"] = []
    for position, values in enumerate(zip(*batch.values())):
        try:
            feature = tokenize_example(dict(zip(batch, values)), tokenizer, max_len, system_prompt, min_answer_tokens)
        except ExampleTooLong:
            continue
        for key in ("input_ids", "attention_mask", "labels"):
            out[key].append(feature[key])
        if indices is not None:
            out["row"].append(indices[position])
    return out


# The record fields a feature is built from (see :func:`to_messages`), as text (plus the id, which its errors name);
# other fields (keywords, metadata of mixed types) stay out of the Arrow table, whose columns must each hold one type.
_TEXT_FIELDS = ("instruction", "input", "output")


def tokenize_to_dataset(examples, tokenizer, max_len: int, system_prompt: str | None = None,
                        min_answer_tokens: int = 1):
    """:func:`tokenize_dataset` in the ``datasets`` idiom: ``(datasets.Dataset of features, TokenizeReport)``.

    ``Dataset.from_dict`` over the records' text fields, then ``.map(tokenize_columns, batched=True)``; the result
    has the columns ``input_ids``, ``attention_mask``, ``labels`` (one row per kept record, in order) and is what
    :func:`course_lib.train.train` hands the ``Trainer`` (``train_dataset=``, fed to :class:`CausalCollator`). Same
    features and report as the plain loop (tests/test_formatting.py). Taught in notebook 03; notebook 01 times it.
    Raises :class:`ConfigError` when nothing is left.
    """
    from datasets import Dataset  # imported here: importing course_lib.formatting stays cheap

    examples = list(examples)
    columns = {name: [str(example.get(name) or "") for example in examples] for name in _TEXT_FIELDS}
    columns["id"] = [str(example.get("id", position)) for position, example in enumerate(examples)]
    mapped = Dataset.from_dict(columns).map(
        _tokenize_batch, batched=True, with_indices=True, remove_columns=list(columns),
        fn_kwargs=dict(tokenizer=tokenizer, max_len=max_len, system_prompt=system_prompt,
                       min_answer_tokens=min_answer_tokens))
    report = TokenizeReport(rows=len(examples))
    if not len(mapped):  # every row dropped: the map returned no columns at all
        _raise_if_empty(report, max_len)
    kept_rows = set(mapped["row"])
    report.dropped = [example.get("id", position) for position, example in enumerate(examples)
                      if position not in kept_rows]
    for input_ids, labels in zip(mapped["input_ids"], mapped["labels"]):
        report.count(input_ids, labels, tokenizer.eos_token_id)
    return mapped.remove_columns("row"), report


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
