"""Sorting and labelling data: unlabelled tickets, a labelling widget, model-assisted labelling and label quality.

Notebook 10 (it follows notebook 01's data preparation) labels the support tickets with their categories hidden:

    records --unlabelled_tickets--> tickets + the shipped labels, kept aside
        --LabelSession.start(defaults, suggestions)--> labelling_widget: a person clicks, or headless nobody does
        --time_saved--> suggestions accepted x the stated (or measured) seconds per label
    two labellers' labels --agreement--> Cohen's kappa --disagreements--> where they differ
    training labels --flip_labels(rate, seed)--> a classifier per rate (train.train_classifier, in the notebook)
        --noise_effects--> macro F1 on clean test labels, each with its interval, and the drop from 0 %

One concern per module; every name is used as ``course_lib.labelling.<name>``, re-exported below:

* ``tickets``: :func:`unlabelled_tickets`
* ``rules``: :class:`KeywordRule` (the stated second labeller), ``SUPPORT_KEYWORDS``, ``SUPPORT_DESCRIPTIONS``
  (the category sentences for ``model_choice.similarity_classify``), ``UNMATCHED``
* ``session``: :class:`LabelSession`, ``BY_PERSON``, ``BY_ACCEPTING``
* ``widget``: :func:`labelling_widget` (ipywidgets through ``notebook.ipywidgets_or_none``, shared with notebook
  08's A/B chooser)
* ``assist``: :class:`TimeSaved`, :func:`time_saved`, ``MIN_TIMED``
* ``quality``: :class:`Agreement`, :func:`agreement`, :func:`disagreements`, :func:`flip_labels`,
  :func:`noise_effects`

The zero-shot suggestions themselves come from ``model_choice`` (a layer above this one), called by the notebook;
training on noisy labels is ``train.train_classifier`` (the training layer), also called by the notebook.
"""

from .assist import MIN_TIMED, TimeSaved, time_saved
from .quality import Agreement, agreement, disagreements, flip_labels, noise_effects
from .rules import SUPPORT_DESCRIPTIONS, SUPPORT_KEYWORDS, UNMATCHED, KeywordRule
from .session import BY_ACCEPTING, BY_PERSON, LabelSession
from .tickets import unlabelled_tickets
from .widget import labelling_widget

__all__ = [
    "BY_ACCEPTING", "BY_PERSON", "MIN_TIMED", "SUPPORT_DESCRIPTIONS", "SUPPORT_KEYWORDS", "UNMATCHED",
    "Agreement", "KeywordRule", "LabelSession", "TimeSaved",
    "agreement", "disagreements", "flip_labels", "labelling_widget", "noise_effects", "time_saved",
    "unlabelled_tickets",
]
