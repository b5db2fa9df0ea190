"""Classification (sentiment, intent; notebook 04): accuracy, macro and per-class precision/recall/F1,
confusion tables, error analysis, and batched predictions of a sequence classifier."""

from __future__ import annotations

from ..errors import ConfigError
from ..models import evaluating
from ..generation import _bar  # the one tqdm switch of the course's batched loops
from .text import _check_same_length


def classification_metrics(y_true, y_pred, labels=None) -> dict:
    """Accuracy, macro precision/recall/F1 and the same per class.

    Args:
        y_true: gold labels (any hashable values: ids or strings), length N.
        y_pred: predicted labels, length N.
        labels: the label set and its order (default: sorted union of both lists). A label that is never
            predicted gets precision 0 (scikit-learn's ``zero_division=0``), which is what pulls macro-F1 down
            when a classifier ignores a minority class.

    Returns:
        ``{"accuracy", "precision_macro", "recall_macro", "f1_macro", "n", "per_class": {label: {"precision",
        "recall", "f1", "support"}}}``; all scores in 0..1.
    """
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    y_true, y_pred = list(y_true), list(y_pred)
    _check_same_length(y_true, y_pred, "gold labels", "predictions")
    if not y_true:
        raise ConfigError("no examples to score — pass at least one gold label and prediction")
    labels = list(labels) if labels is not None else sorted(set(y_true) | set(y_pred), key=str)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    pm, rm, fm, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average="macro", zero_division=0)
    per_class = {str(lab): {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                            "support": int(s[i])} for i, lab in enumerate(labels)}
    return {"accuracy": float(accuracy_score(y_true, y_pred)), "precision_macro": float(pm),
            "recall_macro": float(rm), "f1_macro": float(fm), "n": len(y_true), "per_class": per_class}


def per_class_table(metrics: dict):
    """The ``per_class`` part of :func:`classification_metrics` as a DataFrame (one row per label)."""
    import pandas as pd

    return pd.DataFrame.from_dict(metrics["per_class"], orient="index").rename_axis("label")


def confusion_table(y_true, y_pred, labels=None, normalize: str | None = None):
    """Confusion matrix as a DataFrame: rows = gold label, columns = predicted label.

    Args:
        normalize: ``None`` (counts), ``"true"`` (each row sums to 1: recall on the diagonal), ``"pred"`` or
            ``"all"`` — scikit-learn's meanings.
    """
    import pandas as pd
    from sklearn.metrics import confusion_matrix

    y_true, y_pred = list(y_true), list(y_pred)
    _check_same_length(y_true, y_pred, "gold labels", "predictions")
    labels = list(labels) if labels is not None else sorted(set(y_true) | set(y_pred), key=str)
    matrix = confusion_matrix(y_true, y_pred, labels=labels, normalize=normalize)
    names = [str(x) for x in labels]
    return pd.DataFrame(matrix, index=pd.Index(names, name="gold"), columns=pd.Index(names, name="predicted"))


def per_class_errors(y_true, y_pred, labels=None):
    """Error analysis per gold class: support, errors, error rate, and the label it is most often mistaken for.

    Returns a DataFrame indexed by label, sorted by error rate (worst first).
    """
    import pandas as pd

    table = confusion_table(y_true, y_pred, labels)
    rows = []
    for gold in table.index:
        row = table.loc[gold]
        support = int(row.sum())
        wrong = row.drop(gold)
        errors = int(wrong.sum())
        rows.append({"label": gold, "support": support, "errors": errors,
                     "error_rate": errors / support if support else float("nan"),
                     "most_confused_with": wrong.idxmax() if errors else ""})
    return pd.DataFrame(rows).set_index("label").sort_values("error_rate", ascending=False)


