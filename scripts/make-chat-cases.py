#!/usr/bin/env python3
"""Build tests/fixtures/chat/chat-cases.json: chat templates rendered by Hugging Face's
apply_chat_template, the oracle tests/chat.test.ts holds our renderer (@huggingface/jinja) to.

    python3 scripts/make-chat-cases.py

Each template is one in the style of a family on the Hub (the tokens each uses are plain text to
GPT-2's vocabulary, apart from <|endoftext|>), rendered with the tiny-f32 fixture's tokenizer
(bos and eos "<|endoftext|>") for several conversations, add_generation_prompt=True: the text and
the ids (tokenize=True). A template that rejects a conversation (raise_exception) records the
message instead.
"""
import json
import os
import sys

import transformers
from transformers import AutoTokenizer

ROOT = os.path.join(os.path.dirname(__file__), "..")
OUT = os.path.join(ROOT, "tests", "fixtures", "chat", "chat-cases.json")
TINY = os.path.join(ROOT, "tests", "fixtures", "models", "tiny-f32")

TEMPLATES = {
    # Turns separated by the eos token, as GPT-2 chat fine-tunes often are.
    "eos-separated": (
        "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}{{ eos_token }}{% endfor %}"
        "{% if add_generation_prompt %}assistant:{% endif %}"
    ),
    # ChatML (Qwen, many fine-tunes), with a default system message.
    "chatml": (
        "{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
        "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] | trim + '<|im_end|>\\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
    ),
    # Llama 2: the system prompt folded into the first user turn, strict alternation.
    "llama-2": (
        "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
        "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
        "{% set system_message = false %}{% endif %}"
        "{% for message in loop_messages %}"
        "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
        "{% if loop.index0 == 0 and system_message != false %}"
        "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
        "{% else %}{% set content = message['content'] %}{% endif %}"
        "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
        "{% elif message['role'] == 'assistant' %}{{ ' ' + content.strip() + ' ' + eos_token }}{% endif %}"
        "{% endfor %}"
    ),
    # Zephyr: role markers, eos after every turn, a namespace-free loop.
    "zephyr": (
        "{% for message in messages %}\n{% if message['role'] == 'user' %}{{ '<|user|>\\n' + message['content'] + eos_token }}"
        "{% elif message['role'] == 'system' %}{{ '<|system|>\\n' + message['content'] + eos_token }}"
        "{% elif message['role'] == 'assistant' %}{{ '<|assistant|>\\n'  + message['content'] + eos_token }}{% endif %}"
        "{% if loop.last and add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}{% endfor %}"
    ),
}

CONVERSATIONS = {
    "one user turn": [{"role": "user", "content": "Hello there!"}],
    "system, user": [
        {"role": "system", "content": "You answer in one word."},
        {"role": "user", "content": "  What colour is the sky?  "},
    ],
    "three turns": [
        {"role": "user", "content": "Name a fruit."},
        {"role": "assistant", "content": "A pear."},
        {"role": "user", "content": "Another, with “quotes” and ünïcödé\nand a new line."},
    ],
    "roles out of order": [
        {"role": "user", "content": "a"},
        {"role": "user", "content": "b"},
    ],
}


def main() -> int:
    tok = AutoTokenizer.from_pretrained(TINY)
    cases = []
    for template_name, template in TEMPLATES.items():
        for conversation_name, messages in CONVERSATIONS.items():
            case = {"template": template_name, "conversation": conversation_name, "messages": messages}
            try:
                case["text"] = tok.apply_chat_template(messages, chat_template=template, tokenize=False, add_generation_prompt=True)
                ids = tok.apply_chat_template(messages, chat_template=template, tokenize=True, add_generation_prompt=True)
                case["ids"] = list(ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids)
            except Exception as e:  # the template's own raise_exception
                case["error"] = str(e)
            cases.append(case)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(
            {
                "transformers": transformers.__version__,
                "bosToken": tok.bos_token,
                "eosToken": tok.eos_token,
                "templates": TEMPLATES,
                "cases": cases,
            },
            f,
            ensure_ascii=False,
            indent=1,
        )
        f.write("\n")
    for c in cases:
        print(f"{c['template']} / {c['conversation']}: {'error: ' + c['error'] if 'error' in c else repr(c['text'][:60])}")
    print(f"wrote {os.path.relpath(OUT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
