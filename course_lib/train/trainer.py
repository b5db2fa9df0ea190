"""The course's ``Trainer``: token counting, a loud stop on a non-finite loss, the loss on labelled positions only,
the frozen weights in bf16 and the decoder blocks compiled for its steps where that pays (``train.frozen``,
``train.compiled``).

Taught in notebook 03 (response-only loss, throughput, loud failures); benchmarks/train_throughput.py measures
what the labelled-positions loss saves.
"""

from __future__ import annotations

import contextlib

from ..errors import CourseError
from ..models import body_and_head
from .compiled import CompiledBlocks
from .frozen import Bf16FrozenCopies
from .measure import Throughput


class TrainingFailed(CourseError):
    """Training ran but its result cannot be trusted: NaN/inf loss, or the trainable weights never changed."""


def labelled_positions_loss(hidden, head, labels):
    """Summed next-token cross-entropy over the positions that have a label, and how many there are.

    ``hidden``: (batch, seq, hidden) last hidden states; ``head``: the output projection (hidden -> vocab);
    ``labels``: (batch, seq) token ids, -100 where no loss is taken (prompt, padding). Position ``t`` predicts
    label ``t + 1``. Only the labelled positions go through the head: with response-only labels most positions
    are prompt, and the head is one of the largest matmuls per token (576 x 49,152 for SmolLM2, 21 % of its
    matmul FLOPs). Returns (sum in nats as a 0-dim fp32 tensor, count as a 0-dim int tensor); the sum equals the
    model's own loss x count up to float rounding.
    """
    import torch

    targets = labels[:, 1:]
    keep = targets != -100
    logits = head(hidden[:, :-1][keep])  # (labelled positions, vocab)
    # fp32 for the softmax: in bf16 the log-sum-exp over 49k logits loses the small differences the loss is made of.
    summed = torch.nn.functional.cross_entropy(logits.float(), targets[keep], reduction="sum")
    return summed, keep.sum()


def _causal_lm_parts(model, inputs, trainer):
    """(decoder body, output head) when the loss can be taken on labelled positions only, else ``None``.

    Only for a single-process run of a causal language model with labels and the Trainer's default loss: under
    DDP/FSDP the forward must go through the wrapper (it synchronises gradients and gathers shards), and label
    smoothing or a custom ``compute_loss_func`` need the full outputs.
    """
    if (trainer.args.world_size != 1 or trainer.label_smoother is not None or trainer.compute_loss_func is not None
            or "labels" not in inputs or inputs["labels"].dim() != 2):
        return None
    return body_and_head(model)  # None unless the logits are exactly head(last hidden state)


def _raise_if_not_finite(loss, step: int):
    """Stop the run at ``step`` (1-based) when the training loss is NaN or inf: a diverged run must not "finish"."""
    import torch

    if not torch.isfinite(loss).all():
        raise TrainingFailed(
            f"the training loss became {float(loss)} at step {step} — lower the "
            "learning rate, check the data for empty answers, or use fp32 (COURSE_PRECISION=fp32)")


def _labelled_loss(trainer, parts, inputs, num_items_in_batch):
    """The Trainer's loss taken through ``parts`` = (decoder body, output head) on the labelled positions only."""
    body, head = parts
    # accelerate applies mixed-precision autocast by wrapping the *top* model's forward; calling the
    # decoder body directly skips that wrapper, so the same autocast is entered here.
    with trainer.accelerator.autocast():
        # use_cache=False: training needs no key/value cache (the models default to building one), and a compiled
        # block (train.compiled) would be recompiled for every new cache object.
        body_inputs = {**{k: v for k, v in inputs.items() if k != "labels"}, "use_cache": False}
        hidden = body(**body_inputs).last_hidden_state
        summed, count = labelled_positions_loss(hidden, head, inputs["labels"])
    # The same reduction as the model's own loss: over the whole accumulated batch when the Trainer
    # passes its token count (gradient accumulation), else the mean over this batch.
    if trainer.model_accepts_loss_kwargs and num_items_in_batch is not None:
        return summed / num_items_in_batch
    return summed / count.clamp(min=1)


