"""One evaluation harness for the whole course: metrics, batched generation, perplexity, comparison tables.

Four families of measurement, each a few functions:

* **Classification** (sentiment, intent): :func:`classification_metrics` (accuracy, macro and per-class
  precision/recall/F1 from scikit-learn), :func:`confusion_table`, :func:`predict_classes` (batched encoder
  predictions), :func:`per_class_errors` and :func:`misclassified` for error analysis.
* **Generation** (support answers): :func:`generate_answers` (batched greedy decoding, left padding, chat
  template, progress bar; its home is :mod:`course_lib.generation`), then :func:`generation_metrics` — ROUGE-L
  (rouge-score), BLEU and chrF (sacrebleu), exact match and keyword match — and :func:`worst_examples` for error
  analysis.
* **Language modelling**: :func:`perplexity` of a model on held-out text (pads masked, token-weighted).
* **Fact questions** (fine-tuning vs RAG): :func:`value_match` (is the fact's value stated?),
  :func:`fact_answer_table` (correct / stale / unsupported / invented per answer) and :func:`fact_summary`.

Results of several models or adapters on one test set become one table with :func:`comparison_table`, and are
written with :func:`save_results` (JSON + CSV, never half-written).

No hub access: ``evaluate.load`` needs the network, so every metric is computed with scikit-learn, sacrebleu and
rouge-score directly. torch and transformers are imported inside functions only.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError
from .files import write_text_atomic
from .generation import _bar  # the one tqdm switch of the course's batched loops
from .generation import generate_answers  # re-exported: notebooks 02 and 07 call evaluation.generate_answers
from .plotting import history_table  # re-exported: the name the tests and learners already use

# ----------------------------------------------------------------------------------------------------------------
# Text normalisation
# ----------------------------------------------------------------------------------------------------------------

_SPACES = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """Case- and whitespace-insensitive form of ``text``: Unicode NFKC, lower case, runs of whitespace -> one space.

    Punctuation is kept on purpose: "2.5" and "25" must stay different for exact and keyword match.
    """
    text = unicodedata.normalize("NFKC", str(text)).casefold()
    return _SPACES.sub(" ", text).strip()


def _check_same_length(a, b, what_a: str, what_b: str) -> None:
    if len(a) != len(b):
        raise ConfigError(f"{what_a} has {len(a)} items but {what_b} has {len(b)} — pass one {what_b[:-1]} "
                          f"per {what_a[:-1]}, in the same order")


# ----------------------------------------------------------------------------------------------------------------
# Classification
# ----------------------------------------------------------------------------------------------------------------

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
    was_training = model.training
    model.eval()
    probs = []
    try:
        for start in tqdm(range(0, len(texts), batch_size), desc="classify", **_bar(progress)):
            batch = tokenizer(texts[start:start + batch_size], padding=True, truncation=True,
                              max_length=max_length, return_tensors="pt").to(model.device)
            with torch.no_grad():
                logits = model(**batch).logits.float()  # softmax in fp32 even if the model runs in bf16
            probs.append(torch.softmax(logits, dim=-1).cpu().numpy())
    finally:
        model.train(was_training)
    probabilities = np.concatenate(probs) if probs else np.zeros((0, model.config.num_labels))
    return probabilities.argmax(axis=1), probabilities


# ----------------------------------------------------------------------------------------------------------------
# Generation metrics
# ----------------------------------------------------------------------------------------------------------------

def exact_match(prediction: str, reference: str) -> float:
    """1.0 when prediction and reference are equal after :func:`normalize_text`, else 0.0."""
    return float(normalize_text(prediction) == normalize_text(reference))


def keyword_match(prediction: str, keywords) -> float:
    """Fraction of required ``keywords`` found in ``prediction`` (case- and whitespace-insensitive substrings).

    A support answer must mention certain facts ("reset link", "30 days"); this measures that directly, where
    ROUGE rewards any wording close to the reference. Returns NaN when ``keywords`` is empty (nothing to check),
    so averages skip that example instead of counting it as perfect.
    """
    if isinstance(keywords, str):
        keywords = [k for k in keywords.split(";")]
    keywords = [normalize_text(k) for k in keywords if normalize_text(k)]
    if not keywords:
        return float("nan")
    text = normalize_text(prediction)
    return sum(k in text for k in keywords) / len(keywords)


def rouge_l(predictions, references) -> list[float]:
    """ROUGE-L F-measure of each prediction against its reference (0..1).

    rouge-score's default tokenizer lower-cases and keeps only letters and digits; no stemming, so the number
    is the longest-common-subsequence overlap of the words as written.
    """
    from rouge_score import rouge_scorer

    predictions, references = list(predictions), list(references)
    _check_same_length(predictions, references, "predictions", "references")
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    return [scorer.score(ref, pred)["rougeL"].fmeasure for pred, ref in zip(predictions, references)]


def bleu(predictions, references) -> float:
    """Corpus BLEU (sacrebleu defaults: 13a tokenizer, exponential smoothing), 0..100."""
    import sacrebleu

    predictions, references = list(predictions), list(references)
    _check_same_length(predictions, references, "predictions", "references")
    return float(sacrebleu.corpus_bleu(predictions, [references]).score)


def chrf(predictions, references) -> float:
    """Corpus chrF (character n-grams up to 6, beta = 2: recall weighs 4x precision), 0..100."""
    import sacrebleu

    predictions, references = list(predictions), list(references)
    _check_same_length(predictions, references, "predictions", "references")
    return float(sacrebleu.corpus_chrf(predictions, [references]).score)


def sentence_scores(predictions, references, keywords=None):
    """Per-example scores as a DataFrame: ``prediction``, ``reference``, ``rougeL``, ``bleu``, ``chrf``,
    ``exact`` and (with ``keywords``: one list per example) ``keywords`` and ``keyword_match``.

    Sentence-level BLEU/chrF are noisy on short answers; use them to rank examples, not to report a score.
    """
    import pandas as pd
    import sacrebleu

    predictions, references = [str(p) for p in predictions], [str(r) for r in references]
    _check_same_length(predictions, references, "predictions", "references")
    frame = pd.DataFrame({"prediction": predictions, "reference": references})
    frame["rougeL"] = rouge_l(predictions, references)
    frame["bleu"] = [sacrebleu.sentence_bleu(p, [r]).score for p, r in zip(predictions, references)]
    frame["chrf"] = [sacrebleu.sentence_chrf(p, [r]).score for p, r in zip(predictions, references)]
    frame["exact"] = [exact_match(p, r) for p, r in zip(predictions, references)]
    if keywords is not None:
        keywords = list(keywords)
        _check_same_length(predictions, keywords, "predictions", "keyword lists")
        frame["keywords"] = [list(k) if not isinstance(k, str) else k.split(";") for k in keywords]
        frame["keyword_match"] = [keyword_match(p, k) for p, k in zip(predictions, keywords)]
    return frame


def generation_metrics(predictions, references, keywords=None) -> dict:
    """Corpus-level generation scores.

    Returns:
        ``{"rougeL": mean F (0..1), "bleu": corpus BLEU (0..100), "chrf": corpus chrF (0..100), "exact": share of
        exact matches (0..1), "keyword_match": mean keyword coverage over examples that have keywords (0..1,
        only with ``keywords``), "avg_words": mean prediction length in words, "n": examples}``.
    """
    frame = sentence_scores(predictions, references, keywords)
    if frame.empty:
        raise ConfigError("no examples to score — pass at least one prediction and reference")
    out = {"rougeL": float(frame["rougeL"].mean()), "bleu": bleu(frame["prediction"], frame["reference"]),
           "chrf": chrf(frame["prediction"], frame["reference"]), "exact": float(frame["exact"].mean())}
    if "keyword_match" in frame:
        scored = frame["keyword_match"].dropna()
        out["keyword_match"] = float(scored.mean()) if len(scored) else float("nan")
    out["avg_words"] = float(frame["prediction"].str.split().str.len().mean())
    out["n"] = len(frame)
    return out


def worst_examples(scores, metric: str = "rougeL", n: int = 5, ascending: bool = True):
    """The ``n`` examples with the lowest (``ascending``) or highest value of ``metric`` in a scores table."""
    if metric not in scores:
        raise ConfigError(f"no column {metric!r} in the scores table — choose one of: {', '.join(scores.columns)}")
    return scores.sort_values(metric, ascending=ascending, kind="stable").head(n)


# ----------------------------------------------------------------------------------------------------------------
# Perplexity (torch inside; batched generation is course_lib.generation's)
# ----------------------------------------------------------------------------------------------------------------

@dataclass
class Perplexity:
    """Result of :func:`perplexity`.

    Attributes:
        perplexity: exp(mean negative log-likelihood per predicted token); 1 is perfect, the vocabulary size is
            what a uniform guess scores.
        nll: mean negative log-likelihood per predicted token, in nats.
        tokens: number of predicted tokens (each text's first token is not predicted; pads are excluded).
    """

    perplexity: float
    nll: float
    tokens: int


def perplexity(model, tokenizer, texts, batch_size: int = 8, max_length: int = 256,
               progress: bool = False) -> Perplexity:
    """Token-weighted perplexity of ``model`` on ``texts`` (held-out text, not the training data).

    Each text is tokenized on its own (truncated to ``max_length`` tokens), batches are right-padded and the pad
    positions are masked out of the loss, so the result does not depend on ``batch_size``. The sum of token
    losses over all texts is divided by the total token count (a long text weighs more than a short one).
    """
    import torch
    from tqdm.auto import tqdm

    texts = [str(t) for t in texts]
    if not texts:
        raise ConfigError("no texts to score — pass at least one held-out text")
    if tokenizer.pad_token_id is None:
        raise ConfigError("the tokenizer has no pad token — load it with models.load_causal_lm (which sets one)")
    old_side = tokenizer.padding_side
    was_training = model.training
    model.eval()
    tokenizer.padding_side = "right"
    total_nll, total_tokens = 0.0, 0
    try:
        for start in tqdm(range(0, len(texts), batch_size), desc="perplexity", **_bar(progress)):
            batch = tokenizer(texts[start:start + batch_size], return_tensors="pt", padding=True,
                              truncation=True, max_length=max_length).to(model.device)
            with torch.no_grad():
                logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            # Position t predicts token t+1; a target counts only where the attention mask marks a real token.
            shift_logits = logits[:, :-1].float()  # log-softmax in fp32: bf16 rounding would bias the loss
            targets = batch["input_ids"][:, 1:]
            mask = batch["attention_mask"][:, 1:].bool()
            losses = torch.nn.functional.cross_entropy(shift_logits.transpose(1, 2), targets, reduction="none")
            total_nll += float(losses[mask].sum())
            total_tokens += int(mask.sum())
    finally:
        tokenizer.padding_side = old_side
        model.train(was_training)
    if total_tokens == 0:
        raise ConfigError("every text is a single token, so nothing is predicted — pass longer held-out texts")
    nll = total_nll / total_tokens
    return Perplexity(perplexity=math.exp(nll), nll=nll, tokens=total_tokens)


# ----------------------------------------------------------------------------------------------------------------
# Evaluating one model on a test set, comparing several
# ----------------------------------------------------------------------------------------------------------------

@dataclass
class EvalResult:
    """One model (or adapter) scored on one test set.

    Attributes:
        name: label for tables (e.g. ``"zero-shot"``, ``"LoRA r=8"``).
        metrics: corpus-level numbers (see :func:`generation_metrics` / :func:`classification_metrics`).
        examples: per-example table (a pandas DataFrame) or ``None``.
        info: anything else worth saving (seconds, trainable parameters, adapter path).
    """

    name: str
    metrics: dict
    examples: object = None
    info: dict = field(default_factory=dict)

    def row(self) -> dict:
        """Flat dict for a comparison table: ``model``, the scalar metrics, then ``info``."""
        scalars = {k: v for k, v in self.metrics.items() if isinstance(v, (int, float, str, bool)) or v is None}
        return {"model": self.name, **scalars, **self.info}


def evaluate_generation(model, tokenizer, prompts, references, keywords=None, name: str = "model",
                        max_new_tokens: int = 48, batch_size: int = 8, progress: bool = True,
                        system: str | None = None) -> EvalResult:
    """Generate answers for ``prompts`` and score them against ``references`` (and ``keywords``).

    Returns an :class:`EvalResult` whose ``examples`` holds the prompt, prediction, reference and per-example
    scores, and whose ``info`` records the generation time in seconds.
    """
    import time

    prompts, references = list(prompts), list(references)
    _check_same_length(prompts, references, "prompts", "references")
    start = time.perf_counter()
    predictions = generate_answers(model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size,
                                   progress=progress, system=system)
    seconds = time.perf_counter() - start
    metrics = generation_metrics(predictions, references, keywords)
    examples = sentence_scores(predictions, references, keywords)
    examples.insert(0, "prompt", [p if isinstance(p, str) else p[-1]["content"] for p in prompts])
    return EvalResult(name=name, metrics=metrics, examples=examples, info={"seconds": round(seconds, 2)})


def comparison_table(results, sort_by: str | None = None, ascending: bool = False):
    """One row per model: a DataFrame from :class:`EvalResult` objects or a ``{name: metrics-dict}`` mapping.

    Args:
        sort_by: optional column to sort by (e.g. ``"rougeL"``); ``ascending=False`` puts the best first.
    """
    import pandas as pd

    if isinstance(results, dict):
        results = [EvalResult(name=k, metrics=v) for k, v in results.items()]
    rows = [r.row() for r in results]
    if not rows:
        raise ConfigError("no results to compare — pass at least one EvalResult or {name: metrics}")
    table = pd.DataFrame(rows).set_index("model")
    if sort_by is not None:
        if sort_by not in table:
            raise ConfigError(f"cannot sort by {sort_by!r} — the table has: {', '.join(table.columns)}")
        table = table.sort_values(sort_by, ascending=ascending)
    return table


def _jsonable(value):
    """NaN -> None and numpy scalars -> Python numbers, so the JSON is strict and readable elsewhere."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, TypeError):
            return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def save_results(results, folder, stem: str = "results") -> dict[str, Path]:
    """Save evaluation results as ``<stem>.json`` and ``<stem>.csv`` in ``folder``; return both paths.

    ``results`` is one :class:`EvalResult`, a list of them, or a DataFrame (e.g. a :func:`comparison_table`).
    JSON holds every metric (and per-example rows); the CSV holds the comparison table, or the per-example table
    for a single result. Files are written to a temporary name and renamed, so an interrupted save never leaves
    a half-written file.
    """
    import pandas as pd

    folder = Path(folder)
    if isinstance(results, EvalResult):
        results = [results]
    if isinstance(results, pd.DataFrame):
        payload = {"table": _jsonable(results.reset_index().to_dict(orient="records"))}
        csv_text = results.to_csv()
    else:
        results = list(results)
        if not results or not all(isinstance(r, EvalResult) for r in results):
            raise ConfigError("save_results takes an EvalResult, a list of them or a DataFrame")
        payload = {"results": [
            {"name": r.name, "metrics": _jsonable(r.metrics), "info": _jsonable(r.info),
             "examples": (_jsonable(r.examples.to_dict(orient="records")) if r.examples is not None else None)}
            for r in results]}
        if len(results) == 1 and results[0].examples is not None:
            csv_text = results[0].examples.to_csv(index=False)
        else:
            csv_text = comparison_table(results).to_csv()
    json_path, csv_path = folder / f"{stem}.json", folder / f"{stem}.csv"
    write_text_atomic(json_path, json.dumps(payload, indent=2, ensure_ascii=False))
    write_text_atomic(csv_path, csv_text)
    return {"json": json_path, "csv": csv_path}


# ----------------------------------------------------------------------------------------------------------------
# Fact questions: which facts each system gets right (fine-tuning vs retrieval)
# ----------------------------------------------------------------------------------------------------------------

def value_match(prediction: str, keywords) -> float:
    """Fraction of ``keywords`` whose *value* the prediction states (0..1; NaN without keywords).

    A keyword that contains numbers (``"3 seats"``, ``"$5.99 per month"``, ``"5 to 10 business days"``) counts as
    found when the prediction states every one of its numbers (:func:`course_lib.retrieval.stated_values`:
    whole numbers, so "13 seats" does not match "3 seats" — a substring test would). A keyword without a number
    (``"Ctrl+Shift+C"``, ``"Settings > Sync"``) needs the keyword text itself, as in :func:`keyword_match`.
    This forgives a small model that answers "The minimum is 3." without the unit the question already named
    (:func:`keyword_match` scores that 0), and it is stricter about numbers than a substring test.
    """
    from .retrieval import stated_values

    if isinstance(keywords, str):
        keywords = keywords.split(";")
    keywords = [k for k in keywords if normalize_text(k)]
    if not keywords:
        return float("nan")
    text = normalize_text(prediction)
    stated = set(stated_values(prediction))
    found = 0
    for keyword in keywords:
        numbers = stated_values(keyword)
        found += all(n in stated for n in numbers) if numbers else normalize_text(keyword) in text
    return found / len(keywords)


def fact_answer_table(questions: list[dict], answers, known=None, max_words: int | None = None):
    """Score one system's answers to fact questions, one row per question.

    Args:
        questions: dicts with ``question``, ``keywords`` (the correct value(s)), ``kind`` (e.g. ``trained`` /
            ``kb_only`` / ``changed``), optional ``qid`` and ``stale_keywords`` (the value(s) that were correct
            before an update, e.g. a release note's ``old_value``).
        answers: a :class:`course_lib.retrieval.SystemAnswers` (its ``hits`` are the passages shown), or a plain
            list of answer strings (closed-book).
        known: the whole knowledge base (documents or texts), for ``invented`` (see below).
        max_words: the passage trim used in the prompts, so grounding counts only words the model saw.

    Returns:
        A DataFrame with ``qid``, ``kind``, ``question``, ``answer`` and per answer:

        * ``correct`` — :func:`value_match` with ``keywords`` (0..1; for an updated fact, the NEW value);
        * ``keyword`` — the strict :func:`keyword_match` (the exact keyword text, unit included);
        * ``stale`` — 1.0 when the answer states a ``stale_keywords`` value (:func:`value_match`) and not every
          new one (it gave the old value), 0.0 otherwise, NaN for questions without ``stale_keywords``;
        * ``unsupported`` — :attr:`course_lib.retrieval.Grounding.unsupported`: states a number not in the
          passages shown, or cites none of them (always true closed-book unless it abstains);
        * ``invented`` — states a number found nowhere in ``known`` nor the question (NaN without ``known``);
        * ``abstained``, ``values`` (numbers stated) and ``cited`` (doc ids).
    """
    import pandas as pd

    from .retrieval import check_grounding

    questions = list(questions)
    texts = list(getattr(answers, "answers", answers))
    hits = getattr(answers, "hits", None) or [()] * len(texts)
    _check_same_length(questions, texts, "questions", "answers")
    rows = []
    for i, (q, answer, shown) in enumerate(zip(questions, texts, hits)):
        if "question" not in q or "keywords" not in q:
            raise ConfigError(f"question {i + 1} has no 'question' or 'keywords' field — give every fact question "
                              "both (see data/support/fact_questions.jsonl)")
        correct = value_match(answer, q["keywords"])
        stale_keys = q.get("stale_keywords") or []
        stale = float("nan")
        if stale_keys:
            stale = float(value_match(answer, stale_keys) > 0 and not correct >= 1)
        g = check_grounding(answer, shown, q["question"], known=known, max_words=max_words)
        rows.append({"qid": q.get("qid", i + 1), "kind": q.get("kind", "all"), "question": q["question"],
                     "answer": answer, "correct": correct, "keyword": keyword_match(answer, q["keywords"]),
                     "stale": stale, "unsupported": float(g.unsupported),
                     "invented": float(bool(g.invented_values)) if known is not None else float("nan"),
                     "abstained": float(g.abstained), "values": list(g.values), "cited": list(g.cited)})
    return pd.DataFrame(rows)


def fact_summary(tables: dict, kinds=None):
    """One row per system from :func:`fact_answer_table` results (``{system name: table}``).

    Columns: ``acc <kind>`` (mean ``correct`` per question kind, in ``kinds`` order; default: order of first
    appearance), ``stale`` (mean over questions that have stale keywords: answered the OLD value),
    ``strict keywords`` (mean strict ``keyword`` match over all questions), then the shares of ``unsupported``,
    ``invented`` and ``abstained`` answers over all questions, and ``n`` questions. All shares are 0..1.
    """
    import pandas as pd

    if not tables:
        raise ConfigError("no answer tables to summarise — pass {system name: fact_answer_table(...)}")
    rows = {}
    for name, table in tables.items():
        order = list(kinds) if kinds is not None else list(dict.fromkeys(table["kind"]))
        row = {f"acc {kind}": float(table.loc[table["kind"] == kind, "correct"].mean()) for kind in order}
        row["stale"] = float(table["stale"].mean())  # NaN rows (no stale keywords) are skipped
        row["strict keywords"] = float(table["keyword"].mean())
        for column in ("unsupported", "invented", "abstained"):
            row[column] = float(table[column].mean())
        row["n"] = len(table)
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("system")


def accuracy_by_kind(tables: dict, kinds, x: str = "epoch"):
    """Accuracy per question kind with its 95 % bootstrap interval, for a series of :func:`fact_answer_table`
    results keyed by a number: ``{epochs trained: table}`` (notebook 06, what fine-tuning learns and how fast).

    Returns a long DataFrame, one row per (``x``, kind): ``x``, ``kind``, ``accuracy``, ``low``, ``high``
    (:func:`course_lib.uncertainty.mean_interval` over that kind's questions) and ``n``.
    """
    import pandas as pd

    from .uncertainty import mean_interval

    if not tables:
        raise ConfigError("no answer tables to summarise — pass {epochs: fact_answer_table(...)}")
    rows = []
    for value, table in sorted(tables.items()):
        for kind in kinds:
            correct = table.loc[table["kind"] == kind, "correct"].astype(float)
            mean, low, high = mean_interval(correct)
            rows.append({x: value, "kind": kind, "accuracy": mean, "low": low, "high": high, "n": len(correct)})
    return pd.DataFrame(rows)
