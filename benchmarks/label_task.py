"""Macro F1 of the decoder on the sentiment reviews: prompted zero-shot, prompted with one example per label, and
fine-tuned with LoRA to answer the label, scored after several step counts of one run (the measurement behind the
profile's ``label_steps`` and ``label_learning_rate``):

    python benchmarks/label_task.py [--steps 10 20 40] [--lr 2e-3] [--out benchmarks/results/label_task.json]

The same 60 test reviews as notebook 03 (cpu profile), greedy answers of at most 4 tokens, an answer that names no
label counts as wrong. The CPU model and flags are recorded with the numbers; run it on an idle machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dose_response import cpu_facts, write_result  # noqa: E402  (same folder)

from course_lib import evaluation, model_choice, models, paths, runtime, train  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[10, 20, 40])
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--out", default="benchmarks/results/label_task.json")
    args = parser.parse_args()

    import pandas as pd
    from transformers import TrainerCallback

    rt = runtime.setup(args.profile, 0)
    reviews = pd.read_csv(paths.data_path("sentiment", "reviews.csv"))
    labels = sorted(reviews["label"].unique())
    train_rows = reviews[reviews["split"] == "train"]
    val_rows = reviews[reviews["split"] == "validation"].head(rt.profile.eval_examples)
    test_rows = reviews[reviews["split"] == "test"].head(rt.profile.eval_examples)
    gold = test_rows["label"].tolist()
    model, tokenizer = models.load_causal_lm(rt.profile.decoder, runtime=rt, verbose=False)
    ask = dict(max_new_tokens=4, batch_size=rt.profile.inference_batch_size)

    def f1(predicted) -> float:
        return round(evaluation.classification_metrics(gold, predicted, labels)["f1_macro"], 4)

    shots = model_choice.one_shot_per_label(train_rows["text"], train_rows["label"], labels)
    rows = [{"system": "zero-shot", "macro_f1": f1(model_choice.prompt_classify(model, tokenizer, test_rows["text"],
                                                                                  labels, **ask)[0])},
            {"system": "one shot per label", "macro_f1": f1(model_choice.prompt_classify(
                model, tokenizer, test_rows["text"], labels, shots=shots, **ask)[0])}]
    print(rows, flush=True)
    started, eval_time = time.perf_counter(), [0.0]

    class StepScore(TrainerCallback):
        def on_step_end(self, targs, state, control, model=None, **kwargs):
            if state.global_step in args.steps:
                begin = time.perf_counter()
                predicted, _ = model_choice.prompt_classify(model, tokenizer, test_rows["text"], labels, **ask)
                rows.append({"system": f"LoRA {state.global_step} steps", "macro_f1": f1(predicted),
                             "train_seconds": round(begin - started - eval_time[0], 1)})
                print(rows[-1], flush=True)
                eval_time[0] += time.perf_counter() - begin
                model.train()

    records = model_choice.label_records(train_rows["text"], train_rows["label"], labels)
    config = train.TrainConfig(method="lora", system_prompt=None, max_steps=max(args.steps), learning_rate=args.lr,
                               max_seq_len=model_choice.LABEL_MAX_SEQ_LEN, train_examples=len(records),
                               eval_steps=10**6, save_steps=10**6, save_final=False, live="off", eval_at_start=False)
    started = time.perf_counter()
    train.train(records, model_choice.label_records(val_rows["text"], val_rows["label"], labels), config, runtime=rt,
                model=model, tokenizer=tokenizer, output_dir=Path("outputs") / "label_task", callbacks=(StepScore(),))
    write_result(args.out, {"date": time.strftime("%Y-%m-%d"), "cpu": cpu_facts(), "precision": rt.precision,
                            "threads": rt.threads, "settings": vars(args), "test_reviews": len(gold), "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
