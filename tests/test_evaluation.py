"""Tests of course_lib.evaluation. Golden values are computed by hand; each comment shows the arithmetic."""

from __future__ import annotations

import json
import math

import pytest

from course_lib import evaluation as ev
from course_lib.errors import ConfigError

# Three classes, six examples. Hand count (gold -> predicted): a->a, a->a, a->b, b->b, b->c, c->c.
Y_TRUE = ["a", "a", "a", "b", "b", "c"]
Y_PRED = ["a", "a", "b", "b", "c", "c"]


def test_classification_metrics_golden():
    m = ev.classification_metrics(Y_TRUE, Y_PRED)
    # accuracy: 4 right of 6.
    assert m["accuracy"] == pytest.approx(4 / 6)
    # a: TP 2, FP 0, FN 1 -> P 1, R 2/3, F1 2*(2/3)/(5/3) = 0.8
    # b: TP 1, FP 1, FN 1 -> P 1/2, R 1/2, F1 1/2
    # c: TP 1, FP 1, FN 0 -> P 1/2, R 1, F1 2/3
    assert m["per_class"]["a"] == pytest.approx({"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3})
    assert m["per_class"]["b"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert m["per_class"]["c"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1})
    # macro = unweighted mean over classes: P (1+.5+.5)/3, R (2/3+1/2+1)/3 = 13/18, F1 (0.8+0.5+2/3)/3 = 59/90
    assert m["precision_macro"] == pytest.approx(2 / 3)
    assert m["recall_macro"] == pytest.approx(13 / 18)
    assert m["f1_macro"] == pytest.approx(59 / 90)
    assert m["n"] == 6


def test_macro_f1_punishes_ignoring_minority_class():
    # Always predicting the majority: accuracy 0.8, but class "neg" gets F1 0 (no TP; zero_division=0).
    # pos: P 8/10, R 1, F1 = 2*0.8/1.8 = 8/9; macro F1 = (8/9 + 0)/2 = 4/9.
    m = ev.classification_metrics(["pos"] * 8 + ["neg"] * 2, ["pos"] * 10, labels=["neg", "pos"])
    assert m["accuracy"] == pytest.approx(0.8)
    assert m["f1_macro"] == pytest.approx(4 / 9)


def test_confusion_table_and_per_class_errors():
    table = ev.confusion_table(Y_TRUE, Y_PRED, labels=["a", "b", "c"])
    # rows = gold, columns = predicted, counted from the six pairs above.
    assert table.values.tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert list(table.index) == ["a", "b", "c"]
    normalised = ev.confusion_table(Y_TRUE, Y_PRED, labels=["a", "b", "c"], normalize="true")
    assert normalised.loc["a", "a"] == pytest.approx(2 / 3)
    errors = ev.per_class_errors(Y_TRUE, Y_PRED, labels=["a", "b", "c"])
    # b: 1 error of 2 (-> c); a: 1 of 3 (-> b); c: 0 of 1. Sorted worst first.
    assert list(errors.index) == ["b", "a", "c"]
    assert errors.loc["b", "error_rate"] == pytest.approx(0.5)
    assert errors.loc["b", "most_confused_with"] == "c"
    assert errors.loc["a", "most_confused_with"] == "b"
    assert errors.loc["c", "errors"] == 0


def test_misclassified_sorted_by_confidence():
    probs = [[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.7, 0.3]]
    frame = ev.misclassified(["w", "x", "y", "z"], [0, 0, 1, 1], [0, 1, 1, 0], probs)
    # errors: x (confidence 0.6) and z (0.7): most confident mistake first.
    assert list(frame["text"]) == ["z", "x"]
    assert frame["confidence"].tolist() == pytest.approx([0.7, 0.6])


def test_length_mismatch_is_a_clear_error():
    with pytest.raises(ConfigError, match="gold labels has 2 items but predictions has 1"):
        ev.classification_metrics([1, 0], [1])
    with pytest.raises(ConfigError, match="predictions has 1 items but references has 2"):
        ev.rouge_l(["a"], ["a", "b"])


def test_exact_and_keyword_match():
    assert ev.exact_match("  Hello   World ", "hello world") == 1.0
    assert ev.exact_match("hello world.", "hello world") == 0.0  # punctuation is kept on purpose
    answer = "Click the Reset\n Link; it works within 30 days."
    # "reset link" (after whitespace collapse) and "30 days" present, "support team" absent -> 2/3.
    assert ev.keyword_match(answer, ["reset link", "30 DAYS", "support team"]) == pytest.approx(2 / 3)
    assert ev.keyword_match(answer, "reset link;30 days") == 1.0  # ';'-joined string form
    assert math.isnan(ev.keyword_match(answer, []))


def test_rouge_bleu_chrf_golden():
    hyp, ref = "the cat sat on the mat", "the cat is on the mat"
    # ROUGE-L: longest common subsequence "the cat on the mat" = 5 words; P = R = 5/6, F = 5/6.
    assert ev.rouge_l([hyp], [ref]) == pytest.approx([5 / 6])
    # BLEU: n-gram precisions 5/6, 3/5 (the cat, on the, the mat), 1/4 (on the mat), 0/3 -> sacrebleu's default
    # "exp" smoothing replaces the zero with 1/(2*3); brevity penalty 1 (equal lengths).
    expected = 100 * (5 / 6 * 3 / 5 * 1 / 4 * 1 / 6) ** 0.25
    assert ev.bleu([hyp], [ref]) == pytest.approx(expected, abs=1e-6)
    # chrF ("ab" vs "abc"): order 1 P 2/2 R 2/3; order 2 P 1/1 R 1/2; orders 3-6 have no hypothesis n-grams and
    # are skipped. Mean P 1, mean R 7/12; F_beta with beta 2 = 5*1*(7/12) / (4*1 + 7/12) = 7/11.
    assert ev.chrf(["ab"], ["abc"]) == pytest.approx(100 * 7 / 11, abs=1e-6)
    assert ev.chrf([ref], [ref]) == pytest.approx(100.0)


def test_generation_metrics_and_worst_examples():
    preds = ["reset your password with the link", "we ship in 3 days"]
    refs = ["Use the reset link to change your password", "We ship in 3 days"]
    kws = [["reset link"], ["3 days", "ship"]]
    m = ev.generation_metrics(preds, refs, kws)
    # example 1: "reset link" is not a substring of the prediction -> 0; example 2: both keywords -> 1; mean 0.5.
    assert m["keyword_match"] == pytest.approx(0.5)
    # exact: only example 2 (case-insensitive) -> 0.5
    assert m["exact"] == pytest.approx(0.5)
    assert m["n"] == 2 and m["avg_words"] == pytest.approx((6 + 5) / 2)
    assert 0 < m["rougeL"] < 1
    scores = ev.sentence_scores(preds, refs, kws)
    assert list(ev.worst_examples(scores, "rougeL", n=1)["reference"]) == [refs[0]]
    with pytest.raises(ConfigError, match="no column"):
        ev.worst_examples(scores, "meteor")


def test_history_table_merges_train_and_eval_entries():
    log = [{"loss": 2.0, "epoch": 0.5, "step": 1}, {"loss": 1.5, "epoch": 1.0, "step": 2},
           {"eval_loss": 1.8, "eval_runtime": 0.1, "epoch": 1.0, "step": 2},
           {"train_runtime": 3.0, "train_loss": 1.75, "epoch": 1.0, "step": 2}]
    table = ev.history_table(log)
    assert list(table.index) == [1, 2]
    assert table.loc[2, "train_loss"] == 1.5 and table.loc[2, "eval_loss"] == 1.8
    assert math.isnan(table.loc[1, "eval_loss"])


def test_comparison_table_and_save_results(tmp_path):
    a = ev.EvalResult("zero-shot", {"rougeL": 0.2, "bleu": 3.0, "keyword_match": float("nan")})
    b = ev.EvalResult("lora", {"rougeL": 0.4, "bleu": 9.0, "keyword_match": 0.5}, info={"seconds": 1.5})
    table = ev.comparison_table([a, b], sort_by="rougeL")
    assert list(table.index) == ["lora", "zero-shot"]
    paths = ev.save_results([a, b], tmp_path / "out", stem="cmp")
    data = json.loads(paths["json"].read_text())  # strict JSON: NaN written as null
    assert data["results"][0]["metrics"]["keyword_match"] is None
    assert "lora" in paths["csv"].read_text()
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no temp files left
    paths = ev.save_results(table, tmp_path / "out", stem="table")
    assert json.loads(paths["json"].read_text())["table"][0]["model"] == "lora"
    with pytest.raises(ConfigError, match="cannot sort"):
        ev.comparison_table([a], sort_by="meteor")


class _UniformLM:
    """A stand-in decoder whose logits are all zero: every next token has probability 1/V."""

    def __init__(self, vocab_size):
        import torch

        self.vocab_size = vocab_size
        self.device = torch.device("cpu")
        self.training = False

    def eval(self):
        return self

    def train(self, mode=True):
        self.training = mode
        return self

    def __call__(self, input_ids, attention_mask):
        import torch
        from types import SimpleNamespace

        return SimpleNamespace(logits=torch.zeros(*input_ids.shape, self.vocab_size))


def test_perplexity_of_uniform_model_is_vocabulary_size(smol):
    _, tokenizer = smol
    texts = ["Hello there.", "A much longer sentence, so the batch needs padding on the right side."]
    lengths = [len(tokenizer(t)["input_ids"]) for t in texts]
    # Uniform over V tokens: NLL per token = ln V, perplexity = V; pads excluded, so tokens = sum(len - 1).
    result = ev.perplexity(_UniformLM(len(tokenizer)), tokenizer, texts, batch_size=2)
    assert result.perplexity == pytest.approx(len(tokenizer), rel=1e-5)
    assert result.tokens == sum(n - 1 for n in lengths)
    assert tokenizer.padding_side == "right"


def test_perplexity_does_not_depend_on_batch_size(smol):
    model, tokenizer = smol
    texts = ["Your order ships within two business days.", "Hi!", "Refunds go back to the original card."]
    one = ev.perplexity(model, tokenizer, texts, batch_size=1)
    three = ev.perplexity(model, tokenizer, texts, batch_size=3)
    assert three.tokens == one.tokens
    assert three.nll == pytest.approx(one.nll, rel=1e-4)  # pads masked: padding changes nothing
    assert 1 < one.perplexity < 1000


def test_generate_answers_batched_matches_single_and_restores_padding(smol):
    model, tokenizer = smol
    prompts = ["What is 2 + 2?", "Name a colour.", [{"role": "user", "content": "Say hello in French."}]]
    batched = ev.generate_answers(model, tokenizer, prompts, max_new_tokens=8, batch_size=3, progress=False)
    single = [ev.generate_answers(model, tokenizer, [p], max_new_tokens=8, batch_size=1, progress=False)[0]
              for p in prompts]
    assert batched == single  # left padding + attention mask: a prompt's answer does not depend on its batch
    assert all(isinstance(a, str) and a for a in batched)
    assert "<|im_end|>" not in "".join(batched)
    assert tokenizer.padding_side == "right"


def test_a_shared_few_shot_prefix_is_read_once_and_changes_no_answer(smol, monkeypatch):
    from course_lib import formatting, generation

    model, tokenizer = smol
    shots = [{"instruction": f"How do I export note {i} as a PDF?", "output": f"Open note {i}, then File > Export."}
             for i in range(4)]
    prompts = [formatting.few_shot_messages({"instruction": q}, shots, "You answer briefly.")
               for q in ("How do I share a notebook?", "Can I undo a delete?", "Where are my settings?")]
    texts = generation._render(tokenizer, prompts, None, True)
    rows = tokenizer(texts, add_special_tokens=False)["input_ids"]
    shared = generation._shared_prefix_length(rows)
    assert shared >= generation.SHARED_PREFIX_MIN_TOKENS  # the system prompt and the four solved examples
    assert all(row[:shared] == rows[0][:shared] for row in rows)
    assert generation._prefix_cache(model, rows[0][:shared]) is not None  # SmolLM2's cache can be shared
    cached = ev.generate_answers(model, tokenizer, prompts, max_new_tokens=8, batch_size=2, progress=False)
    monkeypatch.setattr(generation, "SHARED_PREFIX_MIN_TOKENS", 10**9)  # every prompt read whole, as before
    plain = ev.generate_answers(model, tokenizer, prompts, max_new_tokens=8, batch_size=2, progress=False)
    assert cached == plain
    assert ev.generate_answers(model, tokenizer, [], progress=False) == []  # no prompt, no answer (and no error)


def test_generation_attends_with_sdpa_changes_no_answer_and_gives_the_training_kernel_back(smol, monkeypatch):
    from course_lib import formatting, generation, models

    model, tokenizer = smol
    assert models.attention_in_use(model) == "eager"  # the CPU's training kernel (runtime.attention_implementation)
    seen = []
    original = model.generate

    def spying_generate(*args, **kwargs):
        seen.append(models.attention_in_use(model))
        return original(*args, **kwargs)

    monkeypatch.setattr(model, "generate", spying_generate)
    shots = [{"instruction": f"How do I rename tag {i}?", "output": f"Open tag {i}, then Rename."} for i in range(5)]
    prompts = [formatting.few_shot_messages({"instruction": q}, shots, "You answer briefly.")
               for q in ("How do I share a notebook?", "Can I undo a delete?", "Where are my settings?")]
    sdpa = ev.generate_answers(model, tokenizer, prompts, max_new_tokens=12, batch_size=2, progress=False)
    assert seen == ["sdpa", "sdpa"] and models.attention_in_use(model) == "eager"
    monkeypatch.setattr(generation, "GENERATION_ATTENTION", "eager")
    eager = ev.generate_answers(model, tokenizer, prompts, max_new_tokens=12, batch_size=2, progress=False)
    assert seen[2:] == ["eager", "eager"] and eager == sdpa  # same greedy answers, only faster


def test_attention_kernel_is_put_back_after_an_error_and_never_drops_a_soft_cap(smol, monkeypatch):
    from course_lib import models

    model, _ = smol
    with pytest.raises(RuntimeError), models.attention_kernel(model, "sdpa"):
        assert models.attention_in_use(model) == "sdpa"
        raise RuntimeError("a failed generation")
    assert models.attention_in_use(model) == "eager"
    with models.attention_kernel(object(), "sdpa") as plain:  # no transformers config: nothing to switch
        assert models.attention_in_use(plain) is None
    monkeypatch.setattr(model.config, "attn_logit_softcapping", 50.0, raising=False)  # as Gemma 2's
    with models.attention_kernel(model, "sdpa"):
        assert models.attention_in_use(model) == "eager"  # SDPA would ignore the cap: the kernel stays


def test_shared_prefix_leaves_every_row_a_token_and_pads_between_prefix_and_suffix():
    from course_lib import generation

    assert generation._shared_prefix_length([[1, 2, 3], [1, 2, 3, 4]], minimum=1) == 2
    assert generation._shared_prefix_length([[1, 2, 3], [1, 2, 3]], minimum=3) == 0  # under the minimum
    assert generation._shared_prefix_length([[1, 2, 3, 4]], minimum=1) == 0  # nothing is shared by one row
    ids, mask = generation._padded_batch([7, 8], [[1], [2, 3]], pad_id=0, device="cpu")
    assert ids.tolist() == [[7, 8, 0, 1], [7, 8, 2, 3]]
    assert mask.tolist() == [[1, 1, 0, 1], [1, 1, 1, 1]]


def test_evaluate_generation_result(smol):
    model, tokenizer = smol
    result = ev.evaluate_generation(model, tokenizer, ["What is 2 + 2?"], ["4"], keywords=[["4"]], name="base",
                                    max_new_tokens=6, progress=False)
    assert result.name == "base" and result.metrics["n"] == 1
    assert list(result.examples.columns[:3]) == ["prompt", "prediction", "reference"]


def test_bad_prompt_type():
    from course_lib import formatting  # the one message builder, used by batched generation

    with pytest.raises(ConfigError, match="each prompt must be"):
        formatting.chat_messages(42, None)
    assert formatting.chat_messages("hi", "be brief")[0] == {"role": "system", "content": "be brief"}
    already = [{"role": "system", "content": "own"}, {"role": "user", "content": "hi"}]
    assert formatting.chat_messages(already, "be brief") == already  # never a second system message


def _cli(*argv):
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "course_lib", "evaluate", *argv], capture_output=True, text=True,
                          env={**os.environ, "TQDM_DISABLE": "1"}, timeout=600)


