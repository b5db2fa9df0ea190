"""Chat formatting, response-only labels, padding collator and leak-free packing (course_lib.formatting)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from course_lib import formatting as F
from course_lib.errors import ConfigError

SYSTEM = "You are the support assistant for Brightleaf Notes."
EXAMPLES = [
    {"id": "a", "instruction": "How do I reset my password?",
     "output": "Open Settings, then Account, then choose Reset password."},
    {"id": "b", "instruction": "Is there a mobile app?", "input": "Device: Android phone",
     "output": "Yes, Brightleaf Notes runs on Android and iOS."},
    {"id": "c", "instruction": "Hi", "output": "Hello! How can I help?"},
]


@pytest.fixture(scope="module")
def tok(smol):
    return smol[1]


def test_to_messages_joins_instruction_and_input():
    msgs = F.to_messages(EXAMPLES[1], system_prompt=SYSTEM)
    assert [m["role"] for m in msgs] == ["system", "user", "assistant"]
    assert msgs[1]["content"] == "Is there a mobile app?\n\nDevice: Android phone"
    assert msgs[2]["content"] == EXAMPLES[1]["output"]
    assert [m["role"] for m in F.to_messages(EXAMPLES[0], with_answer=False)] == ["user"]


def test_to_messages_rejects_missing_answer():
    with pytest.raises(ConfigError, match="no 'output'"):
        F.to_messages({"id": "x", "instruction": "hello", "output": "  "})


def test_labels_cover_answer_and_eos_only(tok):
    assert tok.pad_token_id == 0 and tok.eos_token_id == 2  # the premise: pad differs from EOS
    feature = F.tokenize_example(EXAMPLES[0], tok, max_len=128, system_prompt=SYSTEM)
    F.check_feature(feature, tok)
    ids, labels = feature["input_ids"], feature["labels"]
    trained = [i for i, label in enumerate(labels) if label != F.IGNORE_INDEX]
    # The trained span decodes to exactly the answer followed by the end-of-turn token.
    assert tok.decode([ids[i] for i in trained]) == EXAMPLES[0]["output"] + "<|im_end|>"
    assert ids[-1] == tok.eos_token_id and labels[-1] == tok.eos_token_id
    # Everything before it (system, user, the assistant header) is masked.
    prompt = tok.decode(ids[:trained[0]])
    assert prompt.endswith("<|im_start|>assistant\n") and "How do I reset my password?" in prompt
    assert feature["attention_mask"] == [1] * len(ids)


def test_default_system_prompt_comes_from_template(tok):
    feature = F.tokenize_example(EXAMPLES[2], tok, max_len=128)
    assert "SmolLM" in tok.decode(feature["input_ids"])


def test_truncation_cuts_the_answer_never_the_whole_answer(tok):
    full = F.tokenize_example(EXAMPLES[1], tok, max_len=256, system_prompt=SYSTEM)
    n_prompt = full["labels"].count(F.IGNORE_INDEX)
    cut = F.tokenize_example(EXAMPLES[1], tok, max_len=n_prompt + 3, system_prompt=SYSTEM)
    assert len(cut["input_ids"]) == n_prompt + 3
    assert sum(label != F.IGNORE_INDEX for label in cut["labels"]) == 3
    assert cut["input_ids"] == full["input_ids"][:n_prompt + 3]
    F.check_feature(cut, tok)
    with pytest.raises(F.ExampleTooLong, match="max_len"):
        F.tokenize_example(EXAMPLES[1], tok, max_len=n_prompt, system_prompt=SYSTEM)


def test_tokenize_dataset_drops_and_reports(tok):
    lengths = [F.tokenize_example(e, tok, 256, SYSTEM)["labels"].count(F.IGNORE_INDEX) for e in EXAMPLES]
    limit = sorted(lengths)[1] + 1  # room for an answer token only in the two shortest prompts
    features, report = F.tokenize_dataset(EXAMPLES, tok, limit, system_prompt=SYSTEM)
    assert report.rows == 3 and report.kept == 2 == len(features)
    assert report.dropped == [EXAMPLES[lengths.index(max(lengths))]["id"]]
    assert report.truncated == 2
    assert all(sum(label != F.IGNORE_INDEX for label in f["labels"]) >= 1 for f in features)
    assert "2/3 examples kept" in str(report)
    with pytest.raises(ConfigError, match="all 3 examples"):
        F.tokenize_dataset(EXAMPLES, tok, min(lengths), system_prompt=SYSTEM)


@pytest.mark.parametrize("room", ["all", "two shortest"])
def test_tokenize_to_dataset_matches_the_plain_loop(tok, room):
    """The datasets idiom train.train uses gives the loop's features, in order, and the same report."""
    lengths = [F.tokenize_example(e, tok, 256, SYSTEM)["labels"].count(F.IGNORE_INDEX) for e in EXAMPLES]
    limit = 256 if room == "all" else sorted(lengths)[1] + 1
    features, report = F.tokenize_dataset(EXAMPLES, tok, limit, system_prompt=SYSTEM)
    dataset, dataset_report = F.tokenize_to_dataset(EXAMPLES, tok, limit, system_prompt=SYSTEM)
    assert dataset.column_names == ["input_ids", "attention_mask", "labels"]
    assert dataset.to_list() == features
    assert vars(dataset_report) == vars(report)
    with pytest.raises(ConfigError, match="all 3 examples"):
        F.tokenize_to_dataset(EXAMPLES, tok, min(lengths), system_prompt=SYSTEM)


