"""course_lib.fit: the memory/time estimate, its parts, the estimate against a measured peak on this machine, and
the memory per device of the DDP and FSDP layouts.

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


def test_layout_memory_arithmetic():
    from transformers import LlamaConfig

    # A Llama-3-8B-shaped decoder (shape only, nothing loaded): where one GPU stops being enough.
    shape = fit.shape_from_config(LlamaConfig(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                                              num_attention_heads=32, num_key_value_heads=8, vocab_size=128256,
                                              tie_word_embeddings=False))
    kw = dict(model=shape, method="full", profile="a100", batch_size=8, seq_len=1024)
    single = fit.layout_memory("single", **kw)
    ddp = fit.layout_memory("ddp", 4, **kw)
    fsdp = fit.layout_memory("fsdp", 4, **kw)
    assert ddp.plan.per_device_batch == 2 and ddp.plan.global_batch == single.plan.global_batch == 8
    # DDP replicates weights and optimizer states, adds a bucket copy of the gradients, and splits activations.
    assert ddp.parts["weights"] == single.parts["weights"] and ddp.parts["optimizer"] == single.parts["optimizer"]
    assert ddp.parts["ddp_buckets"] == single.parts["gradients"]
    assert abs(ddp.parts["activations"] * 4 - single.parts["activations"]) <= 4 * 2**20
    # FSDP divides the model state by 4 and pays for the gathered blocks instead.
    for name in ("weights", "gradients", "optimizer"):
        assert fsdp.parts[name] == -(-single.parts[name] // 4)
    assert 0 < fsdp.parts["gathered_layers"] < single.parts["weights"] / 4
    # At this size the optimiser step is the peak, and its temporaries belong to each rank's shard too.
    assert fit.estimate(shape, "full", 2, 1024, profile="a100", flops_per_s=1.0).peak_moment == "optimiser step"
    assert fsdp.parts["workspace"] == -(-ddp.parts["workspace"] // 4)
    assert fsdp.total < ddp.total < single.total
    assert "fsdp x4" in fsdp.describe()
    with pytest.raises(ConfigError, match="unknown layout"):
        fit.layout_memory("zero3", 2, **kw)
    with pytest.raises(ConfigError, match="cannot be split evenly"):
        fit.layout_memory("ddp", 3, **kw)
    # Left out, batch and sequence length come from the profile (a100: 32 x 512 on one device).
    default = fit.layout_memory("single", model=shape, method="full", profile="a100")
    assert default.plan.per_device_batch == 32
    assert default.parts["activations"] > fit.layout_memory("single", **{**kw, "batch_size": 32,
                                                                          "seq_len": 256}).parts["activations"]
