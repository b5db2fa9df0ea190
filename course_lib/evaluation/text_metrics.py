"""Generation metrics (support answers; notebook 04): exact and keyword match, ROUGE-L (rouge-score), BLEU and
chrF (sacrebleu), per-example scores, the corpus summary, and the worst examples for error analysis."""

from __future__ import annotations

from ..errors import ConfigError
from .text import _check_same_length, normalize_text


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
