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

One concern per module; every name is used as ``course_lib.evaluation.<name>``, re-exported below:

* ``text``: :func:`normalize_text` and ``_check_same_length``, the length check every scorer (and
  :mod:`course_lib.triage`) uses
* ``classification``: :func:`classification_metrics`, :func:`per_class_table`, :func:`confusion_table`,
  :func:`per_class_errors`, :func:`misclassified`, :func:`predict_classes`, :func:`predict_labels`,
  :func:`label_scores` (several classifiers side by side: accuracy, macro F1, unparsed answers; 02, 03, 07)
* ``probe``: :func:`embedding_probe` (frozen MiniLM embeddings + a logistic-regression head, 04, 05),
  :class:`EmbeddingProbe`, :func:`fit_probe`
* ``text_metrics``: :func:`exact_match`, :func:`keyword_match`, :func:`rouge_l`, :func:`bleu`, :func:`chrf`,
  :func:`sentence_scores`, :func:`generation_metrics`, :func:`worst_examples`
* ``language_model``: :func:`perplexity`, :class:`Perplexity`
* ``answer_loss``: :func:`answer_token_losses`, the one answer-token NLL (07, 08)
* ``results``: :class:`EvalResult`, :func:`comparison_table`, :func:`save_results`
* ``generation_eval``: :func:`evaluate_generation`
* ``chat_format``: :func:`format_verdict`, :func:`format_scores`, :func:`answer_text`, :func:`format_following`,
  :class:`FormatResult`, ``VERDICTS``: does a generated turn close with the end-of-turn token (11)
* ``facts``: :func:`value_match`, :func:`fact_answer_table`, :func:`fact_summary`, :func:`accuracy_by_kind`,
  :func:`fact_question_set`

:func:`generate_answers` (from :mod:`course_lib.generation`) and :func:`history_table` (from
:mod:`course_lib.plotting`) are re-exported too: notebooks 02 and 07 and the tests call them through here.
"""

from ..generation import generate_answers  # re-exported: notebooks 02 and 07 call evaluation.generate_answers
from ..plotting import history_table  # re-exported: the name the tests and learners already use
from .chat_format import (VERDICTS, FormatResult, answer_text, format_following, format_scores,
                          format_verdict)
from .classification import (classification_metrics, confusion_table, misclassified, per_class_errors,
                             per_class_table, label_scores, predict_classes, predict_labels)
from .facts import accuracy_by_kind, fact_answer_table, fact_question_set, fact_summary, value_match
from .generation_eval import evaluate_generation
from .answer_loss import answer_logits, answer_token_losses
from .language_model import Perplexity, perplexity
from .probe import EmbeddingProbe, embedding_probe, fit_probe
from .results import EvalResult, comparison_table, save_results
# Private: the length check, which course_lib.triage imports as evaluation._check_same_length.
from .text import _check_same_length, normalize_text
from .text_metrics import (bleu, chrf, exact_match, generation_metrics, keyword_match, rouge_l, sentence_scores,
                           worst_examples)

__all__ = [
    "VERDICTS",
    "EmbeddingProbe", "EvalResult", "FormatResult", "Perplexity",
    "answer_text", "format_following", "format_scores", "format_verdict",
    "accuracy_by_kind", "answer_logits", "answer_token_losses", "bleu", "chrf", "classification_metrics", "comparison_table", "confusion_table",
    "embedding_probe", "fact_question_set", "fit_probe", "label_scores", "predict_labels",
    "evaluate_generation", "exact_match", "fact_answer_table", "fact_summary", "generate_answers",
    "generation_metrics", "history_table", "keyword_match", "misclassified", "normalize_text", "per_class_errors",
    "per_class_table", "perplexity", "predict_classes", "rouge_l", "save_results", "sentence_scores", "value_match",
    "worst_examples",
    # private, kept reachable for course_lib.triage (see above)
    "_check_same_length",
]
