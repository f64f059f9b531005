#!/usr/bin/env python3
"""Build tests/fixtures/chat/chat-cases.json and model-templates.json: chat templates rendered by
Hugging Face's apply_chat_template, the oracle tests/chat.test.ts holds our renderer
(@huggingface/jinja) to.

    python3 scripts/make-chat-cases.py

Each template is one in the style of a family on the Hub (the tokens each uses are plain text to
GPT-2's vocabulary, apart from <|endoftext|>), rendered with the tiny-f32 fixture's tokenizer
(bos and eos "<|endoftext|>") for several conversations, add_generation_prompt=True: the text and
the ids (tokenize=True). A template that rejects a conversation (raise_exception) records the
message instead.

model-templates.json: the real chat templates of the models we target, kept byte for byte in
tests/fixtures/chat/*.jinja (MODEL_TEMPLATES names where each was copied from), each rendered
(tokenize=False) for several conversations, with and without add_generation_prompt, and for the
templates with a tools branch with tools=[...], an assistant tool_calls turn and "tool" turns.
The tokenizer is tiny-f32's with bos_token / eos_token set to the model's own, the special tokens
these templates use. strftime_now (Llama 3.2's date) is pinned to NOW, a date unlike the
template's own fallback ("26 Jul 2024"), so the test can pin its clock to the same instant.
"""
import datetime as _datetime
import json
import os
import sys

import transformers
from transformers import AutoTokenizer

ROOT = os.path.join(os.path.dirname(__file__), "..")
OUT = os.path.join(ROOT, "tests", "fixtures", "chat", "chat-cases.json")
TINY = os.path.join(ROOT, "tests", "fixtures", "models", "tiny-f32")
CHAT = os.path.join(ROOT, "tests", "fixtures", "chat")
MODEL_OUT = os.path.join(CHAT, "model-templates.json")

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


# The models' own templates. The Hugging Face Hub cannot be reached from here, so each .jinja file
# is copied byte for byte from a public source that carries the model's template as published:
# huggingface/huggingface.js packages/ollama-utils/src/chat-template-automap.ts ("automap": the
# chat_template read out of the GGUF of each Ollama library model, which convert_hf_to_gguf copies
# verbatim from the model's tokenizer_config.json), cross-checked where a second source exists.
HFJS = "huggingface/huggingface.js@fe42e68017ffc76d09922ea8f9b38a6964345710"
MODEL_TEMPLATES = [
    {
        "model": "HuggingFaceTB/SmolLM2-135M-Instruct",
        "file": "smollm2-135m-instruct.jinja",
        "source": HFJS + ":packages/ollama-utils/src/chat-template-automap.ts (library/smollm2:135m, gguf)",
        # SmolLM2-Instruct's tokenizer_config.json: bos <|im_start|>, eos <|im_end|>. The 360M and
        # 1.7B Instruct models are said (third-party copies only) to ship the same template; no
        # stored source carries theirs under their own name, so only 135M is claimed here.
        "bos_token": "<|im_start|>",
        "eos_token": "<|im_end|>",
        "tools": False,
    },
    {
        "model": "TinyLlama/TinyLlama-1.1B-Chat-v1.0",
        "file": "tinyllama-1.1b-chat-v1.0.jinja",
        "source": HFJS + ":packages/ollama-utils/src/chat-template-automap.ts (library/tinyllama:1.1b, gguf); "
        "identical to openvinotoolkit/openvino.genai@25bba077ed69dda4e00876737c532803e72e5630:tests/python_tests/tokenizer_configs.py "
        '("TinyLlama/TinyLlama-1.1B-Chat-v1.0")',
        "bos_token": "<s>",
        "eos_token": "</s>",
        "tools": False,
    },
    {
        "model": "Qwen/Qwen2.5-0.5B-Instruct",
        "file": "qwen2.5-0.5b-instruct.jinja",
        "source": HFJS + ":packages/ollama-utils/src/chat-template-automap.ts (library/qwen2.5:0.5b, gguf). "
        'It differs from the 7B text below only in "{{\"name\": ...}}" (doubled braces, literal text) in '
        "the tools instructions: the GGUF was made from an earlier revision of the model's template",
        "bos_token": None,
        "eos_token": "<|im_end|>",
        "tools": True,
    },
    {
        "model": "Qwen/Qwen2.5-7B-Instruct",
        "file": "qwen2.5-7b-instruct.jinja",
        "source": HFJS + ':packages/jinja/test/e2e.test.js ("Qwen/Qwen2.5-7B-Instruct"); identical to the '
        "automap's library/qwen2.5-coder:1.5b. The template the Qwen2.5 Instruct models (0.5B included) "
        "ship today",
        "bos_token": None,
        "eos_token": "<|im_end|>",
        "tools": True,
    },
    {
        "model": "meta-llama/Llama-3.2-3B-Instruct",
        "file": "llama-3.2-3b-instruct.jinja",
        "source": "ggerganov/llama.cpp@7b5e0803c84435e8005725d8f9ddceb5d1820443:models/templates/"
        "meta-llama-Llama-3.2-3B-Instruct.jinja; identical to " + HFJS + ":packages/ollama-utils/src/"
        "chat-template-automap.ts (library/llama3.2:3b). No stored source has Llama-3.2-1B-Instruct's "
        "own (the automap skipped library/llama3.2:1b); the 3B's stands in for the family",
        "bos_token": "<|begin_of_text|>",
        "eos_token": "<|eot_id|>",
        "tools": True,
    },
]

