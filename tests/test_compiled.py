"""Decoder blocks compiled for the training steps (``train.CompiledBlocks``): on only inside a step, the same losses
as the eager blocks, and the machines and runs that get them (``runtime.compiled_training_pays``, ``train.run``)."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest

from course_lib import runtime, train
from course_lib.paths import data_path
from course_lib.runtime.hardware import CPP_COMPILERS
from course_lib.train.run import COMPILE_MIN_STEPS, _compiles_blocks, _planned_steps

needs_compiler = pytest.mark.skipif(not any(shutil.which(c) for c in CPP_COMPILERS),
                                    reason="torch.compile's CPU backend needs a C++ compiler")


def test_the_compiled_calls_are_in_place_only_inside_active(tiny_llama):
    config = train.TrainConfig(lora_r=4, lora_alpha=8, lora_dropout=0.0, lora_block_share=1.0)
    model = train.prepare_model(tiny_llama(64, layers=3), config, seed=0)
    blocks = train.CompiledBlocks(model)
    layers = model.get_base_model().model.layers
    assert len(blocks) == 3 and train.decoder_blocks(model) == list(layers)
    assert all(layer._compiled_call_impl is None for layer in layers)  # nothing is compiled on construction
    with blocks.active():
        assert all(layer._compiled_call_impl is not None for layer in layers)
    assert all(layer._compiled_call_impl is None for layer in layers)
    with pytest.raises(RuntimeError, match="stop"), blocks.active():
        raise RuntimeError("stop")
    assert all(layer._compiled_call_impl is None for layer in layers)  # eager again after an error


def test_the_machines_that_compile(monkeypatch):
    monkeypatch.delenv(runtime.COMPILE_ENV, raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/g++")
    amx = ["avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"]
    assert runtime.compiled_training_pays("cpu", "bf16", amx)
    assert not runtime.compiled_training_pays("cpu", "bf16", amx[:3])  # AVX512-BF16 without AMX: measured, did not pay
    assert not runtime.compiled_training_pays("cpu", "fp32", ["avx2"])
    assert not runtime.compiled_training_pays("cuda", "bf16", [])
    monkeypatch.setenv(runtime.COMPILE_ENV, "1")
    assert runtime.compiled_training_pays("cpu", "fp32", ["avx2"])
    monkeypatch.setenv(runtime.COMPILE_ENV, "0")
    assert not runtime.compiled_training_pays("cpu", "bf16", amx)
    monkeypatch.delenv(runtime.COMPILE_ENV)
    monkeypatch.setattr(shutil, "which", lambda name: None)  # no C++ compiler: inductor cannot build kernels
    assert not runtime.compiled_training_pays("cpu", "bf16", amx)


def test_only_runs_long_enough_to_repay_the_compile_use_it(monkeypatch, smoke_runtime):
    class Args:
        max_steps, per_device_train_batch_size, gradient_accumulation_steps, world_size = -1, 8, 1, 1
        num_train_epochs = 2

    class Trainer:
        args = Args()
        train_dataset = list(range(201))  # 26 steps an epoch

    import course_lib.runtime as runtime_mod

    monkeypatch.setattr(runtime_mod, "compiled_training_pays", lambda device, precision: True)
    assert _planned_steps(Trainer()) == 52 >= COMPILE_MIN_STEPS
    assert _compiles_blocks(train.TrainConfig(), smoke_runtime, Trainer())
    Args.num_train_epochs = 1
    assert _planned_steps(Trainer()) == 26 and not _compiles_blocks(train.TrainConfig(), smoke_runtime, Trainer())
    assert _compiles_blocks(train.TrainConfig(compile_blocks=True), smoke_runtime, Trainer())  # asked for
    Args.max_steps = 80
    assert _planned_steps(Trainer()) == 80
    assert not _compiles_blocks(train.TrainConfig(compile_blocks=False), smoke_runtime, Trainer())
    Args.world_size = 2  # under DDP/FSDP the forward goes through the wrapper
    assert not _compiles_blocks(train.TrainConfig(compile_blocks=True), smoke_runtime, Trainer())
    monkeypatch.setattr(runtime_mod, "compiled_training_pays", lambda device, precision: False)
    Args.world_size = 1
    assert not _compiles_blocks(train.TrainConfig(), smoke_runtime, Trainer())


@needs_compiler
@pytest.mark.slow
def test_a_compiled_run_trains_as_the_eager_one_and_returns_eager_blocks(smol, smoke_runtime, tmp_path, tiny_llama,
                                                                          short_run_config):
    """Two short runs of ``train.train`` under bf16 autocast with the frozen weights in bf16, as on an AMX CPU: with
    compiled blocks the training steps run compiled code, evaluation runs the eager blocks, the losses agree, and
    the returned model's blocks are eager."""
    import torch

    _, tokenizer = smol
    lines = data_path("support", "support_clean.jsonl").read_text(encoding="utf-8").splitlines()[:12]
    records = [json.loads(line) for line in lines]
    bf16 = dataclasses.replace(smoke_runtime, precision="bf16")
    runs = {}
    for compiled in (False, True):
        model = tiny_llama(len(tokenizer))
        config = short_run_config(bf16_frozen_weights=True, compile_blocks=compiled)
        seen = set()  # whether the first block ran as compiled code, per forward pass

        def record(module, args):
            seen.add(torch.compiler.is_compiling())

        model.model.layers[0].register_forward_pre_hook(record)
        result = train.train(records, records[:4], config=config, runtime=bf16, output_dir=tmp_path / str(compiled),
                             model=model, tokenizer=tokenizer)
        assert seen == ({True, False} if compiled else {False})  # compiled training steps, eager evaluation
        assert result.metrics["compiled_blocks"] is compiled
        runs[compiled] = [e["loss"] for e in result.log_history if "loss" in e] + [result.metrics["eval_loss"]]
        assert all(layer._compiled_call_impl is None for layer in result.model.get_base_model().model.layers)
    assert len(runs[True]) == 4
    # Fused kernels round in another order than the eager ops: close, not equal.
    assert runs[True] == pytest.approx(runs[False], rel=2e-2)


def test_a_failed_compile_leaves_the_run_to_eager_blocks(smol, smoke_runtime, tmp_path, monkeypatch, capsys,
                                                         tiny_llama, short_run_config):
    """No working C++ compiler (or an operation inductor does not know): one line says so, the run trains on."""
    import torch
    import torch._dynamo.exc

    def compile_that_fails(function, **options):
        def call(*args, **kwargs):
            raise torch._dynamo.exc.TorchDynamoException("C++ compile error: g++ not found")
        return call

    monkeypatch.setattr(torch, "compile", compile_that_fails)
    _, tokenizer = smol
    lines = data_path("support", "support_clean.jsonl").read_text(encoding="utf-8").splitlines()[:8]
    records = [json.loads(line) for line in lines]
    config = short_run_config(max_steps=2, compile_blocks=True)
    result = train.train(records, records[:4], config=config, runtime=smoke_runtime, output_dir=tmp_path,
                         model=tiny_llama(len(tokenizer)), tokenizer=tokenizer)
    assert result.metrics["steps"] == 2
    assert result.metrics["compiled_blocks"] is False  # the run says its steps ended eager
    out = capsys.readouterr().out
    assert out.count("Compiling the decoder blocks failed (C++ compile error: g++ not found)") == 1
    assert "COURSE_COMPILE=0" in out
