"""Measure what notebook 00 promises: first load (GGUF -> cache), cached load, memory, generation speed.

    python benchmarks/model_load.py [--json benchmarks/results/model_load.json]

The first load is measured in a fresh subprocess with an empty temporary cache (it converts the GGUF), the cached
load in a second fresh subprocess (so neither benefits from warm Python imports of the other); both times include
loading the tokenizer. Python imports are reported apart, in two parts: torch + transformers, and the model code
transformers imports lazily on the first load in a process (Llama modelling, generation, torch.distributed.tensor:
~3 s on 2 cores, paid once per process whatever the cache holds). Speed is greedy generation of 64 new tokens
after a short chat prompt, best of 3.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, os, sys, time
t0 = time.perf_counter()
import torch, transformers  # noqa: F401  (import time reported apart from the load)
t1 = time.perf_counter()
import psutil
from course_lib import generation, models, runtime
rt = runtime.setup("cpu", seed=0, quiet=True)
t2 = time.perf_counter()
if sys.argv[1] == "speed":  # the cached load: import the model code first, so the load is timed on its own
    from transformers.models.llama import modeling_llama  # noqa: F401
    from transformers import PreTrainedTokenizerFast  # noqa: F401
t2b = time.perf_counter()
model, tok = models.load_causal_lm(runtime=rt, verbose=False)
t3 = time.perf_counter()
result = {"import_s": t1 - t0, "model_code_import_s": t2b - t2, "load_s": t3 - t2b,
          "rss_mib": psutil.Process().memory_info().rss / 2**20,
          "threads": rt.threads}
if sys.argv[1] == "speed":
    best = 0.0
    for _ in range(3):
        reply = generation.chat(model, tok, "Tell me a short story about a lighthouse keeper.", max_new_tokens=64)
        best = max(best, reply.tokens_per_s)
    result["greedy_tokens_per_s"] = best
    result["rss_after_generation_mib"] = psutil.Process().memory_info().rss / 2**20
print("RESULT" + json.dumps(result))
"""


def _child(mode: str, cache: str) -> dict:
    env = {**os.environ, "COURSE_CACHE": cache, "TQDM_DISABLE": "1", "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True, env=env, check=True)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT")][-1]
    return json.loads(line[len("RESULT"):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        first = _child("load", cache)
        first_wall = time.perf_counter() - start
        cached = _child("speed", cache)
    results = {
        "first_load_s": round(first["load_s"], 2), "first_load_wall_s_with_imports": round(first_wall, 1),
        "cached_load_s": round(cached["load_s"], 2), "import_torch_transformers_s": round(cached["import_s"], 2),
        "import_model_code_s": round(cached["model_code_import_s"], 2),
        "rss_after_load_mib": round(cached["rss_mib"]), "rss_after_generation_mib":
            round(cached["rss_after_generation_mib"]), "greedy_tokens_per_s": round(cached["greedy_tokens_per_s"], 1),
        "threads": cached["threads"], "when": time.strftime("%Y-%m-%d %H:%M"),
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    for key, value in results.items():
        print(f"{key:32s} {value}")


if __name__ == "__main__":
    main()