def test_check_feature_catches_masked_eos(tok):
    feature = F.tokenize_example(EXAMPLES[0], tok, max_len=128, system_prompt=SYSTEM)
    broken = {**feature, "labels": feature["labels"][:-1] + [F.IGNORE_INDEX]}
    with pytest.raises(AssertionError, match="EOS"):
        F.check_feature(broken, tok)
    with pytest.raises(AssertionError, match="no token is trained"):
        F.check_feature({**feature, "labels": [F.IGNORE_INDEX] * len(feature["labels"])}, tok)


def test_collator_pads_dynamically(tok):
    features = [F.tokenize_example(e, tok, 128, SYSTEM) for e in EXAMPLES]
    batch = F.CausalCollator(tok.pad_token_id)(features)
    width = max(len(f["input_ids"]) for f in features)
    assert batch["input_ids"].shape == batch["labels"].shape == batch["attention_mask"].shape == (3, width)
    for row, f in enumerate(features):
        n = len(f["input_ids"])
        assert batch["input_ids"][row, :n].tolist() == f["input_ids"]
        assert batch["input_ids"][row, n:].eq(0).all() and batch["labels"][row, n:].eq(-100).all()
        assert batch["attention_mask"][row].sum() == n
        assert batch["labels"][row, n - 1] == tok.eos_token_id  # the EOS survives padding
    assert F.count_tokens(batch, tok.pad_token_id) == (sum(len(f["input_ids"]) for f in features), 3 * width)
    padded = F.CausalCollator(tok.pad_token_id, pad_to_multiple_of=16)(features)
    assert padded["input_ids"].shape[1] % 16 == 0


def test_pack_examples_layout(tok):
    features = [F.tokenize_example(e, tok, 128, SYSTEM) for e in EXAMPLES * 3]
    max_len = 100
    rows = F.pack_examples(features, max_len)
    assert all(len(r["input_ids"]) <= max_len for r in rows)
    assert sum(len(r["seq_lens"]) for r in rows) == len(features)
    assert sum(len(r["input_ids"]) for r in rows) == sum(len(f["input_ids"]) for f in features)
    assert len(rows) < len(features)
    for r in rows:
        start = 0
        for n in r["seq_lens"]:
            assert r["position_ids"][start:start + n] == list(range(n))
            assert r["labels"][start] == F.IGNORE_INDEX
            start += n
    batch = F.PackedCollator(tok.pad_token_id)(rows)
    assert "attention_mask" not in batch and batch["use_cache"] is False
    short = min(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]))
    n = len(rows[short]["input_ids"])
    if n < batch["input_ids"].shape[1]:  # the padding tail is its own segment, positions from 0, not trained
        assert batch["position_ids"][short, n:].tolist() == list(range(batch["input_ids"].shape[1] - n))
        assert batch["labels"][short, n:].eq(-100).all()
    eff = F.packing_efficiency(features, rows, max_len)
    assert 0 < eff["packed_fill"] <= 1
    with pytest.raises(ConfigError, match="longer than max_len"):
        F.pack_examples(features, 10)