def _is_compile_error(error) -> bool:
    """Whether ``error`` comes from ``torch.compile`` (tracing or the inductor backend), not from the step itself."""
    import torch._dynamo.exc

    return isinstance(error, torch._dynamo.exc.TorchDynamoException)


def _loss_only_prediction(trainer, model, inputs):
    """``prediction_step``'s ``(loss, None, None)`` with the loss from ``trainer.compute_loss``, without gradients."""
    import torch

    inputs = trainer._prepare_inputs(inputs)
    with torch.no_grad():
        loss = trainer.compute_loss(model, inputs)
    return loss.detach(), None, None


def _make_trainer_class():
    """Build the Trainer subclass lazily (transformers is imported only when training)."""
    from transformers import Trainer

    from ..distributed import MultiProcessTrainerMixin

    class CourseTrainer(MultiProcessTrainerMixin, Trainer):  # mixin: same batches and synced grads on N processes
        """A ``Trainer`` that counts tokens, stops on a non-finite loss and adds tokens/s to the logs.

        Its training and evaluation losses put only the labelled positions through the output head
        (:func:`labelled_positions_loss`; the same value as the model's own loss, less compute).
        """

        throughput: Throughput | None = None
        # The frozen weights' bf16 roundings (train.frozen), swapped in for each training and evaluation step, which
        # run under bf16 autocast; callbacks and checkpoints between the steps see the fp32 weights. None: off.
        frozen_bf16: Bf16FrozenCopies | None = None
        # The decoder blocks compiled for the training steps (train.compiled); evaluation stays eager. None: off.
        compiled_blocks: CompiledBlocks | None = None

        def _frozen_weights(self):
            return self.frozen_bf16.swapped_in() if self.frozen_bf16 is not None else contextlib.nullcontext()

        def _compiled(self):
            return self.compiled_blocks.active() if self.compiled_blocks is not None else contextlib.nullcontext()

        def training_step(self, model, inputs, num_items_in_batch=None):
            if self.throughput is not None:
                self.throughput.add_batch(inputs)
            try:  # forward and backward: the backward pass uses the weights (and the compiled graph) the forward saw
                with self._frozen_weights(), self._compiled():
                    loss = super().training_step(model, inputs, num_items_in_batch)
            except Exception as error:  # only a failed compile is answered here; anything else goes on up
                if self.compiled_blocks is None or not _is_compile_error(error):
                    raise
                loss = self._eager_step_after(error, model, inputs, num_items_in_batch)
            _raise_if_not_finite(loss, self.state.global_step + 1)
            return loss

        def _eager_step_after(self, error, model, inputs, num_items_in_batch):
            """The step again with eager blocks, for the rest of the run, after compiling them failed (no C++
            compiler that works, an operation the compiler does not know). Compiling happens in the first step,
            before any gradient is kept, so the failed attempt's partial gradients are dropped."""
            reason = str(error).strip().splitlines()[0][:160] if str(error).strip() else type(error).__name__
            print(f"Compiling the decoder blocks failed ({reason}); training goes on with eager blocks "
                  "(set COURSE_COMPILE=0 to skip the attempt).")
            self.compiled_blocks = None
            model.zero_grad(set_to_none=True)
            with self._frozen_weights():
                return super().training_step(model, inputs, num_items_in_batch)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            parts = None if return_outputs else _causal_lm_parts(model, inputs, self)
            if parts is None:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            return _labelled_loss(self, parts, inputs, num_items_in_batch)

        def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
            # Evaluation needs only the loss (the course passes no compute_metrics): take it on the labelled
            # positions, as in training, instead of computing and discarding logits for every position.
            parts = _causal_lm_parts(model, inputs, self) if prediction_loss_only else None
            with self._frozen_weights():
                if parts is None:
                    return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys)
                return _loss_only_prediction(self, model, inputs)

        def log(self, logs, start_time=None):
            if self.throughput is not None and "loss" in logs:
                logs.update({k: round(v, 1) for k, v in self.throughput.take_window().items()})
            super().log(logs, start_time)

    return CourseTrainer
