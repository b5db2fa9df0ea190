"""Profile choice and precision rules, with mocked GPUs (no GPU is needed)."""

import json

import pytest

from course_lib import runtime
from course_lib.errors import ConfigError

T4, V100, A100, H100 = (7, 5), (7, 0), (8, 0), (9, 0)


@pytest.mark.parametrize("cap, expected", [(T4, "fp16"), (V100, "fp16"), (A100, "bf16"), (H100, "bf16")])
def test_gpu_precision_follows_compute_capability(cap, expected, monkeypatch):
    monkeypatch.delenv(runtime.PRECISION_ENV, raising=False)
    assert runtime.choose_precision("cuda", cap) == expected


def test_bf16_is_refused_below_capability_8(monkeypatch):
    monkeypatch.delenv(runtime.PRECISION_ENV, raising=False)
    with pytest.raises(ConfigError, match="8.0"):
        runtime.choose_precision("cuda", T4, requested="bf16")


@pytest.mark.parametrize("cpu_bf16, expected", [(True, "bf16"), (False, "fp32")])
def test_cpu_precision(cpu_bf16, expected, monkeypatch):
    monkeypatch.delenv(runtime.PRECISION_ENV, raising=False)
    assert runtime.choose_precision("cpu", None, cpu_bf16=cpu_bf16) == expected


def test_cpu_never_picks_fp16(monkeypatch):
    monkeypatch.delenv(runtime.PRECISION_ENV, raising=False)
    with pytest.raises(ConfigError, match="fp16"):
        runtime.choose_precision("cpu", requested="fp16")


@pytest.mark.parametrize("cap, expected", [(None, "cpu"), (T4, "t4"), (A100, "a100"), (H100, "a100")])
def test_auto_profile_from_hardware(cap, expected, monkeypatch):
    monkeypatch.delenv(runtime.PROFILE_ENV, raising=False)
    assert runtime.resolve_profile("auto", cap).name == expected


def test_env_overrides_auto_but_not_an_explicit_name(monkeypatch):
    monkeypatch.setenv(runtime.PROFILE_ENV, "smoke")
    assert runtime.resolve_profile("auto", A100).name == "smoke"
    assert runtime.resolve_profile("cpu", A100).name == "cpu"


def test_unknown_profile_lists_choices():
    with pytest.raises(ConfigError) as err:
        runtime.get_profile("laptop")
    message = str(err.value)
    assert "'laptop'" in message and all(name in message for name in ["auto", "smoke", "cpu", "t4", "a100"])


def test_setup_in_smoke_is_fp32_and_reproducible(tmp_path):
    import torch

    rt = runtime.setup("smoke", seed=123, quiet=True)
    assert rt.profile.name == "smoke" and rt.precision == "fp32" and rt.device == "cpu"
    first = torch.rand(3)
    runtime.setup("smoke", seed=123, quiet=True)
    assert torch.equal(first, torch.rand(3))
    stamp = json.loads(rt.write_stamp(tmp_path, {"note": "x"}).read_text())
    assert stamp["seed"] == 123 and stamp["profile"]["name"] == "smoke" and stamp["note"] == "x"
    assert stamp["packages"]["torch"] and "hardware" in stamp


def test_importing_course_lib_does_not_import_torch():
    import subprocess
    import sys

    code = "import course_lib, course_lib.cli, course_lib.runtime, sys; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_stamp_records_the_cpu_model_and_its_matmul_flags():
    rt = runtime.setup("smoke", seed=0, quiet=True)
    cpu = rt.stamp()["cpu"]
    assert set(cpu) == {"model", "flags"} and isinstance(cpu["model"], str) and cpu["model"]
    assert set(cpu["flags"]) <= set(runtime.MATMUL_FLAGS)


def test_decoders_use_eager_attention_on_the_cpu_and_sdpa_on_a_gpu():
    assert runtime.attention_implementation("cpu") == "eager"  # measured faster at the course's lengths
    assert runtime.attention_implementation("cuda") == "sdpa"
    rt = runtime.setup("smoke", seed=0, quiet=True)
    assert rt.attention == runtime.attention_implementation(rt.device) and rt.stamp()["attention"] == rt.attention


def test_the_stamp_says_whether_long_training_runs_compile_their_blocks(monkeypatch):
    rt = runtime.setup("smoke", seed=0, quiet=True)
    monkeypatch.setenv(runtime.COMPILE_ENV, "0")
    assert rt.stamp()["compiles_long_training_runs"] is False
    monkeypatch.delenv(runtime.COMPILE_ENV)
    assert rt.stamp()["compiles_long_training_runs"] is runtime.compiled_training_pays(rt.device, rt.precision)


def test_a_cpu_without_bf16_is_told_its_training_runs_slower(monkeypatch):
    monkeypatch.delenv(runtime.PRECISION_ENV, raising=False)
    cpu = runtime.get_profile("cpu")

    def note(profile=cpu, device="cpu", precision="fp32"):
        return runtime.session.slow_precision_note(runtime.Runtime(profile=profile, device=device,
                                                                   precision=precision, seed=0, threads=2,
                                                                   hardware="test CPU"))

    assert "fp32-only time" in note() and 'PROFILE = "smoke"' in note()
    assert note(precision="bf16") is None  # the CPU the budgets were chosen on
    assert note(profile=runtime.get_profile("smoke")) is None  # fp32 by design, on every CPU
    assert note(profile=runtime.get_profile("t4"), device="cuda", precision="fp16") is None
    monkeypatch.setenv(runtime.PRECISION_ENV, "fp32")
    assert note() is None  # asked for, not forced by the hardware
