#!/usr/bin/env python3
"""Build the golden rotary-position (Llama / Qwen2 / GPT-J / GPT-NeoX) fixtures under tests/fixtures/models/.

    python3 scripts/make-rotary-fixtures.py            # (re)build every fixture, then verify them
    python3 scripts/make-rotary-fixtures.py --verify   # only verify the fixtures already on disk
    python3 scripts/make-rotary-fixtures.py --only qwen2-f32 gptj-f16   # a subset

The companion of scripts/make-family-fixtures.py (OPT / BLOOM / GPT-Neo) and scripts/make-fixtures.py
(GPT-2), with their conventions: small, randomly initialised checkpoints laid out as Hugging Face
checkpoints of each family are found in the wild, plus the answers the engine must reproduce.

  llama-gqa-f32      LlamaForCausalLM, hidden 144, 9 query heads / 3 key-value heads (GQA, group 3,
                     head_dim 16), intermediate 200, 2 layers, rms_norm_eps 1e-5, SiLU-gated MLP,
                     max_position_embeddings 128, tied embeddings (lm_head not stored), F32.
                     RoPE: theta 10000 with rope_type "llama3" (factor 8, low_freq_factor 1,
                     high_freq_factor 4, original_max_position_embeddings 32). 32, not 16: with
                     head_dim 16 the wavelengths 2*pi/inv_freq are 6.3, 19.9, 62.8, 199, ... so with
                     32 the high-frequency cut (32/4 = 8) leaves inv_freq[0] unchanged, inv_freq[1]
                     (19.9, between 8 and 32) takes the smoothed branch and inv_freq[2..7] are divided
                     by 8: all three branches of the llama3 rule are exercised (the script asserts it
                     against the model's own inv_freq, and records both vectors in reference.json).
                     config.json: transformers 5.18 writes the new "rope_parameters" form; this
                     fixture's config.json is rewritten to the Hub's classic top-level
                     "rope_theta" + "rope_scaling" form (as TinyLlama / Llama 3.2 / SmolLM2 carry),
                     and the reference comes from the model reloaded from that file.
                     Tokenizer: the SentencePiece-style Llama-2 / TinyLlama tokenizer of
                     tests/fixtures/tokenizer/pipelines/llama2-transformers (copied verbatim: 859
                     tokens, <unk>=0 <s>=1 </s>=2, <0x00>..<0xFF> at 3..258, byte_fallback, normalizer
                     Prepend("\u2581") + Replace(" ", "\u2581"), post-processor "<s> $A";
                     tokenizer_config from there with "tokenizer_class" changed from LlamaTokenizer
                     to PreTrainedTokenizerFast: transformers 5's LlamaTokenizer rebuilds the
                     pipeline as Metaspace(prepend_scheme "first"), which does NOT prepend "▁"
                     to text starting with a space ("  x" -> ▁▁x instead of the file's and
                     SentencePiece's ▁▁▁x); with PreTrainedTokenizerFast AutoTokenizer uses
                     tokenizer.json as it is, so the file, the tokenizers library and transformers
                     agree on every recorded id). vocab_size 859.
  llama-hd80-bf16    LlamaForCausalLM with an explicit head_dim 80 != hidden/heads: hidden 128,
                     2 query heads / 1 key-value head (q width 160, k/v width 80), intermediate 176,
                     3 layers, rope_type "linear" factor 2 (positions halved), untied lm_head,
                     attention_bias false, max_position_embeddings 96, BF16. Config in the new
                     "rope_parameters" form exactly as save_pretrained writes it.
                     Tokenizer: SmolLM2-style byte-level BPE trained here (1000 tokens): specials
                     <|endoftext|>=0 <|im_start|>=1 <|im_end|>=2, pre-tokenizer
                     Sequence[Digits(individual_digits=true), ByteLevel(add_prefix_space=false,
                     use_regex=true)], ByteLevel post-processor (adds nothing) and decoder;
                     tokenizer_config ("tokenizer_class": "GPT2Tokenizer", as SmolLM2's) bos
                     <|im_start|>, eos = pad <|im_end|>, unk <|endoftext|>, and a ChatML
                     chat_template (inside tokenizer_config.json). reference.json adds a "chat" record (messages, the
                     rendered prompt, its ids, a 12-token greedy continuation).
  qwen2-f32          Qwen2ForCausalLM: q/k/v with biases, o_proj without; hidden 96, 6 heads / 2 kv
                     heads (head_dim 16), intermediate 160, 2 layers, rope_theta 1e6, tied
                     embeddings, max_position_embeddings 128, use_sliding_window false, F32.
                     vocab_size 1024 but the tokenizer has 1000 tokens (padded embedding rows, as
                     Qwen2 checkpoints have). Tokenizer: byte-level BPE with Qwen2's pipeline: NFC
                     normalizer, Split(Qwen2's regex, isolated) + ByteLevel(add_prefix_space=false,
                     use_regex=false), ByteLevel post-processor and decoder; 997 trained tokens, then
                     <|endoftext|>=997 <|im_start|>=998 <|im_end|>=999 as added special tokens;
                     no bos (tokenizer_config bos_token null), eos = pad = <|endoftext|>,
                     "tokenizer_class": "Qwen2Tokenizer". config.json bos_token_id = eos_token_id
                     = 997 (as Qwen2 checkpoints have both set although nothing adds a bos).
  gptj-f16           GPTJForCausalLM: n_embd 64, 4 heads of 16, rotary_dim 8 (rotary on the first 8
                     dims of each head, GPT-J's interleaved "rotate every two" layout), 2 layers,
                     n_positions 64, n_inner null (256), gelu_new, parallel attention + MLP from one
                     ln_1, separate q/k/v/out projections without bias, untied lm_head WITH bias, F16.
                     Tokenizer: GPT-2's truncated 1024-token vocabulary, vocab.json + merges.txt only.
  neox-parallel-f32  GPTNeoXForCausalLM: hidden 96, 3 heads of 32, rotary on 25% (8 dims,
                     half-split rotate_half layout), use_parallel_residual true, 2 layers,
                     intermediate 256, exact (erf) gelu, untied embed_out, max_position 80, F32.
                     config.json as save_pretrained writes it: "rope_parameters":
                     {"partial_rotary_factor", "rope_theta", "rope_type"} (no rotary_pct /
                     rotary_emb_base). Tokenizer: GPT-NeoX-style byte-level BPE trained here
                     (1024 tokens, <|endoftext|>=0 <|padding|>=1): NFC, ByteLevel(add_prefix_space
                     false, trim_offsets true, use_regex true), ByteLevel post-processor / decoder;
                     "tokenizer_class": "GPTNeoXTokenizer", bos = eos = unk = <|endoftext|>.
  neox-seq-f16-bin   GPT-NeoX with use_parallel_residual false (sequential), hidden 64, 4 heads of
                     16, rotary 50% (8 dims), 2 layers, intermediate 256, untied embed_out, F16, ONE
                     pytorch_model.bin written as make-family-fixtures.py writes .bin files (what
                     transformers 4 wrote; embed_out.weight stored, no tied alias). config.json in
                     the classic form transformers 4 / the Pythia checkpoints carry: top-level
                     "rotary_pct" + "rotary_emb_base" instead of "rope_parameters".
                     Tokenizer: as neox-parallel-f32.

Weights: random and large, as in make-family-fixtures.py (token embeddings std 0.3, untied heads
std 0.3, nn.Linear std gain/sqrt(in) with gain 1.5 for input projections q/k/v/gate/up/fc_in/
query_key_value/dense_h_to_4h and 2 for output projections o_proj/down/out_proj/fc_out/dense/
dense_4h_to_h; nonzero biases everywhere they exist: 0.2 for q/k/v, 0.1 otherwise, 0.2 for GPT-J's
lm_head bias; LayerNorm weights 1 + N(0, 0.2), biases N(0, 0.1); RMSNorm weights 1 + N(0, 0.2)).
Asserted: max |logit| >= 3, >= 4 distinct greedy tokens, every greedy step won by >= 0.01.

Reference outputs, as in make-family-fixtures.py: reference-logits.f32 (little-endian float32,
prompt_len x vocab_size, row-major) from the *ForCausalLM model loaded back from the fixture
directory with from_pretrained, upcast with .float(), eval mode, CPU, default attention
implementation (recorded); greedy: 24 new tokens, eos ignored, from model.generate, equal to an
argmax loop with the KV cache and to one without. feature_checks: how much the logits move when the
fixture's feature is dropped (llama3 / linear rope scaling, GQA head grouping, head_dim, Qwen2's
biases, rope theta, GPT-J's interleaved layout and lm_head bias, partial rotary, parallel
residual), computed with the independent float64 numpy implementations below (from config.json and
the stored tensors only), which also re-check the reference logits and greedy tokens in --verify.
tokenizer_cases: {text, ids, ids_no_special, decoded} from AutoTokenizer on the
fixture directory (ids with the special tokens, ids_no_special without, as make-family-fixtures.py names them;
decoded = decode(ids_no_special)); for tokenizer.json fixtures they are
also checked against the raw `tokenizers` pipeline of that file, for vocab.json + merges.txt against
make-fixtures.py's pure-Python BPE.

Everything is deterministic (seeded torch.Generator per fixture, torch.set_num_threads(1)) and
idempotent (each fixture directory is deleted and rebuilt); rebuilding reproduces the files byte
for byte on the same versions (torch 2.13.0+cpu, transformers 5.18.0, tokenizers 0.23.2).
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import math
import os
import shutil
import sys
import tempfile
import warnings

import numpy as np
import torch
import transformers
from safetensors import safe_open
from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors, trainers
from transformers import (
    AutoTokenizer,
    GenerationConfig,
    GPTJConfig,
    GPTJForCausalLM,
    GPTNeoXConfig,
    GPTNeoXForCausalLM,
    LlamaConfig,
    LlamaForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
)
from transformers.tokenization_utils_tokenizers import TokenizersBackend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "models")
LLAMA_TOKENIZER_DIR = os.path.join(ROOT, "tests", "fixtures", "tokenizer", "pipelines", "llama2-transformers")


def _load(name, fname):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "scripts", fname))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FF = _load("make_family_fixtures", "make-family-fixtures.py")  # .bin writing, manifests, helpers
MF = FF.MF  # make-fixtures.py: GPT-2 vocabulary, reference BPE, greedy loop, logits files

SEED = 1234
MAX_NEW_TOKENS = 24
CHAT_NEW_TOKENS = 12
MIN_MAX_ABS_LOGIT = 3.0
MIN_GREEDY_MARGIN = 1e-2
MIN_FEATURE_DELTA = 1e-2
MIN_PROMPT_TOKENS, MAX_PROMPT_TOKENS = 20, 30
TORCH_DTYPES = FF.TORCH_DTYPES

CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
          "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
CHAT_MESSAGES = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hi."}]

QWEN2_SPLIT = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
               "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")

# ASCII, digits, accents, CJK, emoji, space runs / leading / trailing, newlines.
TOKENIZER_CASES = [
    "Hello world, it's a test.",
    "Call 12345 or 555-0199 before 9:30.",
    "Cr\u00e8me br\u00fbl\u00e9e at the caf\u00e9, na\u00efve fa\u00e7ade",
    "\u4e2d\u6587\u5206\u8bcd\u6d4b\u8bd5 and \u65e5\u672c\u8a9e",
    "Emoji \U0001F600\U0001F44D\U0001F3FD ok \U0001F389",
    "  leading, trailing  and   multiple spaces  \nnew\n\nlines\r\n\tend ",
]

FIXTURES = [
    dict(
        name="llama-gqa-f32", family="llama", dtype="F32", layout="safetensors", config_form="classic",
        config=dict(vocab_size=859, hidden_size=144, num_attention_heads=9, num_key_value_heads=3,
                    intermediate_size=200, num_hidden_layers=2, rms_norm_eps=1e-5, max_position_embeddings=128,
                    tie_word_embeddings=True, bos_token_id=1, eos_token_id=2,
                    rope_theta=10000.0,
                    rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                  "high_freq_factor": 4.0, "original_max_position_embeddings": 32}),
        tokenizer="llama-sp",
        prompt="The caf\u00e9 sold 42 cakes by 9; then 17 more.",
        features=["rope_scaling_ignored", "gqa_heads_interleaved"],
    ),
    dict(
        name="llama-hd80-bf16", family="llama", dtype="BF16", layout="safetensors", config_form="saved",
        config=dict(vocab_size=1000, hidden_size=128, num_attention_heads=2, num_key_value_heads=1, head_dim=80,
                    intermediate_size=176, num_hidden_layers=3, rms_norm_eps=1e-5, max_position_embeddings=96,
                    tie_word_embeddings=False, attention_bias=False, bos_token_id=1, eos_token_id=2,
                    rope_theta=10000.0, rope_scaling={"rope_type": "linear", "factor": 2.0}),
        tokenizer="smollm2",
        prompt="At the caf\u00e9, 3 friends paid 12 euros.",
        features=["rope_scaling_ignored"],
        chat=True,
    ),
    dict(
        name="qwen2-f32", family="qwen2", dtype="F32", layout="safetensors", config_form="saved",
        config=dict(vocab_size=1024, hidden_size=96, num_attention_heads=6, num_key_value_heads=2,
                    intermediate_size=160, num_hidden_layers=2, max_position_embeddings=128, rope_theta=1000000.0,
                    tie_word_embeddings=True, use_sliding_window=False, bos_token_id=997, eos_token_id=997),
        tokenizer="qwen2",
        prompt="In 2024 the caf\u00e9 served 365 coffees.",
        features=["qkv_bias_dropped", "rope_theta_10000"],
    ),
    dict(
        name="gptj-f16", family="gptj", dtype="F16", layout="safetensors", config_form="saved",
        config=dict(vocab_size=1024, n_embd=64, n_head=4, rotary_dim=8, n_layer=2, n_positions=64, n_inner=None,
                    activation_function="gelu_new", bos_token_id=1023, eos_token_id=1023),
        tokenizer="gpt2-vocab+merges",
        prompt="The caf\u00e9 opened at 7 and closed at 11.",
        features=["rotary_half_split_layout", "rotary_full_head", "lm_head_bias_dropped"],
    ),
    dict(
        name="neox-parallel-f32", family="gpt_neox", dtype="F32", layout="safetensors", config_form="saved",
        config=dict(vocab_size=1024, hidden_size=96, num_attention_heads=3, rotary_pct=0.25,
                    use_parallel_residual=True, num_hidden_layers=2, intermediate_size=256, hidden_act="gelu",
                    tie_word_embeddings=False, max_position_embeddings=80, rotary_emb_base=10000,
                    bos_token_id=0, eos_token_id=0),
        tokenizer="neox",
        prompt="Our caf\u00e9 menu lists 14 teas, 6 cakes and 1 soup.",
        features=["parallel_residual_flipped", "rotary_full_head"],
    ),
    dict(
        name="neox-seq-f16-bin", family="gpt_neox", dtype="F16", layout="bin", config_form="classic",
        config=dict(vocab_size=1024, hidden_size=64, num_attention_heads=4, rotary_pct=0.5,
                    use_parallel_residual=False, num_hidden_layers=2, intermediate_size=256, hidden_act="gelu",
                    tie_word_embeddings=False, max_position_embeddings=80, rotary_emb_base=10000,
                    bos_token_id=0, eos_token_id=0),
        tokenizer="neox",
        prompt="A caf\u00e9 in Rome sold 250 espressos on Monday.",
        features=["parallel_residual_flipped", "rotary_interleaved_layout"],
    ),
]

FAMILY_CLASSES = {
    "llama": (LlamaConfig, LlamaForCausalLM),
    "qwen2": (Qwen2Config, Qwen2ForCausalLM),
    "gptj": (GPTJConfig, GPTJForCausalLM),
    "gpt_neox": (GPTNeoXConfig, GPTNeoXForCausalLM),
}

NOTES = {
    "llama": "Llama: all nn.Linear [out, in], no biases; RMSNorm x * rsqrt(mean(x^2) + eps) * w (weight only); "
             "q/k rotated with the half-split rotate_half layout over the whole head_dim (cos/sin of "
             "position * inv_freq, frequencies repeated [f0..f(d/2-1), f0..f(d/2-1)]); GQA: query head h uses "
             "key/value head h // (num_attention_heads / num_key_value_heads); scores / sqrt(head_dim); "
             "o_proj input width num_attention_heads * head_dim; MLP down(silu(gate(x)) * up(x)).",
    "qwen2": "Qwen2: as Llama, plus biases on q_proj/k_proj/v_proj (none on o_proj or the MLP); rms_norm_eps "
             "1e-6 (the config default); no sliding window (use_sliding_window false, layer_types all "
             "full_attention).",
    "gptj": "GPT-J: one ln_1 feeds both attention and MLP, x = x + attn(ln_1(x)) + mlp(ln_1(x)); separate "
            "q_proj/k_proj/v_proj/out_proj WITHOUT biases, fc_in/fc_out with biases, all nn.Linear [out, in]; "
            "rotary only on the first rotary_dim dims of each head, interleaved pairs (2i, 2i+1) rotated by "
            "position * 10000^(-2i/rotary_dim); scores / sqrt(head_dim); gelu_new; untied lm_head WITH bias.",
    "gpt_neox": "GPT-NeoX: fused query_key_value [3*hidden, hidden] + bias whose output splits PER HEAD as "
                "[q|k|v] (view [T, heads, 3*head_dim]); rotary on the first head_dim*partial_rotary_factor "
                "dims, half-split rotate_half layout within them; scores / sqrt(head_dim); use_parallel_residual "
                "true: x = x + attn(ln1(x)) + mlp(ln2(x)); false: x = x + attn(ln1(x)); x = x + mlp(ln2(x)); "
                "exact erf gelu; LayerNorm eps layer_norm_eps; untied embed_out (no bias).",
}


# --------------------------------------------------------------------------------------------
# Tokenizers
# --------------------------------------------------------------------------------------------


def training_corpus():
    """Deterministic text: the GPT-2 token strings 256..5999 (as make-family-fixtures.py's BLOOM corpus)
    and the tokenizer cases."""
    return FF.bloom_training_corpus()[:-len(FF.TOKENIZER_CASES)] + TOKENIZER_CASES


def train_bpe(pre, normalizer, specials, vocab_size):
    tok = Tokenizer(models_bpe())
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=1, show_progress=False,
        special_tokens=[AddedToken(s, special=True, normalized=False) for s in specials],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(training_corpus(), trainer=trainer)
    assert tok.get_vocab_size() == vocab_size, tok.get_vocab_size()
    for i, s in enumerate(specials):
        assert tok.token_to_id(s) == i, s
    tok.decoder = decoders.ByteLevel()
    return tok


def models_bpe():
    from tokenizers import models

    return models.BPE(unk_token=None, fuse_unk=False)


def save_backend(tok, out_dir, tmp, tokenizer_class=None, chat_template=None, **specials):
    hf = TokenizersBackend(tokenizer_object=tok, **specials)
    if chat_template is not None:
        hf.chat_template = chat_template
    saved = os.path.join(tmp, "tokenizer-saved")
    hf.save_pretrained(saved)
    shutil.copy(os.path.join(saved, "tokenizer.json"), out_dir)
    with open(os.path.join(saved, "tokenizer_config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    if chat_template is not None:
        assert cfg.get("chat_template") == chat_template or os.path.exists(os.path.join(saved, "chat_template.jinja"))
        cfg["chat_template"] = chat_template  # in tokenizer_config.json, as the Hub's SmolLM2 has it
    if tokenizer_class:
        cfg["tokenizer_class"] = tokenizer_class
    FF.write_json(os.path.join(out_dir, "tokenizer_config.json"), cfg)


def write_tokenizer(spec, out_dir, tmp):
    kind = spec["tokenizer"]
    if kind == "llama-sp":
        shutil.copy(os.path.join(LLAMA_TOKENIZER_DIR, "tokenizer.json"), out_dir)
        with open(os.path.join(LLAMA_TOKENIZER_DIR, "tokenizer_config.json"), encoding="utf-8") as f:
            cfg = json.load(f)
        # "LlamaTokenizer" makes transformers 5 rebuild the pipeline (Metaspace prepend_scheme "first",
        # which does not prepend "▁" to text that starts with a space) instead of using the
        # file's Prepend + Replace normalizer; PreTrainedTokenizerFast (as Llama 3 repos name it)
        # reads tokenizer.json as it is, so AutoTokenizer and the file agree on every case.
        assert cfg["tokenizer_class"] == "LlamaTokenizer"
        cfg["tokenizer_class"] = "PreTrainedTokenizerFast"
        FF.write_json(os.path.join(out_dir, "tokenizer_config.json"), cfg)
    elif kind == "gpt2-vocab+merges":
        vocab, merges = FF.gpt2_truncated()
        MF.write_vocab_files(out_dir, vocab, merges)
    elif kind == "smollm2":
        tok = train_bpe(
            pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                     pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]),
            None, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], 1000)
        tok.post_processor = processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True)
        save_backend(tok, out_dir, tmp, "GPT2Tokenizer", chat_template=CHATML, bos_token="<|im_start|>", eos_token="<|im_end|>",
                     unk_token="<|endoftext|>", pad_token="<|im_end|>")
    elif kind == "qwen2":
        tok = train_bpe(
            pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated", invert=False),
                                     pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]),
            normalizers.NFC(), [], 997)
        tok.add_special_tokens([AddedToken(s, special=True, normalized=False)
                                for s in ("<|endoftext|>", "<|im_start|>", "<|im_end|>")])
        assert tok.token_to_id("<|endoftext|>") == 997 and tok.get_vocab_size() == 1000
        tok.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
        save_backend(tok, out_dir, tmp, "Qwen2Tokenizer", bos_token=None, eos_token="<|endoftext|>",
                     pad_token="<|endoftext|>")
    else:
        assert kind == "neox", kind
        tok = train_bpe(pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
                        normalizers.NFC(), ["<|endoftext|>", "<|padding|>"], 1024)
        tok.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
        save_backend(tok, out_dir, tmp, "GPTNeoXTokenizer", bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                     unk_token="<|endoftext|>")


def load_tokenizer(directory, vocab_size):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tok = AutoTokenizer.from_pretrained(directory)
    assert 256 < len(tok) <= vocab_size, (directory, len(tok), vocab_size)
    return tok


def independent_encoder(directory):
    """encode(text, add_special_tokens) not going through transformers: the raw tokenizers pipeline of
    tokenizer.json, or make-fixtures.py's pure-Python BPE for vocab.json + merges.txt."""
    tj = os.path.join(directory, "tokenizer.json")
    if os.path.exists(tj):
        raw = Tokenizer.from_file(tj)
        return lambda text, add_special_tokens=True: raw.encode(text, add_special_tokens=add_special_tokens).ids
    vocab, merges = FF.gpt2_truncated()
    ref = FF.RefTokenizer("gpt_neo", vocab, merges)
    return ref.encode


def as_ids(x):
    if hasattr(x, "keys"):
        x = x["input_ids"]
    if hasattr(x, "tolist"):
        x = x.tolist()
    return [int(i) for i in x]


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


# transformers 5 names GPT-NeoX's head module lm_head but saves (and loads) it as embed_out.weight, the
# name every GPT-NeoX checkpoint uses; state_dict() gives the module name.
STORED_NAME = {"gpt_neox": {"lm_head.weight": "embed_out.weight"}}

IN_PROJ = {"q_proj", "k_proj", "v_proj", "gate_proj", "up_proj", "fc_in", "query_key_value", "dense_h_to_4h"}
OUT_PROJ = {"o_proj", "down_proj", "out_proj", "fc_out", "dense", "dense_4h_to_h"}


@torch.no_grad()
def init_weights(model, gen):
    def normal(shape, std, mean=0.0):
        return torch.randn(shape, generator=gen, dtype=torch.float32) * std + mean

    emb = model.get_input_embeddings()
    head = model.get_output_embeddings()
    seen = set()
    for mname, module in model.named_modules():
        leaf = mname.split(".")[-1]
        if isinstance(module, torch.nn.LayerNorm):
            module.weight.copy_(normal(module.weight.shape, 0.2, 1.0))
            module.bias.copy_(normal(module.bias.shape, 0.1))
        elif type(module).__name__.endswith("RMSNorm"):
            module.weight.copy_(normal(module.weight.shape, 0.2, 1.0))
        elif isinstance(module, torch.nn.Embedding):
            assert module is emb, mname
            module.weight.copy_(normal(module.weight.shape, 0.3))
        elif isinstance(module, torch.nn.Linear):
            if module is head:
                if module.weight is emb.weight:
                    continue  # tied
                module.weight.copy_(normal(module.weight.shape, 0.3))
                if module.bias is not None:
                    module.bias.copy_(normal(module.bias.shape, 0.2))
            else:
                gain = 1.5 if leaf in IN_PROJ else 2.0 if leaf in OUT_PROJ else None
                assert gain is not None, f"unexpected linear {mname}"
                module.weight.copy_(normal(module.weight.shape, gain / math.sqrt(module.in_features)))
                if module.bias is not None:
                    std = 0.2 if leaf in ("q_proj", "k_proj", "v_proj", "query_key_value") else 0.1
                    module.bias.copy_(normal(module.bias.shape, std))
        else:
            continue
        seen.update(id(p) for p in module.parameters(recurse=False))
    missing = [n for n, p in model.named_parameters() if id(p) not in seen]
    assert not missing, missing


def write_config_json(path, cfg):
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(cfg, indent=2, sort_keys=True) + "\n")  # as PretrainedConfig.to_json_file


