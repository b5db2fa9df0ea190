"""Zero-shot probes: sentiment by asking a decoder for the label, or by the nearest label description.
Taught in notebooks 02 (zero-shot sentiment) and 03 (the decoder fine-tuned to answer the label)."""

from __future__ import annotations

from ..errors import ConfigError


def parse_label(answer: str, labels) -> str:
    """The label mentioned first in a generated ``answer`` (case-insensitive), or ``"unparsed"``."""
    text = str(answer).lower()
    found = [(text.find(str(label).lower()), str(label)) for label in labels if str(label).lower() in text]
    return min(found)[1] if found else "unparsed"


def classification_prompt(text: str, labels, shots=()) -> str:
    """The instruction used for prompting a chat model to classify ``text`` into ``labels``.

    ``shots``: optional solved examples, ``[(text, label), ...]``, listed before the text (few-shot prompting).
    """
    examples = "".join(f"Review: {t}\nSentiment: {label}\n\n" for t, label in shots)
    intro = "Examples:\n\n" + examples if examples else ""
    return (f"Classify the sentiment of this product review as {', '.join(labels)}. Answer with one word.\n\n"
            f"{intro}Review: {text}")


# Room for the chat template's default system message (~20 tokens), the instruction (~25), a review (up to ~60
# tokens in data/sentiment) and the one-word label with its end-of-turn token.
LABEL_MAX_SEQ_LEN = 160


def label_records(texts, gold, labels) -> list[dict]:
    """Training records that teach a decoder to answer a classification prompt with the label alone.

    The instruction is :func:`classification_prompt` (zero-shot, no shots) and the answer the gold label, so the
    fine-tuned model is asked exactly what zero-shot prompting asks the base model: the comparison isolates what
    training adds. N texts and N gold labels give N records (``instruction``, ``output``). Taught in notebook 03.
    """
    texts, gold = [str(t) for t in texts], [str(g) for g in gold]
    if len(texts) != len(gold):
        raise ConfigError(f"{len(texts)} texts but {len(gold)} labels — give one gold label per text")
    labels = [str(label) for label in labels]
    unknown = sorted(set(gold) - set(labels))
    if unknown:
        raise ConfigError(f"gold labels {unknown} are not in the label set {labels} — add them or fix the data")
    return [{"instruction": classification_prompt(t, labels), "output": g} for t, g in zip(texts, gold)]


def one_shot_per_label(texts, gold, labels) -> list[tuple[str, str]]:
    """Few-shot examples for :func:`prompt_classify`: the first text of each label, in ``labels`` order.

    One solved example per label shows the model every answer it may give (the first three texts of a skewed set
    could all be "positive"). Taught in notebook 03.
    """
    shots = {}
    for text, label in zip(texts, gold):
        shots.setdefault(str(label), str(text))
    missing = [str(label) for label in labels if str(label) not in shots]
    if missing:
        raise ConfigError(f"no example of {missing} to show — the texts must hold every label at least once")
    return [(shots[str(label)], str(label)) for label in labels]


def completion_prompt(text: str, labels, shots=()) -> str:
    """The same question for a base (non-chat) model: a text to continue, ending where the label goes.

    A base model was trained to continue documents, not to follow instructions; solved examples (``shots``) in the
    same format show it the pattern to continue.
    """
    head = f"Sentiment ({', '.join(labels)}):"
    examples = "".join(f"Review: {t}\n{head} {label}\n\n" for t, label in shots)
    return f"{examples}Review: {text}\n{head}"


def prompt_classify(model, tokenizer, texts, labels, max_new_tokens: int = 4, batch_size: int = 8,
                    chat_template: bool = True, shots=()) -> tuple[list[str], list[str]]:
    """Classification by asking a decoder for the label (greedy decoding), zero-shot or with ``shots``.

    Args:
        texts: N texts; labels: the label names the answer must contain.
        max_new_tokens: tokens a one-word label answer may take.
        chat_template: an instruct model gets :func:`classification_prompt` through its chat template; a base model
            (``False``) gets :func:`completion_prompt` as raw text.
        shots: solved examples ``[(text, label), ...]`` put in every prompt (none: zero-shot).

    Returns:
        ``(predictions, answers)``: the parsed label (or ``"unparsed"``) and the raw answer of each text.
    """
    from ..generation import generate_answers

    labels = [str(label) for label in labels]
    shots = [(str(t), str(label)) for t, label in shots]
    build = classification_prompt if chat_template else completion_prompt
    answers = generate_answers(model, tokenizer, [build(t, labels, shots) for t in texts],
                               max_new_tokens=max_new_tokens, batch_size=batch_size, progress=False,
                               chat_template=chat_template)
    return [parse_label(a, labels) for a in answers], answers


def similarity_classify(encoder, texts, descriptions: dict) -> tuple[list[str], object]:
    """Zero-shot classification with a sentence encoder: each text gets the label whose description is nearest.

    Args:
        encoder: a SentenceTransformer.
        texts: N texts.
        descriptions: ``{label: a sentence describing texts of that label}``.

    Returns:
        ``(predictions, similarities)``: N labels and an ``(N, labels)`` array of cosine similarities.
    """
    from ..retrieval import embed_texts

    if not descriptions:
        raise ConfigError("similarity_classify needs {label: description} for at least one label")
    labels = list(descriptions)
    sims = embed_texts(encoder, list(texts)) @ embed_texts(encoder, [descriptions[k] for k in labels]).T
    return [labels[i] for i in sims.argmax(axis=1)], sims