def misclassified(texts, y_true, y_pred, probabilities=None, n: int | None = 10):
    """The wrong predictions as a DataFrame (text, gold, predicted, confidence), most confident mistakes first.

    Args:
        probabilities: optional N x C array of class probabilities; ``confidence`` is the predicted class's
            probability (a confident mistake often points at a label error in the data).
        n: how many rows to return (``None``: all).
    """
    import numpy as np
    import pandas as pd

    texts, y_true, y_pred = list(texts), list(y_true), list(y_pred)
    _check_same_length(texts, y_true, "texts", "gold labels")
    _check_same_length(texts, y_pred, "texts", "predictions")
    frame = pd.DataFrame({"text": texts, "gold": y_true, "predicted": y_pred})
    if probabilities is not None:
        frame["confidence"] = np.asarray(probabilities).max(axis=1)
    frame = frame[frame["gold"] != frame["predicted"]]
    if "confidence" in frame:
        frame = frame.sort_values("confidence", ascending=False)
    return frame if n is None else frame.head(n)


def predict_classes(model, tokenizer, texts, batch_size: int = 32, max_length: int = 128, progress: bool = False):
    """Batched predictions of a sequence classifier.

    Args:
        model: an ``AutoModelForSequenceClassification`` (or PEFT-wrapped one).
        texts: N strings.
        max_length: truncation length in tokens.

    Returns:
        ``(predicted_ids, probabilities)``: an int array of shape (N,) and a float array (N, C).
    """
    import numpy as np
    import torch
    from tqdm.auto import tqdm

    texts = list(texts)
    probs = []
    with evaluating(model):
        for start in tqdm(range(0, len(texts), batch_size), desc="classify", **_bar(progress)):
            batch = tokenizer(texts[start:start + batch_size], padding=True, truncation=True,
                              max_length=max_length, return_tensors="pt").to(model.device)
            with torch.no_grad():
                logits = model(**batch).logits.float()  # softmax in fp32 even if the model runs in bf16
            probs.append(torch.softmax(logits, dim=-1).cpu().numpy())
    probabilities = np.concatenate(probs) if probs else np.zeros((0, model.config.num_labels))
    return probabilities.argmax(axis=1), probabilities


def predict_labels(model, tokenizer, texts, labels, batch_size: int = 32) -> list[str]:
    """:func:`predict_classes` as label names: ``labels[id]`` for each of the N texts (a list of N strings).

    ``labels`` is the label list the classifier was built with (id ``i`` is ``labels[i]``). Taught in notebook 03;
    notebook 07 scores its classifier before and after fine-tuning with it.
    """
    predicted, _ = predict_classes(model, tokenizer, list(texts), batch_size=batch_size)
    return [labels[i] for i in predicted]


def label_scores(gold, predictions: dict, labels, digits: int | None = 3):
    """Several classifiers' predictions of the same N items, scored side by side: one row per classifier.

    Args:
        gold: the N gold labels.
        predictions: ``{name: N predicted labels}``; a prompted decoder's answer that names no label is
            ``"unparsed"`` (:func:`course_lib.model_choice.parse_label`) and counts as wrong.
        labels: the label set and its order (macro F1 averages the F1 of these labels).
        digits: round accuracy and macro F1 to this many decimals (``None``: unrounded).

    Returns:
        A DataFrame indexed by name (in ``predictions`` order) with ``accuracy`` and ``macro F1`` (0..1) and
        ``unparsed answers`` (a count). Taught in notebook 02 (zero-shot sentiment); notebooks 03 (fine-tuned
        encoder vs prompted decoder) and 07 (the classifier before and after fine-tuning) score with it too.
    """
    import pandas as pd

    gold = list(gold)
    rows = {}
    for name, predicted in predictions.items():
        predicted = list(predicted)
        m = classification_metrics(gold, predicted, labels)
        scores = {"accuracy": m["accuracy"], "macro F1": m["f1_macro"]}
        rows[name] = {**{k: v if digits is None else round(v, digits) for k, v in scores.items()},
                      "unparsed answers": predicted.count("unparsed")}
    return pd.DataFrame.from_dict(rows, orient="index")
