"""Continuous learning: retraining on new data without forgetting, versioned runs, and a promotion gate.

A deployed model meets new data (a new batch of support conversations, corrections from user feedback). This
package is the pipeline that turns it into a new model version safely:

1. :func:`mix_replay` — the new examples plus a replayed sample of old ones (the classic cure for catastrophic
   forgetting: the optimiser keeps seeing the old distribution).
   :func:`drop_superseded` leaves out old examples about facts the new data changes (replaying them would
   teach the old answer again; scoring them would call the intended update "forgetting").
2. :func:`feedback_examples` — user feedback (answers marked bad, with a correction) becomes training data only
   after the same validation and cleaning as any other file (:func:`course_lib.data.prepare`).
3. :func:`training_set_pii` — the privacy check every training set passes before training: no e-mail address,
   phone number or card number left (the detector is :mod:`course_lib.data`'s redactor), and none of a list of
   known planted values.
4. :class:`RunRegistry` — versioned runs ``v001, v002, ...`` under one folder, each with ``metrics.json`` and the
   runtime's ``stamp.json``, plus ``registry.json`` recording which version is in production
   (:meth:`RunRegistry.rollback` puts an earlier version back).
5. :class:`PromotionGate` — promote a candidate only when it is not worse than the production model on every
   guarded metric (old test set: forgetting; new test set: the point of retraining); otherwise keep the old one.
6. :func:`retrain` / :func:`run_retrain` — all of it as one function and the ``python -m course_lib retrain`` command.
7. :func:`transfer_curve` — transfer between domains: fine-tune on a second domain from the base model and from
   the first domain's adapter, the same steps for both, scored every few steps; what the first domain keeps.
8. :func:`bias_probe` — template sentences that differ only in a name or group, scored by a sentiment model; the
   spread between groups and the share of templates whose label flips, before and after fine-tuning.

Heavy libraries (torch, transformers) are imported inside the functions that need them.

One concern per module; every name is used as ``course_lib.continual.<name>``, re-exported below:

* ``replay``: :class:`ReplayMix`, :func:`mix_replay`, :func:`drop_superseded`, :func:`forgetting`
* ``feedback``: :class:`FeedbackResult`, :func:`feedback_examples`
* ``pii``: :func:`training_set_pii`, ``TEXT_FIELDS``, and the known values read from a file (``retrain --known-pii``)
* ``registry``: :class:`RunRecord`, :class:`RunRegistry`, ``LINEAGE_FILE``, ``RUN_FILE``, :func:`run_adapters`,
  :func:`load_run`
* ``gate``: :class:`GateRule`, :class:`GateDecision`, :class:`PromotionGate`
* ``bias``: ``BIAS_TEMPLATES``, ``BIAS_GROUPS``, :class:`BiasReport`, :func:`bias_probe`
* ``measure``: :func:`response_loss`
* ``config``: :class:`RetrainConfig`, :class:`RetrainResult`
* ``old_data``: the old data's sources and its split into replay pool and old test set
* ``pipeline``: :func:`retrain` (one function per step), :func:`run_retrain` (the command line)
* ``transfer``: :class:`TransferTask`, :class:`TransferCurve`, :func:`transfer_curve`, :func:`score_steps`,
  :func:`steps_to_target`, :func:`curve_table`, :func:`transfer_summary`, :func:`kept_share`, :func:`score_by`

``python -m course_lib retrain``'s handler (``course_lib.cli._retrain``) calls ``continual.run_retrain``. :func:`retrain` trains through
``course_lib.train`` (``train.train``, ``train.split_records``), so a test that replaces them patches them there.
"""

from .bias import BIAS_GROUPS, BIAS_TEMPLATES, BiasReport, bias_probe
from .config import RetrainConfig, RetrainResult
from .feedback import FeedbackResult, feedback_examples
from .gate import GateDecision, GateRule, PromotionGate
from .measure import response_loss
# Private helpers that tests reach as continual.<name> (tests/test_continual.py).
from .old_data import _old_sources, _old_splits, _split_old
from .pii import TEXT_FIELDS, _read_known_values, training_set_pii
from .pipeline import _resolve_base, retrain, run_retrain
from .registry import LINEAGE_FILE, RUN_FILE, RunRecord, RunRegistry, load_run, run_adapters
from .replay import ReplayMix, drop_superseded, forgetting, mix_replay
from .transfer import (TransferCurve, TransferTask, curve_table, kept_share, score_by, score_steps, steps_to_target,
                       transfer_curve, transfer_summary)

__all__ = [
    "BIAS_GROUPS", "BIAS_TEMPLATES", "LINEAGE_FILE", "RUN_FILE", "TEXT_FIELDS",
    "BiasReport", "FeedbackResult", "GateDecision", "GateRule", "PromotionGate", "ReplayMix", "RetrainConfig",
    "RetrainResult", "RunRecord", "RunRegistry", "TransferCurve", "TransferTask",
    "bias_probe", "curve_table", "drop_superseded", "feedback_examples", "forgetting", "kept_share", "load_run",
    "mix_replay", "response_loss", "retrain", "run_adapters", "run_retrain", "score_by", "score_steps",
    "steps_to_target", "training_set_pii", "transfer_curve", "transfer_summary",
    # private, kept reachable for tests (see above)
    "_old_sources", "_old_splits", "_read_known_values", "_resolve_base", "_split_old",
]