def test_cli_evaluate_bad_input_is_one_line(tmp_path):
    missing = _cli("--data", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "out"))
    assert missing.returncode == 2 and missing.stderr.startswith("error: ") and "Traceback" not in missing.stderr
    assert "nope.jsonl" in missing.stderr
    good = tmp_path / "test.jsonl"
    good.write_text(json.dumps({"instruction": "Hi?", "output": "Hello."}) + "\n")
    not_model = _cli("--data", str(good), "--model", str(tmp_path), "--out", str(tmp_path / "out"))
    assert not_model.returncode == 2 and "is not a saved model" in not_model.stderr
    assert not (tmp_path / "out").exists()  # nothing written on bad input


def test_cli_evaluate_zero_shot_writes_results(tmp_path):
    data = tmp_path / "test.jsonl"
    rows = [{"instruction": "What is 2 + 2?", "output": "4", "keywords": ["4"]},
            {"instruction": "Name a colour.", "output": "Blue.", "keywords": ["blue"]}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    done = _cli("--data", str(data), "--out", str(tmp_path / "out"), "--profile", "smoke", "--max-new-tokens", "4",
                "--quiet")
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((tmp_path / "out" / "results.json").read_text())["results"][0]
    assert result["name"] == "zero-shot" and result["metrics"]["n"] == 2
    assert len(result["examples"]) == 2 and "keyword_match" in result["metrics"]
    assert (tmp_path / "out" / "comparison.csv").read_text().startswith("model,")


def test_answer_token_losses_match_the_models_own_loss_and_skip_nothing_that_fits(smol):
    import torch

    from course_lib import formatting

    model, tokenizer = smol
    records = [{"instruction": "How long does shipping take?", "output": "Two business days."},
               {"instruction": "Can I get a refund?", "output": "Yes, within 30 days of purchase, to the card."}]
    losses = ev.answer_token_losses(model, tokenizer, records, max_len=128, batch_size=2)
    assert len(losses) == 2
    features, _ = formatting.tokenize_dataset(records, tokenizer, 128, None)
    for (nll, tokens), feature in zip(losses, features):
        labels = torch.tensor([feature["labels"]])
        with torch.no_grad():  # the model's own loss: mean cross-entropy over the shifted labelled positions
            own = model(input_ids=torch.tensor([feature["input_ids"]]), labels=labels).loss
        assert tokens == int((labels[0, 1:] != -100).sum())
        assert nll / tokens == pytest.approx(float(own), abs=1e-4)
    # batch size changes nothing: pads carry no label
    one_by_one = ev.answer_token_losses(model, tokenizer, records, max_len=128, batch_size=1)
    assert [t for _, t in one_by_one] == [t for _, t in losses]
    assert [n for n, _ in one_by_one] == pytest.approx([n for n, _ in losses], abs=1e-3)


def test_answer_token_losses_refuse_a_record_that_does_not_fit_when_every_record_counts(smol):
    from course_lib.errors import ConfigError

    model, tokenizer = smol
    records = [{"instruction": "word " * 200, "output": "ok"}, {"instruction": "Hi?", "output": "Hello."}]
    assert len(ev.answer_token_losses(model, tokenizer, records, max_len=96)) == 1  # as training: left out
    with pytest.raises(ConfigError, match="only 1 of 2 records"):
        ev.answer_token_losses(model, tokenizer, records, max_len=96, every_record=True)
    with pytest.raises(ConfigError, match="no adapter"):
        ev.answer_token_losses(model, tokenizer, records[1:], max_len=96, adapter_off=True)


def test_label_scores_one_row_per_classifier_with_unparsed_counted_wrong():
    gold = ["pos", "pos", "neg", "neu"]
    table = ev.label_scores(gold, {"prompted": ["pos", "unparsed", "neg", "pos"], "always pos": ["pos"] * 4},
                            ["neg", "neu", "pos"])
    assert list(table.index) == ["prompted", "always pos"]
    assert list(table.columns) == ["accuracy", "macro F1", "unparsed answers"]
    # prompted: 2 of 4 right; F1 neg 1, neu 0 (never predicted), pos P 1/2 R 1/2 -> 1/2; macro (1 + 0 + .5) / 3
    assert table.loc["prompted", "accuracy"] == 0.5 and table.loc["prompted", "macro F1"] == 0.5
    assert table.loc["prompted", "unparsed answers"] == 2 - 1  # one answer named no label
    # always pos: accuracy 2/4; F1 pos = 2 * (1/2 * 1) / (3/2) = 2/3, others 0 -> macro 2/9 = 0.222 (rounded to 3)
    assert table.loc["always pos", "accuracy"] == 0.5 and table.loc["always pos", "macro F1"] == 0.222
    assert table["unparsed answers"].dtype.kind == "i"
    exact = ev.label_scores(gold, {"always pos": ["pos"] * 4}, ["neg", "neu", "pos"], digits=None)
    assert exact.loc["always pos", "macro F1"] == pytest.approx(2 / 9)


def test_predict_labels_names_the_predicted_ids(monkeypatch):
    import numpy as np

    seen = {}

    def fake_predict_classes(model, tokenizer, texts, batch_size=32):
        seen["texts"], seen["batch_size"] = texts, batch_size
        return np.array([2, 0]), np.zeros((2, 3))

    monkeypatch.setattr("course_lib.evaluation.classification.predict_classes", fake_predict_classes)
    assert ev.predict_labels(None, None, ("good", "bad"), ["neg", "neu", "pos"], batch_size=4) == ["pos", "neg"]
    assert seen == {"texts": ["good", "bad"], "batch_size": 4}


class _LetterEncoder:
    """A stand-in SentenceTransformer: a text's vector counts its letters 'g' and 'b' (unit norm once embedded)."""

    def encode(self, texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False):
        import numpy as np

        vectors = np.array([[t.count("g") + 0.1, t.count("b") + 0.1] for t in texts], dtype=np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def get_embedding_dimension(self):
        return 2


def _reviews():
    import pandas as pd

    rows = [(f"{'g' * (i % 3 + 1)} {i}", "positive", "train") for i in range(6)]
    rows += [(f"{'b' * (i % 3 + 1)} {i}", "negative", "train") for i in range(4)]
    rows += [("ggg", "positive", "test"), ("bb", "negative", "test"), ("g", "positive", "validation")]
    return pd.DataFrame(rows, columns=["text", "label", "split"])


def test_embedding_probe_embeds_both_splits_and_fits_the_head():
    reviews = _reviews()
    probe = ev.embedding_probe(reviews, _LetterEncoder(), held_out="test", seed=0)
    assert len(probe.train) == 10 and sorted(probe.held_out["text"]) == ["bb", "ggg"]
    assert sorted(probe.train.index) == list(range(10))  # every training row, shuffled
    assert probe.X_train.shape == (10, 2) and probe.X_held_out.shape == (2, 2)
    assert probe.labels == ["negative", "positive"]
    # the shuffle keeps rows with their labels, and the head separates the two letters
    assert list(probe.classifier.predict(probe.X_held_out)) == list(probe.held_out["label"])
    assert len(ev.embedding_probe(reviews, _LetterEncoder(), held_out="validation", n=3).train) == 3
    with pytest.raises(ConfigError, match="'dev'"):
        ev.embedding_probe(reviews, _LetterEncoder(), held_out="dev")


def test_fit_probe_passes_the_class_weight():
    import numpy as np

    X, y = np.array([[0.0], [0.1], [1.0], [1.1]]), np.array(["a", "a", "b", "b"])
    assert ev.fit_probe(X, y).class_weight is None
    head = ev.fit_probe(X, y, class_weight="balanced")
    assert head.class_weight == "balanced" and head.max_iter == 1000
    assert list(head.predict([[0.0], [1.1]])) == ["a", "b"]
