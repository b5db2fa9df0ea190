"""One table of methods (notebook 03): each training run's costs next to the scores of its answers."""

from __future__ import annotations

from .adapters import folder_size_bytes


def size_mb(folder) -> float:
    """The bytes of every file under ``folder``, in MiB (2**20 bytes), to one decimal."""
    return round(folder_size_bytes(folder) / 2**20, 1)


def _method_row(name: str, run, score, base_eval_loss) -> dict:
    """The row of :func:`method_table` for one method: ``run`` (a TrainResult or ``None`` for a prompt) and
    ``score`` (an EvalResult or ``None`` for a cost-only run)."""
    if run:
        eval_loss = run.metrics["eval_loss"]
    else:  # zero-shot: the base model's loss (same prompt format); none was measured with the few-shot prompt
        eval_loss = base_eval_loss if name == "zero-shot" else None
    return {
        "method": name,
        "trainable params": run.trainable_params if run else 0,
        "trainable %": round(100 * run.trainable_fraction, 2) if run else 0.0,
        "steps": run.metrics["steps"] if run else 0,
        "s/step": round(run.seconds / run.metrics["steps"], 2) if run else None,
        "peak memory MB": round(run.peak_memory_bytes / 2**20) if run else None,
        "train time s": round(run.seconds, 1) if run else 0.0,
        "useful tokens/s": round(run.useful_tokens_per_s) if run else None,
        "eval loss": round(eval_loss, 3) if eval_loss is not None else None,
        "keyword match": round(score.metrics["keyword_match"], 3) if score else None,
        "ROUGE-L": round(score.metrics["rougeL"], 3) if score else None,
        "size on disk MB": size_mb(run.final_dir) if run else None,
    }


def method_table(runs: dict, scores: dict, base_eval_loss: float | None = None, sizes: dict | None = None):
    """Prompting baselines and training runs in one table, one row per method.

    Args:
        runs: ``{method: TrainResult}`` (:func:`course_lib.train.train`); a method without a run is a prompt.
        scores: ``{method: EvalResult}`` with ``keyword_match`` and ``rougeL``
            (:func:`course_lib.evaluation.evaluate_generation`); a run without scores is a cost-only run. Rows
            follow ``scores``, then the runs that have none.
        base_eval_loss: the base model's validation loss (the LoRA run's ``eval_loss_start``), given to the
            ``zero-shot`` row.
        sizes: ``{row name: folder}`` of saved models that are not runs (e.g. the merged LoRA model): their
            ``size on disk MB``, in a row of their own.

    Returns:
        A DataFrame indexed by method: trainable params (count) and %, steps, s/step, peak memory MB (2**20
        bytes), train time s, useful tokens/s, eval loss (nats per answer token), keyword match and ROUGE-L
        (0..1), size on disk MB. Taught in notebook 03.
    """
    import pandas as pd

    names = [*scores, *(name for name in runs if name not in scores)]  # a cost-only run has no scores
    table = pd.DataFrame([_method_row(name, runs.get(name), scores.get(name), base_eval_loss)
                          for name in names]).set_index("method")
    for name, folder in (sizes or {}).items():
        table.loc[name, "size on disk MB"] = size_mb(folder)
    return table.astype({"trainable params": "Int64", "peak memory MB": "Int64", "useful tokens/s": "Int64"})
