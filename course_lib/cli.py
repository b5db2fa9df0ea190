"""``python -m course_lib <command>``: the course's tools for a terminal or a scheduled job.

Each command's arguments are declared here; its work lives in the module of its concern. The command's handler
is a small function here that imports that module inside it and calls it (``_check_data`` calls
:func:`course_lib.data.run_check_data`): the module is imported only when the command runs, so ``--help`` and the
light commands start fast, and a renamed function fails loudly (``tests/test_cli.py`` resolves every handler).
A command that joins several layers (``evaluate``: evaluation's harness on train's saved models) has its handler
here, at the top. Any :class:`CourseError` is printed as one line, ``error: ...``, and the exit status is 2;
nothing half-written is left behind by the handlers.
Taught beside the notebooks that use each command: 01 (`check-data`), 02 (`fit`), 03 (`train`), 04 (`evaluate`),
07 (`retrain`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import ConfigError, CourseError
from .paths import RunDir
from .runtime import DEFAULT_DECODER


_DATA_FORMATS = "CSV, TSV, JSON, JSONL or Parquet"


def _add_map_option(p, fields: str = "instruction, input, output") -> None:
    """``--map FIELD=COLUMN`` (repeatable): the same option, parsed by :func:`course_lib.data.parse_mapping`, on
    every command that reads data, so a file with other column names needs no renaming (notebook 01)."""
    p.add_argument("--map", action="append", default=[], metavar="FIELD=COLUMN",
                   help=f"map a course field ({fields}) to a column of your file, e.g. --map output=agent_reply "
                        "(repeatable; default: common column names are detected)")


def _add_info(sub) -> None:
    p = sub.add_parser("info", help="show the profile table, the chosen profile and which models are installed")
    p.add_argument("--profile", default="auto", help="profile to resolve (default: auto)")
    p.set_defaults(func=run_info)


def _add_prepare_models(sub) -> None:
    p = sub.add_parser("prepare-models", help="convert the packaged GGUF model into the cache once (~30 s)")
    p.set_defaults(func=run_prepare_models)


def _add_run_course(sub) -> None:
    p = sub.add_parser("run-course", help="execute every notebook headless into runs/<timestamp>/ with a summary")
    p.add_argument("--profile", default="auto", help="profile for every notebook (default: auto)")
    p.add_argument("--only", nargs="*", help="run only notebooks whose name contains one of these strings")
    p.add_argument("--keep", action="store_true",
                   help="when every notebook passes, keep the summary and the claims in docs/ (make test-claims)")
    p.set_defaults(func=run_run_course)


def run_run_course(args) -> int:
    from . import runner, runtime

    if args.profile != "auto":
        runtime.get_profile(args.profile)  # a typo fails here, before any notebook starts
    return runner.run_course(args.profile, only=args.only, keep=args.keep)


def run_info(args) -> int:
    """Print the profile table and the availability of each registry model (no torch import)."""
    from . import models, runtime

    chosen = runtime.resolve_profile(args.profile) if args.profile != "auto" else None
    for name, prof in runtime.PROFILES.items():
        mark = "*" if chosen and chosen.name == name else " "
        print(f"{mark} {name:6s} seq<={prof.max_seq_len:<4d} batch={prof.batch_size:<3d} "
              f"steps={prof.max_steps if prof.max_steps > 0 else 'epochs=' + str(prof.epochs):<9} {prof.description}")
    for name, spec in models.REGISTRY.items():
        try:
            where = models.package_folder(spec)
            state = f"installed at {where}"
        except CourseError as err:
            state = f"missing ({err})"
        print(f"model {name}: {state}")
    return 0


def run_prepare_models(args) -> int:
    from . import models

    for name, spec in models.REGISTRY.items():
        if spec.gguf_file:
            path = models.cached_checkpoint(name)
            print(f"{name}: cache ready at {path}")
    return 0


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="fine-tune the profile's decoder (LoRA or full) on an instruction data file")
    p.add_argument("--data", required=True, help=f"training records ({_DATA_FORMATS}) with instruction, input?, "
                   "output (other column names: --map)")
    p.add_argument("--eval-data", help="held-out records for the eval loss, same columns as --data (default: hold "
                   "out part of --data)")
    _add_map_option(p)
    p.add_argument("--method", default="lora", choices=["lora", "full"], help="LoRA adapters or all weights")
    p.add_argument("--profile", default="auto", help="budget profile: auto, smoke, cpu, t4, a100 (default: auto)")
    p.add_argument("--out", required=True, help="output folder (checkpoints/, adapter/ or model/, metrics.json)")
    p.add_argument("--resume", action="store_true", help="continue from the newest complete checkpoint in --out")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--system-prompt", help="system message for every example (default: the chat template's)")
    p.add_argument("--packing", action="store_true", help="pack several examples per row (no cross-attention)")
    p.add_argument("--max-steps", type=int, help="override the profile's optimiser-step cap")
    p.add_argument("--save-steps", type=int, help="override the profile's checkpoint interval")
    p.add_argument("--eval-steps", type=int, help="override the profile's evaluation interval")
    p.add_argument("--logging-steps", type=int, help="override the profile's logging interval")
    p.add_argument("--lora-dropout", type=float, help="override the profile's LoRA dropout (0 = deterministic)")
    p.add_argument("--block-share", dest="lora_block_share", type=float, help="share of the blocks, from the top, that get LoRA adapters "
                   "(1 = every block; default: the profile's)")
    p.add_argument("--quiet", action="store_true", help="no per-log progress lines")
    p.set_defaults(func=_train)


def _train(args) -> int:
    """``train``: :func:`course_lib.train.run_train`."""
    from . import train

    return train.run_train(args)


def _add_retrain(sub) -> None:
    p = sub.add_parser("retrain", help="retrain a LoRA run on new data (+ replay), gate it, record a new version")
    p.add_argument("--base", required=True, help="run to start from: a train/retrain output folder, a version "
                   "name in --out (e.g. v003), or 'production'")
    p.add_argument("--new", required=True, help=f"new instruction records ({_DATA_FORMATS}; clean them with "
                   "check-data)")
    p.add_argument("--replay", type=float, default=0.0, help="old examples added per new one (0 = none, 0.5 = half "
                   "as many; default 0)")
    p.add_argument("--out", required=True, help="versioned runs folder: registry.json + v001/, v002/, ...")
    p.add_argument("--old", nargs="+", metavar="PATH", help="data the base was trained on, oldest file first (default: "
                   "every file recorded in the base's run.json: the original data and each earlier new batch)")
    p.add_argument("--max-forgetting", type=float, default=0.05, help="largest rise of the old-test loss (nats per "
                   "answer token) the gate accepts (default 0.05)")
    p.add_argument("--profile", default="auto", help="budget profile: auto, smoke, cpu, t4, a100 (default: auto)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--max-steps", type=int, help="optimiser steps of the retraining (default: the profile's "
                   "retrain_steps)")
    _add_map_option(p, "instruction, input, output; applied to --new and every old file, which must share the "
                       "column names")
    p.add_argument("--known-pii", metavar="FILE", help="values that must not reach the training set: a raw export's "
                   "manifest (JSON with pii_values) or a text file, one value a line")
    p.add_argument("--quiet", action="store_true", help="no per-log progress lines")
    p.set_defaults(func=_retrain)


def _retrain(args) -> int:
    """``retrain``: :func:`course_lib.continual.run_retrain`."""
    from . import continual

    return continual.run_retrain(args)


# Each entry adds one sub-command. Commands of later lessons add their own ``_add_*`` function here.
def _add_check_data(sub) -> None:
    p = sub.add_parser("check-data", help="quality report of a data file (rows kept/dropped, duplicates, PII, "
                                          "token lengths, labels); writes nothing")
    p.add_argument("path", help="a .csv, .tsv, .json, .jsonl or .parquet file")
    p.add_argument("--task", required=True, choices=["instruction", "classification", "completion"],
                   help="which course fields to map: instruction/input/output, text/label, or text")
    _add_map_option(p, "instruction, input, output, text or label, by --task")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.set_defaults(func=_check_data)


def _check_data(args) -> int:
    """``check-data``: :func:`course_lib.data.run_check_data`."""
    from . import data

    return data.run_check_data(args)


def _add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="score saved models (and zero-shot) on a held-out instruction file: "
                                        "ROUGE-L, BLEU, chrF, exact and keyword match")
    p.add_argument("--data", required=True, help=f"test records ({_DATA_FORMATS}) with instruction, input?, "
                   "output, keywords? (a list, or words separated by ';'; other column names: --map)")
    _add_map_option(p)
    p.add_argument("--model", action="append", metavar="DIR", help="an 'adapter' or 'model' folder written by "
                   "train (repeatable); none = zero-shot only")
    p.add_argument("--zero-shot", action="store_true", help="also score the base model as shipped")
    p.add_argument("--out", required=True, help="folder for results.json, results.csv and comparison.csv")
    p.add_argument("--profile", default="auto", help="budget profile: auto, smoke, cpu, t4, a100 (default: auto)")
    p.add_argument("--limit", type=int, help="score the first N records (default: the profile's eval_examples)")
    p.add_argument("--max-new-tokens", type=int, help="generation budget per answer (default: the profile's)")
    p.add_argument("--system-prompt", help="system message, the same one the models were trained with")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_evaluate)


def _model_label(folder: Path) -> str:
    """``run/adapter`` style name for a saved model folder (the last folder alone is often just 'adapter')."""
    folder = Path(folder).resolve()
    return f"{folder.parent.name}/{folder.name}" if folder.name in (RunDir.ADAPTER, RunDir.MODEL) else folder.name


def run_evaluate(args) -> int:
    """Handler of ``python -m course_lib evaluate``: score saved models (and zero-shot) on one test file.

    Writes ``results.json`` (every metric and every answer), ``results.csv`` (the comparison table) into
    ``--out`` and prints the table. Bad input fails before any model is loaded. The handler lives here, not in
    :mod:`course_lib.evaluation`: it joins the evaluation harness with :mod:`course_lib.train`'s loaders, and
    evaluation sits in a layer below train (docs/architecture.md).
    """
    from . import data, formatting, models
    from . import runtime as runtime_mod
    from .evaluation import comparison_table, evaluate_generation, save_results
    from .files import write_text_atomic
    from .train import load_trained, read_records

    if args.profile != "auto":
        runtime_mod.get_profile(args.profile)
    records = read_records(args.data, data.parse_mapping(args.map))  # a bad file fails here, before torch
    folders = [Path(m) for m in (args.model or [])]
    for folder in folders:
        if not ((folder / RunDir.ADAPTER_CONFIG_FILE).exists() or (folder / RunDir.MODEL_CONFIG_FILE).exists()):
            raise ConfigError(f"{folder} is not a saved model — pass the 'adapter' or 'model' folder that "
                              "`python -m course_lib train` wrote")
    rt = runtime_mod.setup(args.profile, args.seed)
    limit = args.limit if args.limit is not None else rt.profile.eval_examples
    records = records[:limit] if limit else records
    prompts = [formatting.to_messages(r, args.system_prompt, with_answer=False) for r in records]
    references = [r["output"] for r in records]
    keywords = [r.get("keywords") or [] for r in records] if any("keywords" in r for r in records) else None
    candidates = [("zero-shot", None)] if args.zero_shot or not folders else []
    candidates += [(_model_label(f), f) for f in folders]
    results = []
    for name, folder in candidates:
        if folder is None:
            model, tokenizer = models.load_causal_lm(rt.profile.decoder, runtime=rt, verbose=False)
        else:
            model, tokenizer = load_trained(folder, runtime=rt)
        with rt.autocast():
            results.append(evaluate_generation(
                model, tokenizer, prompts, references, keywords, name=name,
                max_new_tokens=args.max_new_tokens or rt.profile.max_new_tokens,
                batch_size=rt.profile.inference_batch_size,
                progress=not args.quiet))
        del model
    table = comparison_table(results)
    written = save_results(results, args.out, stem="results")
    write_text_atomic(Path(args.out) / "comparison.csv", table.to_csv())
    with_text = table.drop(columns=[c for c in ("seconds",) if c in table])
    print(with_text.to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"saved: {written['json']}  {Path(args.out) / 'comparison.csv'}")
    return 0


def _add_fit(sub) -> None:
    p = sub.add_parser("fit", help="estimate peak memory and time per step before training (optionally measure)")
    p.add_argument("--model", default=DEFAULT_DECODER, help=f"registry name (default: {DEFAULT_DECODER})")
    p.add_argument("--method", default="lora", choices=["lora", "full", "inference"], help="what to run")
    p.add_argument("--batch", type=int, default=8, help="sequences per step (default: 8)")
    p.add_argument("--seq", type=int, default=128, help="tokens per sequence, padded length (default: 128)")
    p.add_argument("--profile", default="cpu", help="profile deciding precision/device (default: cpu)")
    p.add_argument("--precision", choices=["fp32", "bf16", "fp16"], help="override the profile's precision")
    p.add_argument("--lora-r", type=int, default=8, help="LoRA rank (default: 8)")
    p.add_argument("--targets", help="LoRA target modules, comma-separated, e.g. q_proj,v_proj (default: every "
                   "linear layer of a block, as `train` uses)")
    p.add_argument("--measure", action="store_true", help="also train a few real steps here and measure the peak")
    p.set_defaults(func=_fit)


def _fit(args) -> int:
    """``fit``: :func:`course_lib.fit.run_fit`."""
    from . import fit

    return fit.run_fit(args)


_COMMANDS = [_add_fit, _add_check_data, _add_info, _add_prepare_models, _add_run_course, _add_train, _add_retrain,
             _add_evaluate]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m course_lib", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in _COMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CourseError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