def rewrite_classic_config(spec, path):
    """transformers 5 writes rope_parameters; the Hub's checkpoints carry the classic fields."""
    with open(path, encoding="utf-8") as f:
        cfg = json.load(f)
    rp = cfg.pop("rope_parameters")
    if spec["family"] == "llama":
        cfg["rope_theta"] = rp.pop("rope_theta")
        cfg["rope_scaling"] = rp
    else:
        assert spec["family"] == "gpt_neox" and rp["rope_type"] == "default", rp
        cfg["rotary_pct"] = rp["partial_rotary_factor"]
        cfg["rotary_emb_base"] = rp["rope_theta"]
    write_config_json(path, cfg)


def write_bin(model, safetensors_dir, out_dir, spec):
    """pytorch_model.bin as transformers 4 wrote it (see make-family-fixtures.py): the state_dict; these
    fixtures' heads are untied, so its names are exactly save_pretrained's safetensors names."""
    renamed = STORED_NAME.get(spec["family"], {})
    sd = {renamed.get(k, k): v for k, v in model.state_dict().items()}
    st = FF.stored_tensors(safetensors_dir)
    assert set(sd) == set(st), sorted(set(sd) ^ set(st))
    for k, v in st.items():
        assert torch.equal(sd[k], v), k
    path = os.path.join(out_dir, "pytorch_model.bin")
    torch.save({k: v.contiguous() for k, v in sd.items()}, path)
    FF.pin_serialization_id(path, spec["name"])


