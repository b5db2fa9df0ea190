"""How much training does the support task need? Keyword match after every epoch of one LoRA run.

The course's own path (``course_lib.train.train``) on notebook 03's split and test questions; after each epoch the
model answers the 60 test questions (greedy, the profile's generation budget) and is scored. This is the
measurement behind the cpu profile's epochs and learning rate (README, notebook 03's budget note).

    python benchmarks/dose_response.py --epochs 2 --lr 2e-3 [--examples N] [--block-share 0.5] [--dropout 0]
        [--out benchmarks/results/dose_response.json]

Prints one line per epoch and writes the curve, the settings and the machine (CPU model and flags) as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from course_lib import data, evaluation, formatting, models, paths, runtime, train  # noqa: E402

SYSTEM = "You are the support assistant for Brightleaf Notes, a note-taking app. Answer briefly."


def cpu_facts() -> dict:
    """CPU model and the flags that decide the matmul path (AVX2, AVX512, AVX512-BF16, AMX): runtime.cpu_features."""
    return runtime.cpu_features()


def support_splits() -> dict[str, list]:
    """Notebook 03's split of the support pairs (stratified by category, seed 0)."""
    records = train.read_records(paths.data_path("support", "support_clean.jsonl"))
    return data.stratified_split(records, "category", (0.8, 0.1, 0.1), seed=0)


def write_result(path: str, payload: dict) -> None:
    """Write the benchmark's JSON result and say where."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    print("wrote", out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--examples", type=int, default=None, help="training pairs (default: all)")
    parser.add_argument("--block-share", type=float, default=1.0, help="share of blocks, from the top, with adapters")
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--out", default="benchmarks/results/dose_response.json")
    args = parser.parse_args()

    from transformers import TrainerCallback

    rt = runtime.setup(args.profile, 0)
    splits = support_splits()
    test = splits["test"][: rt.profile.eval_examples]
    questions = [formatting.user_text(r) for r in test]
    references = [r["output"] for r in test]
    keywords = [r["keywords"] for r in test]
    model, tokenizer = models.load_causal_lm(rt.profile.decoder, runtime=rt, verbose=False)
    curve: list[dict] = []
    started = time.perf_counter()
    gen = dict(system=SYSTEM, max_new_tokens=rt.profile.max_new_tokens, batch_size=rt.profile.inference_batch_size,
               progress=False)

    def score(model_now, epoch: float, step: int, train_seconds: float) -> None:
        result = evaluation.evaluate_generation(model_now, tokenizer, questions, references, keywords, **gen)
        curve.append({"epoch": round(epoch, 2), "step": step, "keyword_match": round(result.metrics["keyword_match"], 4),
                      "rougeL": round(result.metrics["rougeL"], 4), "train_seconds": round(train_seconds, 1),
                      "per_question": result.examples["keyword_match"].round(3).tolist()})
        print(f"epoch {epoch:.2f} step {step}: keyword match {result.metrics['keyword_match']:.3f} "
              f"(train {train_seconds:.0f} s)", flush=True)

    score(model, 0.0, 0, 0.0)
    eval_time = [0.0]

    class EpochScore(TrainerCallback):
        def on_epoch_end(self, targs, state, control, model=None, **kwargs):
            begin = time.perf_counter()
            score(model, state.epoch, state.global_step, begin - started - eval_time[0])
            eval_time[0] += time.perf_counter() - begin
            model.train()

    config = train.TrainConfig(method="lora", system_prompt=SYSTEM, epochs=args.epochs, learning_rate=args.lr,
                               train_examples=args.examples or len(splits["train"]), lora_block_share=args.block_share,
                               lora_dropout=args.dropout, eval_steps=10**6, save_steps=10**6, save_final=False,
                               live="off", eval_at_start=False)
    started = time.perf_counter()
    result = train.train(splits["train"], splits["validation"], config, runtime=rt, model=model,
                         tokenizer=tokenizer, output_dir=Path("outputs") / "dose_response", callbacks=(EpochScore(),))
    payload = {"date": time.strftime("%Y-%m-%d"), "cpu": cpu_facts(), "precision": rt.precision,
               "threads": rt.threads, "settings": vars(args), "train_pairs": len(splits["train"]),
               "test_questions": len(test), "steps": result.metrics["steps"], "eval_loss": result.metrics["eval_loss"],
               "useful_tokens_per_s": round(result.useful_tokens_per_s, 1), "curve": curve,
               "versions": runtime.package_versions(("torch", "transformers", "peft"))}
    write_result(args.out, payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