# strftime_now's instant, local time on both sides (the test pins its clock to it).
NOW = _datetime.datetime(2025, 3, 14, 12, 0, 0)

MODEL_CONVERSATIONS = {
    "system, user": [
        {"role": "system", "content": "You answer in one word."},
        {"role": "user", "content": "  What colour is the sky?  "},
    ],
    "user only": [{"role": "user", "content": "Hello there!"}],
    "multi-turn": [
        {"role": "user", "content": "Name a fruit."},
        {"role": "assistant", "content": "A pear."},
        {"role": "user", "content": "Another, with “quotes” and ünïcödé\nand a new line."},
    ],
    "system, multi-turn": [
        {"role": "system", "content": "Be brief.\n"},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": " Hello! "},
        {"role": "user", "content": "Bye"},
    ],
}

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather in a given location.",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The city and country, e.g. “Zürich, CH”"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location"],
        },
    },
}

TOOL_CONVERSATIONS = {
    "tools, user": [{"role": "user", "content": "What's the weather in Paris?"}],
    "tools, system, user": [
        {"role": "system", "content": "You are a weather bot."},
        {"role": "user", "content": "What's the weather in Paris?"},
    ],
    "tools, tool call and result": [
        {"role": "user", "content": "What's the weather in Paris?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"type": "function", "function": {"name": "get_current_weather", "arguments": {"location": "Paris, FR", "unit": "celsius"}}}
            ],
        },
        {"role": "tool", "name": "get_current_weather", "content": '{"temperature": 21, "unit": "celsius"}'},
        {"role": "tool", "name": "get_current_weather", "content": '{"humidity": 40}'},
    ],
}


def _pin_strftime_now():
    """transformers' strftime_now is datetime.now().strftime; make its now NOW."""
    import transformers.utils.chat_template_utils as ctu

    class _Pinned(_datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return NOW

    ctu.datetime = _Pinned
    if hasattr(ctu._compile_jinja_template, "cache_clear"):
        ctu._compile_jinja_template.cache_clear()


def model_cases():
    _pin_strftime_now()
    cases = []
    for spec in MODEL_TEMPLATES:
        with open(os.path.join(CHAT, spec["file"]), encoding="utf-8", newline="") as f:
            template = f.read()
        tok = AutoTokenizer.from_pretrained(TINY)
        tok.bos_token = spec["bos_token"]
        tok.eos_token = spec["eos_token"]
        runs = [(name, messages, None) for name, messages in MODEL_CONVERSATIONS.items()]
        if spec["tools"]:
            runs += [(name, messages, [WEATHER_TOOL]) for name, messages in TOOL_CONVERSATIONS.items()]
        for conversation, messages, tools in runs:
            for add_generation_prompt in (True, False):
                case = {
                    "model": spec["model"],
                    "source": spec["source"],
                    "templateFile": spec["file"],
                    "conversation": conversation,
                    "messages": messages,
                    "add_generation_prompt": add_generation_prompt,
                    "bos_token": spec["bos_token"],
                    "eos_token": spec["eos_token"],
                }
                if tools is not None:
                    case["tools"] = tools
                try:
                    case["expected"] = tok.apply_chat_template(
                        messages, chat_template=template, tools=tools, tokenize=False, add_generation_prompt=add_generation_prompt
                    )
                except Exception as e:  # the template's own raise_exception
                    case["error"] = str(e)
                cases.append(case)
    with open(MODEL_OUT, "w", encoding="utf-8") as f:
        json.dump(
            {"transformers": transformers.__version__, "strftimeNow": NOW.isoformat(), "cases": cases},
            f,
            ensure_ascii=False,
            indent=1,
        )
        f.write("\n")
    for c in cases:
        what = "error: " + c["error"] if "error" in c else repr(c["expected"][-50:])
        print(f"{c['model']} / {c['conversation']} / agp={c['add_generation_prompt']}: {what}")
    print(f"wrote {os.path.relpath(MODEL_OUT)} ({len(cases)} cases)")



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
    model_cases()
    return 0


if __name__ == "__main__":
    sys.exit(main())
