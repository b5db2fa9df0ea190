"""The budget table: the :class:`Profile` dataclass, the ONE table of profiles, and how a profile is chosen.

A profile holds every budget (steps, batch sizes, sequence lengths, ...) so that no notebook hard-codes one;
:func:`resolve_profile` picks one by name, ``$COURSE_PROFILE`` or the hardware (taught in notebook 00).
Only the standard library is imported here, so the command-line tools read the table quickly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import ConfigError

# The decoder the lessons fine-tune unless a profile or a caller names another (a name in models.REGISTRY).
DEFAULT_DECODER = "smollm2-135m-instruct"

PROFILE_ENV = "COURSE_PROFILE"


@dataclass(frozen=True)
class Profile:
    """One row of the budget table. Tune these with measurements, never in a notebook.

    Data and sequence budget:
        max_seq_len: longest training/eval sequence in tokens; longer examples are truncated.
        train_examples: how many training examples to use (``None`` = all).
        eval_examples: how many validation/test examples to score (``None`` = all).

    Optimisation budget (Hugging Face ``TrainingArguments`` names where one exists):
        epochs: passes over the (possibly subsampled) training set.
        max_steps: hard cap on optimiser steps; ``-1`` means no cap (epochs decide).
        batch_size: examples per device per forward pass.
        grad_accum: forward passes per optimiser step (effective batch = batch_size * grad_accum * processes).
        learning_rate: peak learning rate for LoRA adapters.
        full_learning_rate: peak learning rate for full fine-tuning (all weights move, so much smaller).
        full_max_steps: optimiser steps of full fine-tuning when they must be fewer than LoRA's (``None``: the same
            budget as LoRA). A full step costs about twice a LoRA step on a CPU (every weight gets a gradient and
            two AdamW states; no blocks are skipped), so the cpu profile measures full fine-tuning's cost on a
            short run instead of matching LoRA's epochs.
        warmup_ratio: fraction of steps with a linear learning-rate warm-up.
        weight_decay: decoupled weight decay of AdamW.
        eval_steps / save_steps / logging_steps: how often to evaluate, checkpoint and log, in optimiser steps.

    LoRA:
        lora_r / lora_alpha / lora_dropout: rank, scale numerator and dropout of the adapters.
        lora_block_share: share of the transformer blocks, from the top, that get adapters (1.0: all); the
            backward pass then stops at the lowest adapted block (see ``train.TrainConfig.lora_block_share``).

    Generation and models:
        max_new_tokens: generation budget per answer, in tokens.
        inference_batch_size: prompts (or texts) per batched generation / perplexity call. No gradients or
            optimizer state are kept, so it can be far larger than the training batch, and larger batches use the
            cores better (measured on 2 CPU cores, 60 answers of 48 tokens: 42 s at 8, 28 s at 16, 21 s at 30).
        decoder: registry name of the causal LM the notebooks fine-tune.

    Evaluation and tuning lessons (04, 05):
        probe_examples: reviews per split for the MiniLM sentiment classifier (``None`` = all).
        overfit_examples / overfit_epochs: training examples and epochs of lesson 05's deliberately overfitting
            LoRA run (little data, many epochs); every fix is compared with it.
        overfit_learning_rate: that run's (high) learning rate; ``None``: three times ``learning_rate``.
        search_trials: trials per Optuna sampler (grid and random) in lesson 05's hyperparameter search.
        fix_seeds: training seeds each of lesson 05's runs (base, fixes, underfit) is repeated with, so that a fix
            is called helpful only when its interval over the seed-paired differences excludes 0. Three is the
            fewest that give a spread; smoke uses two (the same code path, a wider interval).

    Behaviour task and encoder classifier (lesson 03):
        triage_steps / triage_learning_rate: optimiser steps and peak learning rate of the LoRA run that teaches
            the JSON triage format (``course_lib.triage``). The rate is higher than the answer task's in smoke, so
            that its few steps teach the format (measured: 12 steps at 5e-4 leave the plan field at 3 of 8).
        classifier_epochs / classifier_learning_rate: passes over the review texts and peak learning rate of the
            MiniLM classifier (``train.train_classifier``); every weight trains, the head from scratch.
        label_steps / label_learning_rate: optimiser steps and peak learning rate of the LoRA run that teaches the
            decoder to answer the sentiment prompt with the label alone (``model_choice.label_records``).

    Continuous learning (lesson 07, ``python -m course_lib retrain``):
        retrain_steps: optimiser steps of one retraining run on new data (+ replay); the same with and without
            replay, so their forgetting is compared at equal cost.
        transfer_steps: optimiser steps of each LoRA run on the sister domain (``data/tasks/``), one from the
            base model and one from the support adapter: the same steps, batches and learning rate for both
            (``continual.transfer_curve``).
        transfer_score_every: the sister task is scored before step 1 and every this many steps (and at the last).
        transfer_questions: held-out sister questions asked at each scored step (the file lists one phrasing of
            every fact first, so a prefix covers every fact).
        transfer_new_tokens: generation budget of those answers, in tokens (the value comes early in an answer).
        forgetting_examples: how many of the old test pairs (notebook 03's test split) a retraining's forgetting is
            measured on (``None``: all of them); all of them stay out of the replay pool either way. Each retraining
            measures the base and the candidate on them (``continual.RetrainConfig.old_test_examples``).

    Learning from feedback (lesson 08, ``train.train_dpo``):
        preference_questions: training questions the SFT model answers twice (sampled) to make preference pairs;
            pairs the rule cannot decide are left out, so fewer pairs than questions reach DPO.
        preference_temperature: sampling temperature of those two answers (higher: more different answers,
            more pairs the rule can decide, but more nonsense).
        dpo_steps / dpo_batch_size / dpo_learning_rate: optimiser steps, pairs per step and (constant) learning
            rate of the DPO adapter; the SFT-on-chosen comparison run gets the same steps, batch and rate.
        dpo_beta: DPO's beta (the weight of the log-ratio margin; larger keeps the model nearer the reference).
        dpo_beta_tradeoff: the second beta the lesson trains with, to show how far each moves from the reference.
    Sorting and labelling data (lesson 10, ``course_lib.labelling``):
        labelling_tickets: support tickets labelled (``None`` = all 658): each gets a zero-shot suggestion from the
            MiniLM encoder (one embedding per ticket) and a label from the keyword rule.
        noise_test_examples: clean test reviews each noisy-label classifier is scored on (``None`` = all 240).
            Its training budget is the encoder classifier's (``classifier_epochs``, ``classifier_learning_rate``,
            ``train_examples``), one run per noise rate.
    The Hugging Face stack (appendix notebook 09):
        trl_steps: optimiser steps of the LoRA run that notebook 09 makes twice, through the course's trainer and
            through TRL's ``SFTTrainer`` (``train.trl_sft``), evaluated at step 0 and three times after. Fewer
            than a full lesson-03 run: the notebook compares two curves, it does not need a finished model.

    Instruction-tuning a base model (notebook 11, the optional Gemma 3 270M base):
        base_sft_steps / base_sft_learning_rate: optimiser steps and peak learning rate of the LoRA run that
            teaches the base model the chat format and to stop at ``<end_of_turn>``.
        base_max_seq_len: longest training sequence of that run, in Gemma tokens. Short on purpose: the support
            examples need about 40-110 tokens, and every token is a row through the 262k-word vocabulary.
        base_eval_prompts: held-out support questions answered before and after the run (the format-following
            share is measured on them).
        base_new_tokens: generation budget per answer there; a continuation that has not closed its turn within it
            does not follow the format.

    Precision:
        precision: ``"auto"`` lets :func:`choose_precision` decide from the hardware, or force
            ``"fp32"``/``"bf16"``/``"fp16"``.
    """

    name: str
    description: str
    max_seq_len: int
    train_examples: int | None
    eval_examples: int | None
    epochs: float
    max_steps: int
    batch_size: int
    grad_accum: int
    learning_rate: float
    full_learning_rate: float
    warmup_ratio: float = 0.05
    weight_decay: float = 0.0
    eval_steps: int = 20
    save_steps: int = 50
    logging_steps: int = 5
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_block_share: float = 1.0
    max_new_tokens: int = 48
    inference_batch_size: int = 32
    decoder: str = DEFAULT_DECODER
    precision: str = "auto"
    probe_examples: int | None = None
    overfit_examples: int = 16
    overfit_epochs: int = 6
    overfit_learning_rate: float | None = None
    search_trials: int = 4
    fix_seeds: int = 3
    triage_steps: int = 40
    triage_learning_rate: float = 2e-3
    full_max_steps: int | None = None
    classifier_epochs: float = 1
    classifier_learning_rate: float = 1e-4
    label_steps: int = 60
    label_learning_rate: float = 2e-3
    retrain_steps: int = 32
    transfer_steps: int = 40
    transfer_score_every: int = 10
    transfer_questions: int = 36
    transfer_new_tokens: int = 48
    forgetting_examples: int | None = None
    trl_steps: int = 60
    preference_questions: int = 200
    preference_temperature: float = 0.8
    dpo_steps: int = 100
    dpo_batch_size: int = 8
    dpo_learning_rate: float = 1e-4
    dpo_beta: float = 0.1
    dpo_beta_tradeoff: float = 1.0
    base_sft_steps: int = 60
    base_sft_learning_rate: float = 2e-3
    base_max_seq_len: int = 128
    base_eval_prompts: int = 60
    base_new_tokens: int = 48
    labelling_tickets: int | None = None
    noise_test_examples: int | None = None


# The one profile table. Budgets are measured guides (see README "Measured on this machine").
PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        description="tests/CI: real model, a handful of steps, seq <= 64, fp32",
        max_seq_len=64, train_examples=32, eval_examples=8, epochs=1, max_steps=4, batch_size=4, grad_accum=1,
        learning_rate=5e-4, full_learning_rate=5e-5, eval_steps=2, save_steps=2, logging_steps=1,
        max_new_tokens=12, probe_examples=64, overfit_examples=1, overfit_epochs=4, search_trials=1, fix_seeds=2,
        # Measured (2 examples, 4 epochs, top half of the blocks, seeds 0 and 1): at 1.5e-3 the validation loss
        # turns up only in the last epoch, so early stopping has nothing to stop; at 6e-3 it does after 2-3 epochs.
        # One example (2 validation questions) at 6e-3, one thread of a 2-core AVX2-only EPYC (2026-12-07): the
        # validation loss goes 4.23 -> 4.00 after epoch 1, then up to 11.1; early stopping stops after epoch 2 on
        # both seeds, and notebook 05 takes 122 s instead of 232 s with 2 examples (2 epochs less: 162 s).
        overfit_learning_rate=6e-3,
        retrain_steps=4, label_steps=4, lora_dropout=0.0, lora_block_share=0.5,  # as cpu: the same path, half the cost
        # Triage, the task whose gain over zero-shot the smoke run of notebook 03 asserts (fields on 8 tickets, one
        # thread of an AVX2-only EPYC, 2026-12-07): 12 steps at 2e-3 +0.31 (95 % interval +0.12 to +0.44), 8 steps at
        # 3e-3 the same +0.31 (+0.12 to +0.44) in 4 fewer steps of ~4 s each, 8 at 2e-3 +0.25 (+0.06 to +0.44).
        triage_steps=8, triage_learning_rate=3e-3,
        trl_steps=4,
        # Lesson 07's transfer section: 2 steps from each start, scored at 0 and 2 on 4 questions of 12 tokens
        # (measured: the section took 29 s of the notebook's 136 s, niced on 1 thread, when scored at 0, 1 and 2).
        transfer_steps=2, transfer_score_every=2, transfer_questions=4, transfer_new_tokens=12,
        # Lesson 07 measures forgetting on 8 of the 63 old test pairs: scoring all 63 took 22 s a model on one thread
        # of a 2-core AVX2-only EPYC (2026-12-07), and the notebook scores up to five models (about 110 s of its 229 s).
        forgetting_examples=8,
        # Lesson 08: 8 questions x 2 sampled answers of 12 tokens, 2 steps of 2 pairs per run (three runs): a DPO
        # step scores 4 answers with the adapter and 4 without, about 4x a smoke SFT step.
        preference_questions=8, dpo_steps=2, dpo_batch_size=2, dpo_learning_rate=1e-3,
        # Notebook 11 with Gemma installed (the tests run it without, in 3 s): 8 questions of 32 tokens before and
        # after 8 steps of 4 examples, none cut at 96 tokens. Measured 2026-12-02 on a busy machine (1 thread,
        # niced): 88 s for the notebook, 54 s of it training; held-out loss 4.51 -> 2.98, the answers already in
        # the support style, none closing its turn within 32 tokens yet (0 of 8 before and after).
        base_sft_steps=8, base_sft_learning_rate=1e-3, base_max_seq_len=96, base_eval_prompts=8, base_new_tokens=32,
        # Lesson 10: 48 tickets to embed and label, three 4-step classifiers scored on 16 test reviews.
        labelling_tickets=48, noise_test_examples=16,
        # fp32 in tests: the same numbers on every CPU, so golden values and resume comparisons are exact.
        precision="fp32",
    ),
    "cpu": Profile(
        name="cpu",
        description="a laptop without a GPU: minutes per notebook, a visible gain",
        # Chosen by measurement (benchmarks/dose_response.py, 2 cores): one pass over 400 pairs at 1e-3 left the
        # support task's keyword match at 0.11-0.19; two passes over all 532 at 2e-3 reach 0.46. Adapters on the
        # top 15 of 30 blocks and no LoRA dropout make a step 1.9x cheaper (7.8 -> 4.2 s, fp32; dropout 0 alone
        # 1.17x: the dropped-out copy of every adapter input is gone).
        max_seq_len=192, train_examples=None, eval_examples=60, epochs=2, max_steps=-1, batch_size=8, grad_accum=1,
        # Validation at steps 45 and 90 and after the last (134), plus before step 1: each pass ~17 s, four steps.
        learning_rate=2e-3, full_learning_rate=5e-5, eval_steps=45, save_steps=45, logging_steps=5,
        # 4 full steps measure a full step's time and memory (a cost run, see full_max_steps): 8 took 85 s
        # (2026-12-01, fp32, with two validation passes) to show the same per-step cost and peak.
        max_new_tokens=48, lora_dropout=0.0, lora_block_share=0.5, triage_steps=30, full_max_steps=4,
        # The MiniLM classifier: one pass over all 840 reviews at 2e-4 reaches macro-F1 1.00 on the 60 test
        # reviews in 48 s (400 reviews at 1e-4: 0.58, below prompting).
        classifier_epochs=1, classifier_learning_rate=2e-4,
        # The decoder taught to answer the sentiment prompt with the label (benchmarks/label_task.py, 2 AMD EPYC
        # cores, bf16, 2026-12-02; macro F1 on the 60 test reviews, zero-shot prompting 0.72, one shot per label
        # 0.36): 40 steps of 8 at 2e-3 reach 0.88 in a 40-step schedule, 0.93 at step 40 of a 100-step one and
        # 1.00 at step 60 (44 s of training); 60 steps are ~57 % of one pass over the 840 reviews.
        label_steps=60, label_learning_rate=2e-3,
        # Lesson 05 trains every run with 3 seeds, so one run must be short. Measured on 2 AVX2 cores (fp32):
        # 8 examples x 4 epochs at 6e-3 on the top half of the blocks take 50 s with 16 validation questions and
        # still overfit (validation loss 3.38 -> 2.89 after epoch 1, then up to 4.02); 16 x 6 on every block took
        # 156 s, half of it evaluation.
        overfit_examples=8, overfit_epochs=4, overfit_learning_rate=6e-3, search_trials=2, fix_seeds=3,
        # Notebook 09 trains twice: 8 steps (~4.2 s each on the course's path) and 4 evaluations of 60 answers
        # (~17 s each) per path. Not timed on an idle machine yet: on 2 cores shared with other jobs (load ~5) the
        # course's run took 385 s, TRL's 462 s and the notebook 17.6 min, so idle it should be well under that.
        trl_steps=8,
        # Lesson 07's transfer section must add <= 3 min. Estimated from the measurements above, to be confirmed by
        # the lead's kept run: 2 runs x 12 steps x ~4.2 s = ~100 s; 8 scorings (steps 0, 4, 8, 12 for each start)
        # of 24 answers x 32 tokens in one batch, ~5 s each (60 x 48 tokens took ~21 s) = ~40 s; 3 loss passes over
        # 60 old test pairs ~15 s. 12 x 8 = 96 examples is under half a pass over the 216 sister pairs. 24 questions:
        # one per fact (6 of 18 shared with Notes) and 6 more of Tasks' own facts, so 6 of the 24 are shared.
        transfer_steps=12, transfer_score_every=4, transfer_questions=24, transfer_new_tokens=32,
        # Lesson 08 (not yet timed in a kept run): 96 questions x 2 sampled answers, then three runs of 24 steps x
        # 4 pairs (DPO at two betas, SFT on the chosen answers), inside the 10 minutes with 03's adapter reused.
        preference_questions=96, dpo_steps=24, dpo_batch_size=4, dpo_learning_rate=5e-4,
        # Notebook 11 (Gemma 3 270M base, optional). Estimated from the smoke run above, to be confirmed by the
        # lead's kept run: a step of 4 examples took 6.5 s on one busy niced thread, so 60 steps of 8 on 2 idle
        # cores should take 4-5 min, and 60 + 60 answers of up to 48 tokens about a minute; the whole notebook
        # 6-8 min (plus ~1 min once, the first conversion). 480 examples at 2e-3 (the rate of the course's other
        # cpu LoRA runs) against smoke's 32 at 1e-3, which already moved the answers into the support style.
        # Sequences of 128 tokens keep every support example whole (the longest is 101 Gemma tokens).
        base_sft_steps=60, base_sft_learning_rate=2e-3, base_max_seq_len=128, base_eval_prompts=60, base_new_tokens=48,
        # Lesson 10 (an estimate, to be confirmed by the lead's kept run): all 658 tickets (embedding them is a few
        # seconds) and all 240 test reviews, so the drop in macro F1 gets an interval about half as wide as 60
        # reviews give. Its three classifiers are notebook 03's (one pass over the 840 reviews at 2e-4, 48 s
        # measured there), so about 3 x 50 s of training: the notebook should take 3-4 min on 2 cores.
        labelling_tickets=None, noise_test_examples=None,
    ),
    "t4": Profile(
        name="t4",
        description="Colab free tier (compute capability < 8.0): longer runs, fp16",
        max_seq_len=384, train_examples=None, eval_examples=150, epochs=3, max_steps=-1, batch_size=16, grad_accum=1,
        learning_rate=5e-4, full_learning_rate=3e-5, eval_steps=25, save_steps=100, logging_steps=10,
        max_new_tokens=64,
    ),
    "a100": Profile(
        name="a100",
        description="capability >= 8.0 (A100/L4/H100): bf16, biggest budgets",
        max_seq_len=512, train_examples=None, eval_examples=None, epochs=3, max_steps=-1, batch_size=32,
        grad_accum=1, learning_rate=5e-4, full_learning_rate=3e-5, eval_steps=25, save_steps=100,
        logging_steps=10, max_new_tokens=64,
    ),
}


def get_profile(name: str) -> Profile:
    """Return the profile called ``name`` (case-insensitive); raise :class:`ConfigError` listing the choices."""
    key = str(name).strip().lower()
    if key not in PROFILES:
        choices = ", ".join(["auto", *PROFILES])
        raise ConfigError(f"unknown profile {name!r} — choose one of: {choices}")
    return PROFILES[key]


# Profile choice from the hardware: the capability is an argument, so the tests can feed it a mocked T4 or A100.

def auto_profile_name(capability: tuple[int, int] | None) -> str:
    """Profile for the hardware: no GPU → ``cpu``; capability < 8.0 (T4, V100) → ``t4``; else ``a100``."""
    if capability is None:
        return "cpu"
    return "t4" if capability < (8, 0) else "a100"


def resolve_profile(requested: str = "auto", capability: tuple[int, int] | None = None) -> Profile:
    """Pick the profile: an explicit name wins; ``"auto"`` defers to ``$COURSE_PROFILE``, then to the hardware."""
    name = (requested or "auto").strip().lower()
    if name == "auto":
        name = os.environ.get(PROFILE_ENV, "").strip().lower() or auto_profile_name(capability)
    return get_profile(name)
