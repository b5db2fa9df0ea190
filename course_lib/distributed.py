"""Several processes, one training: who am I, how is the batch split, who writes the files.

``python -m course_lib train ...`` runs unchanged under ``accelerate launch`` or ``torchrun``. The launcher starts
one process per GPU (or per CPU slot with ``--cpu``) and tells each its place through environment variables
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``); the Hugging Face ``Trainer`` (through
``accelerate``) then wraps the model in DDP or FSDP, gives each process its own share of every batch and
averages the gradients. This module adds what the course needs on top:

* :func:`process_info` — this process's rank and the number of processes, read from the launcher's variables
  (no ``torch.distributed`` call, so it works before anything is initialised and in a plain notebook).
* :func:`plan_batch` / :func:`prepare` — **the global batch stays the profile's** whatever the number of processes:
  ``global = batch_size x grad_accum`` (one process) is split as ``per_device_batch x grad_accum' x processes``;
  a batch that cannot be split evenly is refused with one :class:`~course_lib.errors.ConfigError` sentence before
  any model is loaded. The same learning rate and schedule therefore mean the same thing on 1 or 8 GPUs.
* :func:`wait_for_everyone`, :func:`sum_across_processes` — a barrier and a sum, no-ops in a single process.

Only the main process (rank 0) writes checkpoints' shared files, the final adapter, ``metrics.json``,
``history.json``, plots and ``stamp.json``; each rank writes only its own ``rng_state_<rank>.pth`` inside a
checkpoint (the Trainer does that, so a resumed run restores every rank's random state).

torch is imported inside functions only.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from .errors import ConfigError


@dataclass(frozen=True)
class ProcessInfo:
    """Where this process sits in a launch.

    Attributes:
        rank: global index of this process, ``0 .. world_size - 1`` (0 = the main process).
        local_rank: index on this machine (selects the GPU: ``cuda:<local_rank>``).
        world_size: number of processes in the whole job (all machines).
        local_world_size: number of processes on this machine (they share its CPU cores).
    """

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    local_world_size: int = 1

    @property
    def is_main(self) -> bool:
        """True for the one process that prints and writes shared files."""
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    def describe(self) -> str:
        if not self.is_distributed:
            return "1 process"
        return (f"process {self.rank} of {self.world_size} (local {self.local_rank} of {self.local_world_size} "
                "on this machine)")


def _env_int(env, name: str, default: int) -> int:
    value = env.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError as err:
        raise ConfigError(f"the launcher variable {name}={value!r} is not an integer — launch with accelerate "
                          "launch or torchrun, which set it, or unset it") from err


def process_info(env=None) -> ProcessInfo:
    """Read this process's place from the launcher's environment (``torchrun`` and ``accelerate launch`` set it).

    Without a launcher every value falls back to a single process. ``env`` defaults to ``os.environ``.
    """
    env = os.environ if env is None else env
    world = _env_int(env, "WORLD_SIZE", 1)
    rank = _env_int(env, "RANK", 0)
    local_rank = _env_int(env, "LOCAL_RANK", rank)
    local_world = _env_int(env, "LOCAL_WORLD_SIZE", world)
    if world < 1 or not 0 <= rank < world or not 0 <= local_rank < local_world or local_world > world:
        raise ConfigError(f"inconsistent launcher variables (RANK={rank}, WORLD_SIZE={world}, LOCAL_RANK={local_rank},"
                          f" LOCAL_WORLD_SIZE={local_world}) — start the job with accelerate launch or torchrun")
    return ProcessInfo(rank=rank, local_rank=local_rank, world_size=world, local_world_size=local_world)


def is_main_process() -> bool:
    """True in a single process and on rank 0 of a launch."""
    return process_info().is_main


# ----------------------------------------------------------------------------------------------------------------
# The global batch
# ----------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BatchPlan:
    """How one optimiser step's examples are split over processes and accumulation steps.

    ``global_batch = per_device_batch x grad_accum x processes`` examples per optimiser step, always equal to the
    requested ``batch_size x grad_accum`` of a single process.

    Attributes:
        global_batch: examples per optimiser step, summed over all processes.
        processes: number of processes (world size).
        per_device_batch: examples per forward pass on each process (what must fit in one device's memory; never
            larger than the requested ``batch_size``).
        grad_accum: forward passes each process accumulates before the (all-reduced) optimiser step.
        requested_batch / requested_accum: the single-process values the plan started from.
    """

    global_batch: int
    processes: int
    per_device_batch: int
    grad_accum: int
    requested_batch: int
    requested_accum: int

    @property
    def changed(self) -> bool:
        return (self.per_device_batch, self.grad_accum) != (self.requested_batch, self.requested_accum)

    def describe(self) -> str:
        """One line for the log, e.g. ``global batch 16 = 4 per device x 2 accumulation x 2 processes``."""
        line = (f"global batch {self.global_batch} = {self.per_device_batch} per device x {self.grad_accum} "
                f"accumulation x {self.processes} process{'es' if self.processes != 1 else ''}")
        if self.changed:
            line += (f" (one process would use {self.requested_batch} x {self.requested_accum}; gradient "
                     "accumulation/micro-batch adjusted so the optimiser sees the same batch)")
        return line


def plan_batch(batch_size: int, grad_accum: int, processes: int) -> BatchPlan:
    """Split the single-process global batch ``batch_size x grad_accum`` evenly over ``processes``.

    Rule: each process must see ``global / processes`` examples per optimiser step. Keep the largest micro-batch
    that divides that share and is no larger than ``batch_size`` (the profile sized it to fit memory), and
    accumulate the rest. Examples: 8 x 4 on 2 processes -> 8 x 2; 4 x 1 on 2 -> 2 x 1; 16 x 1 on 4 -> 4 x 1.

    Raises:
        ConfigError: the global batch is not a multiple of ``processes`` (e.g. 4 x 1 on 3 processes): the split
            would change the batch, and with it the meaning of the learning rate.
    """
    batch_size, grad_accum, processes = int(batch_size), int(grad_accum), int(processes)
    if batch_size < 1 or grad_accum < 1 or processes < 1:
        raise ConfigError(f"batch_size={batch_size}, grad_accum={grad_accum} and processes={processes} must all be at "
                          "least 1 — fix the profile, the TrainConfig or the launcher's --num_processes")
    global_batch = batch_size * grad_accum
    if global_batch % processes:
        divisors = [n for n in range(1, global_batch + 1) if global_batch % n == 0]
        raise ConfigError(
            f"the global batch of {global_batch} examples (batch_size {batch_size} x grad_accum {grad_accum}) cannot "
            f"be split evenly over {processes} processes — launch with a process count that divides it "
            f"({', '.join(map(str, divisors))}) or choose a batch_size x grad_accum that is a multiple of {processes}")
    share = global_batch // processes
    micro = max(n for n in range(1, min(batch_size, share) + 1) if share % n == 0)
    return BatchPlan(global_batch=global_batch, processes=processes, per_device_batch=micro,
                     grad_accum=share // micro, requested_batch=batch_size, requested_accum=grad_accum)


def prepare(config, info: ProcessInfo | None = None, announce: bool = True):
    """Get this process ready for a launch; return ``config`` with the per-process batch and accumulation.

    ``config`` is a resolved :class:`course_lib.train.TrainConfig` (``batch_size`` and ``grad_accum`` filled in).
    In a single process it is returned unchanged. With several processes:

    * the batch is re-planned with :func:`plan_batch` (a :class:`ConfigError` before anything heavy happens);
    * on a GPU machine this process is bound to ``cuda:<local_rank>`` *before* the model is loaded, so the
      processes do not all load their copy onto GPU 0 first;
    * the main process prints the plan (``announce=False`` to keep quiet).
    """
    info = info or process_info()
    if not info.is_distributed:
        return config
    plan = plan_batch(config.batch_size, config.grad_accum, info.world_size)
    _bind_cuda_device(info)
    if announce and info.is_main:
        print(f"[distributed] {info.world_size} processes: {plan.describe()}", flush=True)
    return dataclasses.replace(config, batch_size=plan.per_device_batch, grad_accum=plan.grad_accum)


def _bind_cuda_device(info: ProcessInfo) -> None:
    import torch

    if torch.cuda.is_available():
        # One GPU per process: the launcher numbers the processes of a machine 0..local_world_size-1.
        torch.cuda.set_device(info.local_rank % torch.cuda.device_count())


class MultiProcessTrainerMixin:
    """Mixin for a ``transformers.Trainer`` subclass: the same training on 1 or N processes, and after a resume.

    1. **Same example order.** With ``train_sampling_strategy="group_by_length"`` the Trainer builds a
       ``LengthGroupedSampler`` sized by the *per-process* batch (``per_device x grad_accum``); its mega-batches
       (``min(n // (4 x size), 50) x size`` examples, each sorted by length) then depend on the process count, so
       2 processes would train on other batches than 1. Sizing it by the *global* batch makes the index order
       identical; accelerate deals consecutive micro-batches round-robin to the ranks, so optimiser step ``k``
       covers examples ``[k x global, (k+1) x global)`` of that order however many processes share it.
    2. **Order from the seed, not from the random stream.** The stock sampler shuffles with torch's global
       generator at the start of each epoch, so its order depends on whatever drew random numbers before; with
       several processes accelerate's loaders synchronise (and so advance) that generator, e.g. during the
       evaluation before training, which a resumed run skips: measured, a 2-process run resumed at step 2 trained
       steps 3-4 on other batches (loss 4.33 vs 4.05). The course's sampler shuffles with ``data_seed + epoch``
       (the Trainer calls ``set_epoch``), identical for 1 or N processes and for a resumed run.
    3. **Gradients really synchronised after an evaluation before training.** ``trainer.evaluate()`` before
       ``trainer.train()`` (the course measures the starting eval loss) lets accelerate prepare the model in
       evaluation mode (no DDP wrapper) and mark it prepared; ``train()`` then skips the DDP wrapping, and every
       process silently steps with its *own* gradients (measured with transformers 5.23 / accelerate 1.15 on 2
       CPU processes: grad norm 1.76 instead of 1.37 at step 1, the ranks' weights drifting apart). Before
       training, the mark of such an evaluation-only preparation is removed so the model is wrapped in DDP.

    Use as ``class CourseTrainer(MultiProcessTrainerMixin, Trainer)``; transformers is imported only when a
    method runs.
    """

    def _get_train_sampler(self, train_dataset=None):
        sampler = super()._get_train_sampler(train_dataset)
        from transformers.trainer_pt_utils import LengthGroupedSampler

        if type(sampler) is LengthGroupedSampler:
            global_batch = (self.args.per_device_train_batch_size * self.args.gradient_accumulation_steps
                            * self.args.world_size)
            seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
            sampler = seeded_length_grouped_sampler(sampler.lengths, global_batch, seed)
        return sampler

    def train(self, *args, **kwargs):
        forget_evaluation_only_preparation(self)
        return super().train(*args, **kwargs)

    def evaluate(self, *args, **kwargs):
        if _fsdp2_before_training(self):
            # accelerate 1.15 cannot prepare an FSDP2 model without its optimizer (measured on an H100: ValueError
            # "a model and optimizer must be passed together"), so there is no evaluation before training under
            # FSDP2: report it as not measured (NaN) instead of crashing. Evaluations during training still run.
            if self.is_world_process_zero():
                print("[distributed] FSDP2: no evaluation before training (accelerate shards model and optimizer "
                      "together); eval_loss_start not measured", flush=True)
            return {"eval_loss": float("nan")}
        return super().evaluate(*args, **kwargs)


def _fsdp2_before_training(trainer) -> bool:
    if not getattr(trainer, "is_fsdp_enabled", False):
        return False
    plugin = getattr(trainer.accelerator.state, "fsdp_plugin", None)
    return (getattr(plugin, "fsdp_version", 1) == 2 and trainer.model_wrapped is trainer.model
            and not getattr(trainer.model, "_is_accelerate_prepared", False))


def seeded_length_grouped_sampler(lengths, batch_size: int, seed: int):
    """A ``LengthGroupedSampler`` over ``lengths`` (tokens per example) whose shuffle is seeded by ``seed + epoch``.

    ``batch_size`` is the global batch (examples per optimiser step over all processes): it sets the mega-batch
    size, so the order is the same whatever the process count. Returns a sampler with ``set_epoch``.
    """
    import torch
    from transformers.trainer_pt_utils import LengthGroupedSampler, get_length_grouped_indices

    class EpochSeededLengthGroupedSampler(LengthGroupedSampler):
        def __init__(self):
            super().__init__(batch_size, lengths=list(lengths))
            self.seed = int(seed)
            self.epoch = 0

        def set_epoch(self, epoch: int) -> None:
            self.epoch = int(epoch)

        def __iter__(self):
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            return iter(get_length_grouped_indices(self.lengths, self.batch_size, generator=generator))

    return EpochSeededLengthGroupedSampler()


def forget_evaluation_only_preparation(trainer) -> bool:
    """Undo accelerate's evaluation-mode preparation of ``trainer.model`` so ``train()`` wraps it in DDP.

    Acts only in a multi-process DDP run whose model is marked prepared but is not wrapped (what an
    ``evaluate()`` before ``train()`` leaves). FSDP and DeepSpeed prepare fully during evaluation and are left
    alone. Returns True when it changed something.
    """
    model = trainer.model
    if trainer.args.world_size <= 1 or not getattr(model, "_is_accelerate_prepared", False):
        return False
    if getattr(trainer, "is_fsdp_enabled", False) or getattr(trainer, "is_deepspeed_enabled", False):
        return False
    accelerator = trainer.accelerator
    if accelerator.unwrap_model(model) is not model or trainer.model_wrapped is not model:
        return False  # already wrapped for training
    model._is_accelerate_prepared = False
    accelerator._models[:] = [m for m in accelerator._models if m is not model]
    return True


# ----------------------------------------------------------------------------------------------------------------
# Collectives that are no-ops in a single process
# ----------------------------------------------------------------------------------------------------------------

def _initialized():
    import torch.distributed as dist

    return dist if dist.is_available() and dist.is_initialized() else None


def wait_for_everyone() -> None:
    """Barrier: return once every process got here (no-op without an initialised process group)."""
    dist = _initialized()
    if dist is not None:
        dist.barrier()


def _all_reduce(values, op: str) -> list:
    """Element-wise reduction (``op``: ``"SUM"`` or ``"MAX"``) of a list of numbers over all processes.

    Every process must call it with a list of the same length; a single process gets its list back as floats.
    """
    values = [float(v) for v in values]
    dist = _initialized()
    if dist is None:
        return values
    import torch

    # NCCL only reduces GPU tensors; gloo (CPU launches) reduces CPU tensors. float64 keeps token counts exact.
    device = f"cuda:{torch.cuda.current_device()}" if dist.get_backend() == "nccl" else "cpu"
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=getattr(dist.ReduceOp, op))
    return tensor.cpu().tolist()


def sum_across_processes(values):
    """Element-wise sum of a list of numbers over all processes (the list itself in a single process)."""
    return _all_reduce(values, "SUM")


def max_across_processes(values):
    """Element-wise maximum of a list of numbers over all processes (e.g. the slowest process's seconds)."""
    return _all_reduce(values, "MAX")


def full_state_dict(model) -> dict | None:
    """The whole, unsharded state dict of a model sharded by FSDP2, on CPU in the main process; else ``None``.

    FSDP2 turns every parameter into a ``DTensor`` holding only this process's shard, so ``save_pretrained`` on
    one process would write a fraction of each weight. This gathers the full tensors (a collective: every process
    must call it) into CPU memory on rank 0 only (``cpu_offload``: no extra full copy on any GPU); other ranks get
    an empty dict. For an unsharded model (one process, DDP) it returns ``None``: save the model as it is.
    """
    if not any(hasattr(param, "to_local") for param in model.parameters()):
        return None
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))


def combine_throughput(throughput) -> None:
    """Turn a per-process :class:`course_lib.train.Throughput` into the whole job's, in place.

    Tokens are summed over processes; busy seconds become the slowest process's (they step together), so
    ``useful_per_s`` is the job's tokens per second. A no-op in a single process.
    """
    if _initialized() is None:
        return
    throughput.useful, throughput.computed = (int(v) for v in sum_across_processes(
        [throughput.useful, throughput.computed]))
    (throughput.busy_s,) = max_across_processes([throughput.busy_s])
