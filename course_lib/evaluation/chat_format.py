"""Does a generated turn follow the chat format? One verdict per continuation, the share that follows, and the
measurement on a model (taught in notebook 11: a base model before and after instruction tuning).

The definition, on the text a model wrote after the chat template's generation prompt, decoded with its special
tokens kept (``generation.generate_continuations``): the continuation **follows the format** when

1. it contains the end-of-turn token (Gemma: ``<end_of_turn>``) — the model stopped by itself within the
   generation budget;
2. before that token there is some answer text (not only whitespace);
3. before that token there is no start-of-turn token (``<start_of_turn>``): the model did not begin a new turn
   (writing the user's next message itself) instead of closing its own;
4. before that token there is no other end token (``<eos>``): it ended the turn, not the whole document.

Anything else is one of the named failures in :data:`VERDICTS`. Only strings are read here, so the scorer is
tested without a model; :func:`format_following` adds the generation.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError

FOLLOWS = "follows"
VERDICTS = {
    FOLLOWS: "closed its turn with the end-of-turn token after a non-empty answer",
    "no end of turn": "ran to the generation budget without the end-of-turn token",
    "new turn": "began a new turn (a start-of-turn token) before ending its own",
    "ended the text": "wrote another end token (e.g. <eos>) instead of the end-of-turn token",
    "empty answer": "wrote the end-of-turn token before any answer text",
}


def format_verdict(text: str, end_of_turn: str, start_of_turn: str, other_ends=()) -> str:
    """The verdict on one continuation: ``"follows"`` or the first failure (a key of :data:`VERDICTS`).

    ``text``: the continuation with special tokens kept; ``end_of_turn`` / ``start_of_turn``: the template's
    turn markers as they decode (``"<end_of_turn>"``, ``"<start_of_turn>"``); ``other_ends``: end tokens that
    are not the end of a turn (``("<eos>",)``).
    """
    if not end_of_turn or not start_of_turn:
        raise ConfigError("end_of_turn and start_of_turn must be the chat template's marker tokens, e.g. "
                          "'<end_of_turn>' and '<start_of_turn>'")
    cut = text.find(end_of_turn)
    before = text if cut < 0 else text[:cut]
    ends = [before.find(end) for end in other_ends if end and end in before]
    first_end = min(ends) if ends else -1
    new_turn = before.find(start_of_turn)
    if new_turn >= 0 and (first_end < 0 or new_turn < first_end):
        return "new turn"
    if first_end >= 0:
        return "ended the text"
    if cut < 0:
        return "no end of turn"
    return FOLLOWS if before.strip() else "empty answer"


def format_scores(texts, end_of_turn: str, start_of_turn: str, other_ends=()) -> list[int]:
    """1 for each continuation that follows the format, else 0 (per item, for ``uncertainty`` intervals)."""
    return [int(format_verdict(text, end_of_turn, start_of_turn, other_ends) == FOLLOWS) for text in texts]


def answer_text(text: str, end_of_turn: str) -> str:
    """The answer a continuation gives: the text before the end-of-turn token (all of it when there is none)."""
    return text.split(end_of_turn, 1)[0].strip()


@dataclass
class FormatResult:
    """One model's continuations on N prompts and their verdicts.

    Attributes:
        continuations: N generated texts, special tokens kept, cut after the first stop token.
        verdicts: N keys of :data:`VERDICTS`.
        scores: N ints, 1 where the verdict is ``"follows"``.
    """

    continuations: list
    verdicts: list
    scores: list

    @property
    def share(self) -> float:
        """The share of the N continuations that follow the format (0..1)."""
        return sum(self.scores) / len(self.scores) if self.scores else 0.0

    def counts(self) -> dict:
        """``{verdict: how many}`` for every verdict in :data:`VERDICTS` (zeros included)."""
        return {verdict: self.verdicts.count(verdict) for verdict in VERDICTS}


def format_following(model, tokenizer, prompts, end_of_turn: str, start_of_turn: str, other_ends=(),
                     max_new_tokens: int = 48, batch_size: int = 8, system: str | None = None,
                     progress: bool = False) -> FormatResult:
    """Generate greedily after each prompt's chat template and judge every continuation (see the module doc).

    Generation stops at ``end_of_turn`` or any of ``other_ends``; a continuation without either ran the whole
    ``max_new_tokens`` budget. The tokenizer needs a chat template that writes these markers.
    """
    from ..generation import generate_continuations

    continuations = generate_continuations(model, tokenizer, prompts, [end_of_turn, *other_ends],
                                           max_new_tokens=max_new_tokens, batch_size=batch_size,
                                           progress=progress, system=system)
    verdicts = [format_verdict(text, end_of_turn, start_of_turn, other_ends) for text in continuations]
    return FormatResult(continuations, verdicts, [int(v == FOLLOWS) for v in verdicts])
