"""Zero-shot probes: sentiment by asking a decoder for the label, or by the nearest label description."""

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
