"""course_lib.fit: the memory/time estimate, its parts, and the estimate against a measured peak on this machine.

The measured peaks run in a fresh Python process each (``measure_peak`` on the CPU reads the process's peak RSS;
memory freed by earlier tests and kept by the allocator would hide part of the peak in the test process).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from course_lib import fit
from course_lib.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


def test_shape_of_smollm2_matches_its_config_and_parameter_count(smol):
    model, _ = smol
    shape = fit.model_shape(model)
    # SmolLM2-135M config: 30 layers, hidden 576, MLP 1536, 9 heads, 3 kv heads, vocab 49152, tied embeddings.
    assert (shape.layers, shape.hidden, shape.intermediate, shape.heads, shape.kv_heads, shape.vocab) == \
        (30, 576, 1536, 9, 3, 49152)
    assert shape.tied
    assert shape.params == sum(p.numel() for p in model.parameters())  # 134,515,008 counted on the model


def test_parts_follow_the_rules():
    full = fit.estimate(method="full", batch_size=2, seq_len=64, precision="fp32", flops_per_s=1e11)
    lora = fit.estimate(method="lora", batch_size=2, seq_len=64, precision="fp32", flops_per_s=1e11)
    assert full.gradients == 4 * full.trainable_params and full.optimizer == 8 * full.trainable_params
    # r x (in + out) per target and layer; by default every linear layer of a block, as course_lib.train trains:
    # q 576->576, k and v 576->192, o 576->576, gate and up 576->1536, down 1536->576.
    assert lora.trainable_params == 30 * 8 * (1152 + 768 + 768 + 1152 + 2112 + 2112 + 2112) == 2_442_240
    qv = fit.estimate(method="lora", batch_size=2, seq_len=64, precision="fp32", flops_per_s=1e11,
                      targets=("q_proj", "v_proj"))
    assert qv.trainable_params == 30 * 8 * ((576 + 576) + (576 + 192))
    assert qv.activations < lora.activations  # each extra target keeps its input for the adapter's gradient
    assert full.weights == lora.weights == 4 * full.trainable_params
    assert lora.total < full.total
    # Activations and logits grow linearly with the tokens in a step.
    big = fit.estimate(method="lora", batch_size=4, seq_len=128, precision="fp32", flops_per_s=1e11)
    assert big.activations == pytest.approx(4 * lora.activations, rel=1e-6)
    assert big.logits == 4 * lora.logits
    # Time: full costs 6·N per token, LoRA ~4·N.
    assert 1.3 < full.flops_per_step / lora.flops_per_step < 1.6
    bf16 = fit.estimate(method="lora", batch_size=2, seq_len=64, precision="bf16", flops_per_s=1e11)
    assert bf16.autocast_copies > 0 and bf16.activations < lora.activations
    inf16 = fit.estimate(method="inference", batch_size=1, seq_len=64, precision="bf16", flops_per_s=1e11)
    assert inf16.weights == 2 * full.trainable_params
    assert "optimizer states" in full.explain() and "peak" in full.explain()


def test_bad_arguments_raise_config_errors():
    with pytest.raises(ConfigError, match="unknown method"):
        fit.estimate(method="qlora", flops_per_s=1.0)
    with pytest.raises(ConfigError, match="at least 1"):
        fit.estimate(batch_size=0, flops_per_s=1.0)
    with pytest.raises(ConfigError, match="unknown LoRA targets"):
        fit.estimate(targets=("qkv",), flops_per_s=1.0)


MEASURE = """
import json, sys
from course_lib import fit
m = fit.measure_peak(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), "fp32", steps=2)
print("RESULT" + json.dumps({"peak": m.peak_bytes, "s": m.seconds_per_step, "kind": m.kind}))
"""


@pytest.mark.parametrize("method", ["lora", "full"])
def test_estimate_within_25_percent_of_measured_peak(method):
    out = subprocess.run([sys.executable, "-c", MEASURE, method, "2", "64"], capture_output=True, text=True,
                         cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    measured = json.loads([ln for ln in out.stdout.splitlines() if ln.startswith("RESULT")][-1][6:])
    est = fit.estimate(method=method, batch_size=2, seq_len=64, precision="fp32", flops_per_s=1e11)
    ratio = est.total / measured["peak"]
    assert 0.75 <= ratio <= 1.25, f"{method}: estimate {est.total / 2**20:.0f} MiB vs measured " \
                                  f"{measured['peak'] / 2**20:.0f} MiB ({measured['kind']})"


def test_cli_fit_prints_the_parts():
    out = subprocess.run([sys.executable, "-m", "course_lib", "fit", "--model", "smollm2-135m-instruct",
                          "--method", "lora", "--batch", "2", "--seq", "64", "--profile", "smoke"],
                         capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "optimizer states" in out.stdout and "peak" in out.stdout
    assert "2,442,240 trainable parameters" in out.stdout  # every linear layer, like `train`
    qv = subprocess.run([sys.executable, "-m", "course_lib", "fit", "--method", "lora", "--batch", "2", "--seq", "64",
                         "--profile", "smoke", "--targets", "q_proj, v_proj"], capture_output=True, text=True,
                        cwd=REPO, timeout=120)
    assert qv.returncode == 0 and "460,800 trainable parameters" in qv.stdout, qv.stderr
    bad = subprocess.run([sys.executable, "-m", "course_lib", "fit", "--method", "lora", "--batch", "0"],
                         capture_output=True, text=True, cwd=REPO, timeout=120)
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and "Traceback" not in bad.stderr
