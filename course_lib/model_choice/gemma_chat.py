"""Gemma's chat format for the base model: its documented template, set on a tokenizer that ships without one,
and the end-of-turn token as the one that ends an answer (taught in notebook 11, instruction tuning).

Gemma 3 270M *base* comes without a chat template (the GGUF file holds none), but its vocabulary has the two
turn markers of Gemma's instruction-tuned releases, ``<start_of_turn>`` (id 105) and ``<end_of_turn>`` (id 106).
A turn is written::

    <bos><start_of_turn>user
    {system prompt, a blank line, then} the question<end_of_turn>
    <start_of_turn>model
    the answer<end_of_turn>

Gemma has no system role: a system message is put at the start of the first user turn, as Gemma's own
template does. :data:`GEMMA_CHAT_TEMPLATE` is that template for string messages (Gemma's, without its image
branches). The course's formatting and generation helpers need nothing else than this template and the
end-of-turn token as the tokenizer's EOS (:func:`use_gemma_chat_format`).
"""

from __future__ import annotations

from ..errors import ConfigError

START_OF_TURN = "<start_of_turn>"
END_OF_TURN = "<end_of_turn>"
END_OF_TEXT = "<eos>"  # the base model's EOS: the end of a document, not of a turn

# Gemma 3's documented chat template (ai.google.dev/gemma/docs/core/prompt-structure), text messages only.
GEMMA_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{%- if messages[0]['role'] == 'system' -%}"
    "{%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}"
    "{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}"
    "{%- set first_user_prefix = '' -%}"
    "{%- set loop_messages = messages -%}"
    "{%- endif -%}"
    "{%- for message in loop_messages -%}"
    "{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{%- endif -%}"
    "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
    "{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') }}"
    "{{ message['content'] | trim }}"
    "{{ '<end_of_turn>\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}"
    "{{ '<start_of_turn>model\n' }}"
    "{%- endif -%}"
)


def render_gemma_chat(messages, add_generation_prompt: bool = False, bos_token: str = "<bos>") -> str:
    """``messages`` rendered with :data:`GEMMA_CHAT_TEMPLATE`, without a tokenizer (jinja2, sandboxed as
    transformers renders chat templates): what ``tokenizer.apply_chat_template(..., tokenize=False)`` returns
    once :func:`use_gemma_chat_format` has set the template. Roles that do not alternate raise ``ConfigError``."""
    from jinja2.exceptions import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
        raise TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    try:
        return env.from_string(GEMMA_CHAT_TEMPLATE).render(messages=list(messages), bos_token=bos_token,
                                                           add_generation_prompt=add_generation_prompt)
    except TemplateError as err:
        raise ConfigError(f"these messages do not fit Gemma's chat format: {err} — give user and assistant turns "
                          "in turn, after at most one system message") from err


def use_gemma_chat_format(model, tokenizer):
    """Make the Gemma base model's tokenizer (and model) chat-ready; returns the tokenizer, changed in place.

    * The chat template: :data:`GEMMA_CHAT_TEMPLATE` when the tokenizer has none (the base model's has none;
      a template already there is kept, e.g. an instruction-tuned Gemma's).
    * EOS = ``<end_of_turn>``: ``formatting.tokenize_example`` trains the answer up to and with the tokenizer's
      EOS, and the generation helpers stop there, so the token that closes a turn must be the EOS (the base
      model's ``<eos>`` ends a whole document). The model's config and generation config stop at both, as Gemma's
      instruction-tuned release does (``eos_token_id`` ``[1, 106]``); with the end-of-turn id in both, the Trainer
      has nothing to align (it would otherwise warn and overwrite the generation config's list with one id).
    """
    vocab = tokenizer.get_vocab()
    missing = [token for token in (START_OF_TURN, END_OF_TURN) if token not in vocab]
    if missing:
        raise ConfigError(f"the tokenizer has no {missing[0]!r} token — this is not a Gemma tokenizer; load the "
                          "model with model_choice.load_gemma")
    if not tokenizer.chat_template:
        tokenizer.chat_template = GEMMA_CHAT_TEMPLATE
    tokenizer.eos_token = END_OF_TURN
    stop_ids = [vocab[END_OF_TURN]] + ([vocab[END_OF_TEXT]] if END_OF_TEXT in vocab else [])
    model.config.eos_token_id = list(stop_ids)
    model.generation_config.eos_token_id = list(stop_ids)
    return tokenizer
