"""The embedding probe (notebooks 04 and 05): frozen sentence embeddings of labelled reviews, and a
logistic-regression head on them."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError


@dataclass
class EmbeddingProbe:
    """Labelled texts of two splits, embedded once, with the head fitted on the training split.

    Attributes:
        train, held_out: the rows of each split (a DataFrame with ``text`` and ``label``), shuffled with the seed.
        X_train, X_held_out: their embeddings, ``(len(train), dim)`` and ``(len(held_out), dim)`` float32 with
            rows of unit norm (:func:`course_lib.retrieval.embed_texts`; dim 384 for MiniLM).
        labels: every label of the data, sorted.
        classifier: scikit-learn's ``LogisticRegression(max_iter=1000)`` fitted on ``X_train`` and
            ``train["label"]`` (:func:`fit_probe`).
    """

    train: object
    held_out: object
    X_train: object
    X_held_out: object
    labels: list
    classifier: object


def fit_probe(X, y, class_weight=None):
    """A logistic-regression head on fixed embeddings ``X`` (N, dim) with labels ``y`` (N): scikit-learn's
    ``LogisticRegression(max_iter=1000, class_weight=class_weight)``, fitted. ``class_weight="balanced"`` weighs
    each example by ``N / (classes * examples of its class)`` (notebook 05)."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000, class_weight=class_weight).fit(X, y)


def embedding_probe(reviews, encoder, held_out: str = "test", n: int | None = None, seed: int = 0) -> EmbeddingProbe:
    """Embed the ``train`` split and the ``held_out`` split of ``reviews`` and fit the probe's head.

    Args:
        reviews: a DataFrame with ``text``, ``label`` and ``split`` (``data/sentiment/reviews.csv``).
        encoder: a SentenceTransformer (:func:`course_lib.models.load_sentence_encoder`).
        held_out: the split to score on, e.g. ``"test"`` (notebook 04) or ``"validation"`` (notebook 05).
        n: keep the first ``n`` rows of each split after shuffling (``None`` or 0: all; the profile's
            ``probe_examples``).
        seed: the shuffle's ``random_state``.

    Taught in notebook 04 (a fast baseline for the fine-tuned encoder of notebook 03); notebook 05 fixes its class
    imbalance (:func:`course_lib.ablation.imbalance_fixes`).
    """
    from ..retrieval import embed_texts

    splits = set(reviews["split"])
    if "train" not in splits or held_out not in splits:
        raise ConfigError(f"the reviews need a 'train' and a {held_out!r} split (found: {', '.join(sorted(splits))})")
    rows = n or len(reviews)
    train = reviews[reviews["split"] == "train"].sample(frac=1.0, random_state=seed).head(rows)
    held = reviews[reviews["split"] == held_out].sample(frac=1.0, random_state=seed).head(rows)
    X_train = embed_texts(encoder, train["text"].tolist())
    X_held_out = embed_texts(encoder, held["text"].tolist())
    labels = sorted(reviews["label"].unique())
    return EmbeddingProbe(train, held, X_train, X_held_out, labels, fit_probe(X_train, train["label"]))