@pytest.mark.parametrize("impl", ["sdpa", "eager"])
def test_packing_does_not_leak_attention(smol, impl):
    """Per-token losses of a packed row equal those of each example alone (the tolerance the issue asks for)."""
    model, tok = smol
    features = [F.tokenize_example(e, tok, 128, SYSTEM) for e in EXAMPLES]
    old = model.config._attn_implementation
    model.set_attn_implementation(impl)
    try:
        assert F.packed_vs_separate(model, features, tok.pad_token_id) < 1e-4
        assert F.verify_packing(model, features, tok.pad_token_id) < 1e-4
    finally:
        model.set_attn_implementation(old)


def test_packing_check_detects_leakage(smol, monkeypatch):
    """Negative control: the same check fails when the collator lets the model build a KV cache (which switches
    transformers' packed-sequence detection off), so the test above can fail."""
    model, tok = smol
    features = [F.tokenize_example(e, tok, 128, SYSTEM) for e in EXAMPLES]
    original = F.PackedCollator.__call__

    def leaky(self, rows):
        batch = original(self, rows)
        batch.pop("use_cache")
        return batch

    monkeypatch.setattr(F.PackedCollator, "__call__", leaky)
    assert F.packed_vs_separate(model, features, tok.pad_token_id) > 0.1
    with pytest.raises(ConfigError, match="leaks attention"):
        F.verify_packing(model, features, tok.pad_token_id)


def test_show_mask_html_and_text(tok):
    features = [F.tokenize_example(e, tok, 128, SYSTEM) for e in EXAMPLES[:2]]
    view = F.show_mask(tok, features)
    text = str(view)
    assert "[[" + EXAMPLES[0]["output"] + "<|im_end|>]]" in text
    assert text.count("[[") == 2
    html = view._repr_html_()
    assert "#b7e4c7" in html and "#e9ecef" in html and "password" in html
    batch_view = F.show_mask(tok, F.CausalCollator(tok.pad_token_id)(features))
    assert "·" in str(batch_view)  # the shorter row is padded


def test_import_is_light():
    code = "import sys, course_lib.formatting; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_few_shot_messages_puts_solved_examples_first():
    msgs = F.few_shot_messages(EXAMPLES[2], EXAMPLES[:2], system_prompt=SYSTEM)
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert msgs[2]["content"] == EXAMPLES[0]["output"] and msgs[-1]["content"] == "Hi"
    assert F.few_shot_messages(EXAMPLES[2], [])[0]["role"] == "user"


def test_tokenize_columns_under_dataset_map_gives_tokenize_datasets_features(smol):
    from datasets import Dataset

    from course_lib import formatting as fmt

    _, tokenizer = smol
    records = [{"instruction": "How long does shipping take?", "input": "", "output": "Two business days."},
               {"instruction": "word " * 120, "input": "", "output": "Too long to keep."},
               {"instruction": "Refunds?", "input": "Order 12", "output": "Within 30 days."}]
    features, report = fmt.tokenize_dataset(records, tokenizer, max_len=96)
    ds = Dataset.from_list(records)
    mapped = ds.map(fmt.tokenize_columns, batched=True, batch_size=2, remove_columns=ds.column_names,
                    fn_kwargs={"tokenizer": tokenizer, "max_len": 96}, load_from_cache_file=False)
    assert report.kept == len(mapped) == 2  # the long row is left out in both paths
    assert mapped.column_names == ["input_ids", "attention_mask", "labels"]
    assert [dict(row) for row in mapped] == features