def check_layout(spec, directory):
    files = sorted(os.listdir(directory))
    st = [f for f in files if f.endswith(".safetensors")]
    bins = [f for f in files if f.endswith(".bin")]
    if spec["layout"] == "safetensors":
        assert st == ["model.safetensors"] and not bins, files
    else:
        assert bins == ["pytorch_model.bin"] and not st, files
    dtypes = {v.dtype for v in FF.stored_tensors(directory).values()}
    assert dtypes == {TORCH_DTYPES[spec["dtype"]]}, dtypes


def load_reference_model(spec, directory):
    _, model_cls = FAMILY_CLASSES[spec["family"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, info = model_cls.from_pretrained(directory, output_loading_info=True)
    assert not info["missing_keys"], info["missing_keys"]
    assert not info.get("mismatched_keys"), info["mismatched_keys"]
    assert not info["unexpected_keys"], info["unexpected_keys"]
    assert model.dtype == TORCH_DTYPES[spec["dtype"]], model.dtype
    model = model.float().eval()
    stored = FF.stored_tensors(directory)
    tied = model.get_output_embeddings().weight is model.get_input_embeddings().weight
    assert tied == bool(spec["config"].get("tie_word_embeddings", False)), (tied, spec["name"])
    renamed = STORED_NAME.get(spec["family"], {})
    for name, p in model.named_parameters():
        name = renamed.get(name, name)
        assert torch.equal(p.detach(), stored[name].float()), f"{directory}: {name} differs from the file"
    assert len(stored) == len(list(model.named_parameters())), sorted(stored)
    return model


@torch.no_grad()
def greedy_generate(model, prompt_ids, n_new):
    gc = GenerationConfig(do_sample=False, max_new_tokens=n_new, min_new_tokens=n_new, eos_token_id=None,
                          bos_token_id=None, pad_token_id=0, use_cache=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ids = torch.tensor([prompt_ids])
        out = model.generate(ids, attention_mask=torch.ones_like(ids), generation_config=gc)
    return out[0, len(prompt_ids) :].tolist()


def rope_check(spec, model):
    """llama3 / linear: the model's inv_freq against the unscaled one (and against numpy's)."""
    cfg = model.config
    hd = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    theta = cfg.rope_parameters["rope_theta"]
    base = 1.0 / theta ** (np.arange(0, hd, 2) / hd)
    got = model.model.rotary_emb.inv_freq.double().numpy()
    with open(os.path.join(OUT, spec["name"], "config.json"), encoding="utf-8") as f:
        mine = np_inv_freq(json.load(f), hd)
    assert np.allclose(got, mine, rtol=1e-6), (got, mine)
    out = {"rope": dict(cfg.rope_parameters), "inv_freq_unscaled": base.tolist(), "inv_freq": got.tolist()}
    if cfg.rope_parameters["rope_type"] == "llama3":
        ratio = got / base
        unchanged = int(np.sum(np.isclose(ratio, 1.0)))
        divided = int(np.sum(np.isclose(ratio, 1.0 / cfg.rope_parameters["factor"])))
        smoothed = len(ratio) - unchanged - divided
        assert unchanged >= 1 and divided >= 1 and smoothed >= 1, ratio
        out["llama3_branches"] = {"unchanged": unchanged, "smoothed": smoothed, "divided_by_factor": divided}
    return out


# --------------------------------------------------------------------------------------------
# Independent numpy implementations (float64, from config.json and the stored tensors only)
# --------------------------------------------------------------------------------------------


def rope_params(cfg):
    if "rope_parameters" in cfg:
        return dict(cfg["rope_parameters"])
    rp = dict(cfg.get("rope_scaling") or {})
    rp.setdefault("rope_type", rp.pop("type", "default"))
    rp["rope_theta"] = cfg.get("rope_theta", cfg.get("rotary_emb_base", 10000.0))
    if "rotary_pct" in cfg:
        rp["partial_rotary_factor"] = cfg["rotary_pct"]
    return rp


def np_inv_freq(cfg, dim, override=None):
    rp = rope_params(cfg)
    rp.update(override or {})
    inv = 1.0 / rp["rope_theta"] ** (np.arange(0, dim, 2, dtype=np.float64) / dim)
    t = rp["rope_type"]
    if t == "linear":
        inv = inv / rp["factor"]
    elif t == "llama3":
        f, lo, hi, old = rp["factor"], rp["low_freq_factor"], rp["high_freq_factor"], rp["original_max_position_embeddings"]
        wl = 2 * math.pi / inv
        smooth = (old / wl - lo) / (hi - lo)
        inv = np.where(wl > old / lo, inv / f, np.where(wl < old / hi, inv, (1 - smooth) * inv / f + smooth * inv))
    else:
        assert t == "default", t
    return inv


def rot_half(x, cos, sin):  # x [T, H, d]; cos/sin [T, d/2]
    h = x.shape[-1] // 2
    x1, x2 = x[..., :h], x[..., h:]
    c, s = cos[:, None], sin[:, None]
    return np.concatenate([x1 * c - x2 * s, x2 * c + x1 * s], -1)


def rot_pairs(x, cos, sin):  # interleaved (2i, 2i+1)
    x0, x1 = x[..., 0::2], x[..., 1::2]
    c, s = cos[:, None], sin[:, None]
    out = np.empty_like(x)
    out[..., 0::2] = x0 * c - x1 * s
    out[..., 1::2] = x1 * c + x0 * s
    return out


def attention(q, k, v, causal, kv_of_head):
    heads = []
    for h in range(q.shape[1]):
        kh = kv_of_head(h)
        s = q[:, h] @ k[:, kh].T / math.sqrt(q.shape[-1]) + causal
        heads.append(FF._softmax(s) @ v[:, kh])
    return np.concatenate(heads, -1)


def numpy_forward(directory, ids, drop=None):
    """drop: a feature_checks name; the forward then computes what an engine lacking that feature would."""
    with open(os.path.join(directory, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    w = {k: v.double().numpy() for k, v in FF.stored_tensors(directory).items()}
    fam = cfg["model_type"]
    T = len(ids)
    pos = np.arange(T, dtype=np.float64)
    causal = np.triu(np.full((T, T), -np.inf), 1)

    def lin(x, p, bias=True):
        y = x @ w[p + ".weight"].T
        return y + w[p + ".bias"] if bias and p + ".bias" in w else y

    def ln(x, p, eps):
        return FF._ln(x, w[p + ".weight"], w[p + ".bias"], eps)

    if fam in ("llama", "qwen2"):
        w = FF._strip(w, "model.")
        nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
        hd = cfg.get("head_dim") or cfg["hidden_size"] // nh
        if drop == "head_dim_from_hidden":
            hd = cfg["hidden_size"] // nh
        eps = cfg["rms_norm_eps"]
        override = {"rope_type": "default"} if drop == "rope_scaling_ignored" else \
            {"rope_theta": 10000.0} if drop == "rope_theta_10000" else None
        ang = pos[:, None] * np_inv_freq(cfg, hd, override)[None]
        cos, sin = np.cos(ang), np.sin(ang)
        group = nh // nkv
        kv_of_head = (lambda h: h % nkv) if drop == "gqa_heads_interleaved" else (lambda h: h // group)
        rms = lambda x, p: x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w[p + ".weight"]
        use_bias = drop != "qkv_bias_dropped"
        h = w["embed_tokens.weight"][ids]
        for i in range(cfg["num_hidden_layers"]):
            L = f"layers.{i}."
            a = rms(h, L + "input_layernorm")
            q = lin(a, L + "self_attn.q_proj", use_bias).reshape(T, nh, hd)
            k = lin(a, L + "self_attn.k_proj", use_bias).reshape(T, nkv, hd)
            v = lin(a, L + "self_attn.v_proj", use_bias).reshape(T, nkv, hd)
            q, k = rot_half(q, cos, sin), rot_half(k, cos, sin)
            h = h + lin(attention(q, k, v, causal, kv_of_head), L + "self_attn.o_proj")
            a = rms(h, L + "post_attention_layernorm")
            g = lin(a, L + "mlp.gate_proj")
            h = h + lin(g / (1 + np.exp(-g)) * lin(a, L + "mlp.up_proj"), L + "mlp.down_proj")
        h = rms(h, "norm")
        return h @ w.get("lm_head.weight", w["embed_tokens.weight"]).T

    if fam == "gptj":
        nh, eps, rd = cfg["n_head"], cfg["layer_norm_epsilon"], cfg["rotary_dim"]
        assert cfg["activation_function"] == "gelu_new"
        hd = cfg["n_embd"] // nh
        if drop == "rotary_full_head":
            rd = hd
        ang = pos[:, None] * (1.0 / 10000 ** (np.arange(0, rd, 2) / rd))[None]
        cos, sin = np.cos(ang), np.sin(ang)
        rot = rot_half if drop == "rotary_half_split_layout" else rot_pairs
        gelu = lambda v: 0.5 * v * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (v + 0.044715 * v**3)))
        t = FF._strip(w, "transformer.")
        h = t["wte.weight"][ids]
        wl = w
        w = t
        for i in range(cfg["n_layer"]):
            L = f"h.{i}."
            a = ln(h, L + "ln_1", eps)
            q = lin(a, L + "attn.q_proj").reshape(T, nh, hd)
            k = lin(a, L + "attn.k_proj").reshape(T, nh, hd)
            v = lin(a, L + "attn.v_proj").reshape(T, nh, hd)
            q = np.concatenate([rot(q[..., :rd], cos, sin), q[..., rd:]], -1)
            k = np.concatenate([rot(k[..., :rd], cos, sin), k[..., rd:]], -1)
            attn = lin(attention(q, k, v, causal, lambda j: j), L + "attn.out_proj")
            h = h + attn + lin(gelu(lin(a, L + "mlp.fc_in")), L + "mlp.fc_out")
        h = ln(h, "ln_f", eps)
        out = h @ wl["lm_head.weight"].T
        return out if drop == "lm_head_bias_dropped" else out + wl["lm_head.bias"]

    assert fam == "gpt_neox", fam
    nh, eps = cfg["num_attention_heads"], cfg["layer_norm_eps"]
    assert cfg["hidden_act"] == "gelu"
    hd = cfg["hidden_size"] // nh
    rp = rope_params(cfg)
    rd = hd if drop == "rotary_full_head" else int(hd * rp["partial_rotary_factor"])
    ang = pos[:, None] * (1.0 / rp["rope_theta"] ** (np.arange(0, rd, 2) / rd))[None]
    cos, sin = np.cos(ang), np.sin(ang)
    rot = rot_pairs if drop == "rotary_interleaved_layout" else rot_half
    parallel = cfg["use_parallel_residual"] != (drop == "parallel_residual_flipped")
    from math import erf

    verf = np.vectorize(erf)
    gelu = lambda v: 0.5 * v * (1.0 + verf(v / math.sqrt(2.0)))
    head = w["embed_out.weight"]
    w = FF._strip(w, "gpt_neox.")
    h = w["embed_in.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        L = f"layers.{i}."
        a = ln(h, L + "input_layernorm", eps)
        qkv = lin(a, L + "attention.query_key_value").reshape(T, nh, 3 * hd)
        q, k, v = qkv[..., :hd], qkv[..., hd : 2 * hd], qkv[..., 2 * hd :]
        q = np.concatenate([rot(q[..., :rd], cos, sin), q[..., rd:]], -1)
        k = np.concatenate([rot(k[..., :rd], cos, sin), k[..., rd:]], -1)
        attn = lin(attention(q, k, v, causal, lambda j: j), L + "attention.dense")
        mlp = lambda x: lin(gelu(lin(ln(x, L + "post_attention_layernorm", eps), L + "mlp.dense_h_to_4h")),
                            L + "mlp.dense_4h_to_h")
        if parallel:
            h = h + attn + mlp(h)
        else:
            h = h + attn
            h = h + mlp(h)
    return ln(h, "final_layer_norm", eps) @ head.T


# --------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------


def config_summary(cfg):
    keys = {
        "llama": ["hidden_size", "num_attention_heads", "num_key_value_heads", "head_dim", "intermediate_size",
                  "num_hidden_layers", "rms_norm_eps", "max_position_embeddings", "rope_parameters",
                  "attention_bias", "mlp_bias", "hidden_act"],
        "qwen2": ["hidden_size", "num_attention_heads", "num_key_value_heads", "intermediate_size",
                  "num_hidden_layers", "rms_norm_eps", "max_position_embeddings", "rope_parameters",
                  "use_sliding_window", "sliding_window", "max_window_layers", "layer_types", "hidden_act"],
        "gptj": ["n_embd", "n_head", "n_layer", "rotary_dim", "n_positions", "n_inner", "activation_function",
                 "layer_norm_epsilon"],
        "gpt_neox": ["hidden_size", "num_attention_heads", "num_hidden_layers", "intermediate_size",
                     "rope_parameters", "use_parallel_residual", "hidden_act", "layer_norm_eps",
                     "max_position_embeddings", "attention_bias"],
    }[cfg.model_type]
    out = {k: getattr(cfg, k) for k in keys}
    out.update(vocab_size=cfg.vocab_size, bos_token_id=cfg.bos_token_id, eos_token_id=cfg.eos_token_id,
               pad_token_id=cfg.pad_token_id, tie_word_embeddings=cfg.tie_word_embeddings)
    return json.loads(json.dumps(out))


def tokenizer_cases(tok, enc):
    cases = []
    for text in TOKENIZER_CASES:
        with_sp = as_ids(tok(text)["input_ids"])
        without = as_ids(tok(text, add_special_tokens=False)["input_ids"])
        assert with_sp == enc(text, True) and without == enc(text, False), (text, with_sp, enc(text, True))
        cases.append({"text": text, "ids": with_sp, "ids_no_special": without,
                      "decoded": tok.decode(without)})
    return cases


def chat_record(tok, model):
    rendered = tok.apply_chat_template(CHAT_MESSAGES, tokenize=False, add_generation_prompt=True)
    ids = as_ids(tok.apply_chat_template(CHAT_MESSAGES, tokenize=True, add_generation_prompt=True))
    assert ids == as_ids(tok(rendered, add_special_tokens=False)["input_ids"])
    start, end = tok.convert_tokens_to_ids("<|im_start|>"), tok.convert_tokens_to_ids("<|im_end|>")
    assert ids.count(start) == 3 and ids.count(end) == 2, ids
    tokens = greedy_generate(model, ids, CHAT_NEW_TOKENS)
    manual, margin = MF.greedy_manual(model, ids, CHAT_NEW_TOKENS)
    assert tokens == manual, (tokens, manual)
    return {"messages": CHAT_MESSAGES, "add_generation_prompt": True, "rendered": rendered, "ids": ids,
            "greedy": {"max_new_tokens": CHAT_NEW_TOKENS, "eos_ignored": True, "tokens": tokens,
                       "min_margin": margin}}


def feature_checks(spec, directory, ids, logits):
    deltas = {}
    for name in spec["features"]:
        deltas[name] = float(np.abs(numpy_forward(directory, ids, drop=name) - logits).max())
        assert deltas[name] >= MIN_FEATURE_DELTA, f"{spec['name']}: {name} changes the logits by only {deltas[name]}"
    return deltas


def build_fixture(spec, tmp_root):
    name = spec["name"]
    out_dir = os.path.join(OUT, name)
    if os.path.exists(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    tmp = os.path.join(tmp_root, name)
    os.makedirs(tmp)

    cfg_cls, model_cls = FAMILY_CLASSES[spec["family"]]
    config = cfg_cls(**copy.deepcopy(spec["config"]))
    torch.manual_seed(SEED)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = model_cls(config).eval()
    init_weights(model, torch.Generator().manual_seed(SEED))
    model = model.to(TORCH_DTYPES[spec["dtype"]])
    rope_before = copy.deepcopy(model.config.rope_parameters) if hasattr(model.config, "rope_parameters") else None
    if spec["layout"] == "safetensors":
        model.save_pretrained(out_dir)
    else:
        saved = os.path.join(tmp, "model-saved")
        model.save_pretrained(saved)
        for fname in ("config.json", "generation_config.json"):
            shutil.copy(os.path.join(saved, fname), out_dir)
        write_bin(model, saved, out_dir, spec)
    del model
    if spec["config_form"] == "classic":
        rewrite_classic_config(spec, os.path.join(out_dir, "config.json"))
    check_layout(spec, out_dir)

    write_tokenizer(spec, out_dir, tmp)
    vocab_size = spec["config"]["vocab_size"]
    tok = load_tokenizer(out_dir, vocab_size)
    enc = independent_encoder(out_dir)
    cases = tokenizer_cases(tok, enc)
    prompt_ids = as_ids(tok(spec["prompt"])["input_ids"])
    assert prompt_ids == enc(spec["prompt"]), (prompt_ids, enc(spec["prompt"]))
    assert MIN_PROMPT_TOKENS <= len(prompt_ids) <= MAX_PROMPT_TOKENS, (name, len(prompt_ids))
    max_pos = spec["config"].get("max_position_embeddings", spec["config"].get("n_positions"))
    assert len(prompt_ids) + MAX_NEW_TOKENS <= max_pos, (name, len(prompt_ids), max_pos)

    model = load_reference_model(spec, out_dir)
    if rope_before is not None:  # the classic config.json reads back as the same rope parameters
        assert model.config.rope_parameters == rope_before, (model.config.rope_parameters, rope_before)
    logits = FF.logits_of(model, prompt_ids)
    assert logits.shape == (len(prompt_ids), vocab_size) and logits.dtype == torch.float32
    MF.write_logits(os.path.join(out_dir, "reference-logits.f32"), logits)
    tokens = greedy_generate(model, prompt_ids, MAX_NEW_TOKENS)
    manual, margin = MF.greedy_manual(model, prompt_ids, MAX_NEW_TOKENS)
    nocache = FF.greedy_nocache(model, prompt_ids, MAX_NEW_TOKENS)
    assert len(tokens) == MAX_NEW_TOKENS and tokens == manual == nocache, (tokens, manual, nocache)
    assert max(tokens) < len(tok), tokens  # never a padding row
    deltas = feature_checks(spec, out_dir, prompt_ids, logits.double().numpy())

    max_abs = float(logits.abs().max())
    distinct = len(set(tokens))
    assert max_abs >= MIN_MAX_ABS_LOGIT, f"{name}: logits too flat ({max_abs})"
    assert distinct >= 4, f"{name}: degenerate greedy continuation {tokens}"
    assert margin >= MIN_GREEDY_MARGIN, f"{name}: greedy margin too small ({margin})"

    reference = {
        "generator": "scripts/make-rotary-fixtures.py",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "seed": SEED,
        "family": spec["family"],
        "architecture": model_cls.__name__,
        "dtype": spec["dtype"],
        "weights_format": spec["layout"],
        "config_form": spec["config_form"],
        "attn_implementation": model.config._attn_implementation,
        "prompt_text": spec["prompt"],
        "prompt_ids": prompt_ids,
        "logits_file": "reference-logits.f32",
        "greedy": {"prompt_ids": prompt_ids, "max_new_tokens": MAX_NEW_TOKENS, "tokens": tokens},
        "greedy_min_margin": margin,
        "config": config_summary(model.config),
        "feature_checks": {k: round(v, 6) for k, v in deltas.items()},
        "stored_tensors": FF.tensor_manifest(out_dir),
        "notes": NOTES[spec["family"]],
        "tokenizer_size": len(tok),
        "tokenizer_cases": cases,
    }
    if spec["family"] == "llama":
        reference["rope_check"] = rope_check(spec, model)
    if spec.get("chat"):
        reference["chat"] = chat_record(tok, model)
    FF.write_json(os.path.join(out_dir, "reference.json"), reference)

    for fname in os.listdir(out_dir):
        os.chmod(os.path.join(out_dir, fname), 0o644)
    print(
        f"{name:18s} {spec['family']:8s} {spec['dtype']:4s} {spec['layout']:11s} prompt={len(prompt_ids)} tokens "
        f"max|logit|={max_abs:.2f} distinct greedy={distinct}/{MAX_NEW_TOKENS} min margin={margin:.4f}\n"
        f"{'':18s} feature deltas: " + ", ".join(f"{k}={v:.3g}" for k, v in deltas.items()) + "\n"
        f"{'':18s} greedy: {tok.decode(tokens)!r}"
    )


# --------------------------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------------------------


def verify_fixture(spec):
    name = spec["name"]
    d = os.path.join(OUT, name)
    with open(os.path.join(d, "reference.json"), encoding="utf-8") as f:
        ref = json.load(f)
    ids = ref["prompt_ids"]
    vocab_size = spec["config"]["vocab_size"]
    stored = MF.read_logits(os.path.join(d, ref["logits_file"]), len(ids), vocab_size)
    check_layout(spec, d)
    assert ref["stored_tensors"] == FF.tensor_manifest(d), f"{name}: stored tensor manifest out of date"
    with open(os.path.join(d, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    if spec["family"] == "gptj":  # GPT-J's rotary is rotary_dim + a hard-coded base 10000, no rope fields
        assert "rotary_dim" in cfg and not {"rope_parameters", "rope_theta", "rope_scaling"} & set(cfg), sorted(cfg)
    else:
        assert ("rope_parameters" in cfg) == (spec["config_form"] == "saved"), sorted(cfg)

    # 1. Hugging Face, reloaded from disk, upcast to fp32: identical logits and greedy tokens.
    model = load_reference_model(spec, d)
    hf = FF.logits_of(model, ids).numpy()
    hf_diff = float(np.abs(hf - stored).max())
    assert hf_diff == 0.0, f"{name}: HF logits differ from the file by {hf_diff}"
    assert greedy_generate(model, ids, ref["greedy"]["max_new_tokens"]) == ref["greedy"]["tokens"]
    if spec["family"] == "llama":
        assert ref["rope_check"] == json.loads(json.dumps(rope_check(spec, model)))

    # 2. Independent numpy implementation: close logits, same greedy continuation (no cache).
    npl = numpy_forward(d, ids)
    np_diff = float(np.abs(npl - stored).max())
    assert np_diff < 1e-3, f"{name}: numpy {spec['family']} differs from the reference by {np_diff}"
    seq = list(ids)
    for _ in range(ref["greedy"]["max_new_tokens"]):
        seq.append(int(np.argmax(numpy_forward(d, seq)[-1])))
    assert seq[len(ids) :] == ref["greedy"]["tokens"], f"{name}: numpy greedy differs"

    # 3. Tokenizer: AutoTokenizer on the fixture and the independent encoder.
    tok = load_tokenizer(d, vocab_size)
    enc = independent_encoder(d)
    assert as_ids(tok(ref["prompt_text"])["input_ids"]) == ids == enc(ref["prompt_text"])
    assert ref["tokenizer_cases"] == tokenizer_cases(tok, enc)
    if "chat" in ref:
        assert ref["chat"] == json.loads(json.dumps(chat_record(tok, model))), f"{name}: chat record differs"

    size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    assert size < 2_000_000, f"{name}: {size} bytes"
    print(
        f"verified {name:18s} files={sorted(os.listdir(d))}\n"
        f"{'':9s}{'':18s} HF max diff={hf_diff:g}  numpy max diff={np_diff:.2e}  size={size / 1e6:.2f} MB"
    )
    return size


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--verify", action="store_true", help="only verify the fixtures on disk")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="only these fixtures")
    args = parser.parse_args()

    torch.set_num_threads(1)  # bit-for-bit reproducible CPU math
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    specs = FIXTURES
    if args.only:
        unknown = set(args.only) - {s["name"] for s in FIXTURES}
        assert not unknown, unknown
        specs = [s for s in FIXTURES if s["name"] in args.only]

    if not args.verify:
        os.makedirs(OUT, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp_root:
            for spec in specs:
                build_fixture(spec, tmp_root)
    total = sum(verify_fixture(spec) for spec in specs)
    print(f"all {len(specs)} fixtures verified, {total / 1e6:.2f} MB in total")


if __name__ == "__main__":
    sys.exit(main())
