#!/usr/bin/env python3
"""Build the golden OPT / BLOOM / GPT-Neo test fixtures under tests/fixtures/models/.

    python3 scripts/make-family-fixtures.py            # (re)build every fixture, then verify them
    python3 scripts/make-family-fixtures.py --verify   # only verify the fixtures already on disk
    python3 scripts/make-family-fixtures.py --only opt-f32 bloom-bf16   # a subset

The companion of scripts/make-fixtures.py (the GPT-2 fixtures), with the same conventions: each
fixture is a small, randomly initialised checkpoint laid out the way Hugging Face checkpoints of
that family are found in the wild, plus the answers the engine under test must reproduce.

  opt-f32          OPTForCausalLM, pre-LN (do_layer_norm_before true, final layer norm), ReLU,
                   word_embed_proj_dim == hidden_size 64, 4 heads of 16, 2 layers, ffn_dim 192
                   (not 4*hidden), max_position_embeddings 64 (embed_positions has 64 + 2 rows).
                   F32, one model.safetensors as save_pretrained writes it ("model.decoder."
                   prefix, tied lm_head not stored). Tokenizer: vocab.json + merges.txt +
                   tokenizer_config.json + special_tokens_map.json in the facebook/opt-350m
                   format (legacy AddedToken dicts, add_bos_token true, bos = eos = unk = "</s>").
  opt-postln-f16   The OPT-350m layout: do_layer_norm_before false (post-LN blocks, no final
                   layer norm), hidden 96 / 3 heads of 32, word_embed_proj_dim 48 (project_in
                   48->96 before the positions are added, project_out 96->48 before the tied
                   head), 2 layers, ffn_dim 256, max_position_embeddings 80. F16 safetensors.
                   Tokenizer: tokenizer.json + tokenizer_config.json as transformers 5 writes
                   them (post-processor TemplateProcessing "</s> $A").
  bloom-f32        BloomForCausalLM, hidden 96 / 6 heads of 16 (NOT a power of two: ALiBi slopes
                   take the interleaved "extra" branch), 2 layers, F32 safetensors.
                   Tokenizer: BLOOM's tokenizer.json pipeline + tokenizer_config.json
                   ("tokenizer_class": "BloomTokenizerFast", padding_side left).
  bloom-bf16       BLOOM, hidden 80 / 5 heads of 16, 2 layers, apply_residual_connection_post_
                   layernorm true, layer_norm_epsilon 1e-3, BF16 safetensors. Tokenizer: the same
                   tokenizer.json with the Hub's legacy tokenizer_config.json +
                   special_tokens_map.json (as in bigscience/bloom-560m).
  bloom-f16-bin    BLOOM, hidden 96 / 3 heads of 32, 2 layers, F16, ONE pytorch_model.bin.
                   Tokenizer: as bloom-f32.
  gpt-neo-f32      GPTNeoForCausalLM, hidden 64 / 4 heads of 16, attention_types
                   [[["global", "local"], 1]] (layer 0 global, layer 1 local), window_size 8,
                   max_position_embeddings 64, F32 safetensors. Tokenizer: GPT-2's truncated
                   1024-token vocabulary as tokenizer.json + tokenizer_config.json.
  gpt-neo-f16-bin  GPT-Neo, hidden 96 / 3 heads of 32, 3 layers: attention_types
                   [[["global", "local"], 1], [["local"], 1]] -> global, local, local; window 8,
                   intermediate_size 256, max_position_embeddings 80, F16, ONE pytorch_model.bin
                   (no safetensors). Tokenizer: vocab.json + merges.txt only.
  opt-bin-sharded  OPT pre-LN, hidden 64 / 2 heads of 32, 3 layers, ffn_dim 256, F32, THREE
                   pytorch_model-0000k-of-00003.bin shards + pytorch_model.bin.index.json.
                   Tokenizer: like opt-f32.

Why .bin files are written by this script and not by save_pretrained: transformers 5 removed
save_pretrained(safe_serialization=False), it only writes safetensors. The .bin fixtures are what
transformers 4 wrote for save_pretrained(safe_serialization=False[, max_shard_size=...]): the
model's state_dict (the same names as its safetensors, PLUS the tied "lm_head.weight", which
transformers 4 only dropped for safetensors; it shares its storage with the embedding inside the
pickle) saved with torch.save (zip format, records under "<file stem>/"); shards split with
huggingface_hub.split_torch_state_dict_into_shards(filename_pattern="pytorch_model{suffix}.bin")
and the index written as transformers 4 wrote it ({"metadata": {"total_size"}, "weight_map"},
indent 2, sorted keys). torch.save stamps a random ".data/serialization_id" record into every
file; it is pinned here (same length, CRCs fixed) so that rebuilds are byte-for-byte identical.
config.json / generation_config.json are always exactly what save_pretrained wrote.

Tokenizers. GPT-Neo: the GPT-2 byte-level BPE truncated to 1024 tokens exactly as
make-fixtures.py builds it (ids 0..1022 of assets/gpt2, "<|endoftext|>" = 1023 = bos = eos).
OPT: the same GPT-2 BPE with OPT's fairseq-style specials first: <s>=0, <pad>=1, </s>=2, <unk>=3,
then GPT-2 tokens 0..1019 shifted by +4 and the first 764 GPT-2 merges (so ids are NOT GPT-2's);
as in facebook/opt-*, only "</s>" and "<pad>" are special tokens (matched inside text),
"<s>"/"<unk>" are plain vocabulary entries that BPE never produces, and every encode with
add_special_tokens=True starts with bos "</s>" = 2 (transformers' add_bos_token, reproduced in
tokenizer.json as a TemplateProcessing post-processor). BLOOM: a 1024-token byte-level BPE
trained here with the tokenizers library (BpeTrainer, byte alphabet, specials <unk>,<s>,</s>,<pad>
= 0..3) on a deterministic corpus (the texts of GPT-2 tokens 256..5999 from assets/gpt2 plus
the tokenizer cases), with BLOOM's pipeline: no normalizer; pre-tokenizer
Sequence[Split(Regex " ?[^(\\s|[.,!?…。，、।۔،])]+", Isolated, invert false),
ByteLevel(add_prefix_space false, trim_offsets true, use_regex false)]; post-processor
ByteLevel(add_prefix_space true, trim_offsets false, use_regex false) (adds NO bos/eos); decoder
ByteLevel; BPE without unk_token, fuse_unk false; the four specials as added tokens
(special, normalized false). Where these settings come from: the pre-tokenizer regex and
behaviour are quoted from bigscience/bloomz-3b's tokenizer.json in huggingface/transformers.js
issue #94 ("Invalid regular expression ... / ?[^(\\s|[.,!?…。，、।۔،])]+/") and match the
Split+ByteLevel(use_regex=false) combination introduced for BLOOM in huggingface/tokenizers
PR #915 (thomasw21, "ByteLevel without regex"); the special tokens <unk>,<s>,</s>,<pad> at 0..3,
"tokenizer_class": "BloomTokenizerFast" and padding_side "left" are those of the
bigscience/bloom* tokenizer_config.json / transformers' former BloomTokenizerFast defaults. The
post-processor ByteLevel(trim_offsets false) and the ByteLevel decoder could not be read from a
bigscience file here (the stored copies are Git LFS pointers); they follow the BLOOM-style
tokenizer builders found in public code (Split(regex, isolated) + ByteLevel(use_regex=False),
post_processor ByteLevel(trim_offsets=False), decoder ByteLevel). Neither changes any id: the
ByteLevel post-processor only adjusts offsets and adds no special tokens.

Model weights: random and large, as in make-fixtures.py (see its docstring for why): token
embeddings std 0.3, position embeddings std 0.5, nn.Linear weights ([out, in]) std
gain/sqrt(in) with gain 1.5 for input projections (q/k/v, fused qkv, fc1/c_fc/dense_h_to_4h),
2 for output projections (out_proj, fc2, c_proj, dense, dense_4h_to_h), 1 for OPT's
project_in/out and GPT-Neo's q/k (GPT-Neo does not scale its attention scores); BLOOM uses 2.5
and 3 instead of 1.5 and 2 (with 1.5/2 its greedy continuations repeat one token); random nonzero
biases everywhere (0.2 for q/k/v, 0.1 otherwise), LayerNorm weights 1 + N(0, 0.2), biases
N(0, 0.1). The script asserts that the logits spread (max |logit| >= 3), that the greedy
continuation is varied (>= 4 distinct tokens) and that every greedy step wins by >= 0.01
(the prompts, all >= 20 tokens so that GPT-Neo's window of 8 is exceeded, were picked for it).
tokenizer_cases in reference.json: make-fixtures.py's TOKENIZER_CASES plus a few, each with
"ids" (AutoTokenizer defaults, add_special_tokens=True: OPT's start with 2) and
"ids_no_special" (add_special_tokens=False).

Reference outputs: reference-logits.f32 (little-endian float32, prompt_len x vocab_size,
row-major: the next-token logits after every prompt position) from the *ForCausalLM model in
float32 eval mode on the CPU (default attention implementation: sdpa for OPT, eager for BLOOM
and GPT-Neo, the only ones they have), loaded back from the fixture directory with
from_pretrained and upcast with .float(). Greedy: 24 new tokens, eos ignored, from
model.generate, equal to a manual argmax loop with the KV cache and to one without a cache.
Each fixture also proves it exercises its feature (the logits change when the feature is
dropped: OPT's position offset 2, BLOOM's non-power-of-two ALiBi slopes and post-LN residual,
GPT-Neo's local window), and the verification recomputes the logits with independent float64
numpy implementations of the three families written here (from the stored tensors only) and
re-encodes every tokenizer case with an independent pure-Python tokenizer.

Everything is deterministic (seeded torch.Generator per fixture, torch.set_num_threads(1)) and
idempotent (each fixture directory is deleted and rebuilt).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import importlib.util
import json
import math
import os
import shutil
import struct
import sys
import tempfile
import warnings
import zipfile
import zlib

import numpy as np
import regex
import torch
import transformers
from huggingface_hub import split_torch_state_dict_into_shards
from safetensors import safe_open
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    AutoTokenizer,
    BloomConfig,
    BloomForCausalLM,
    GenerationConfig,
    GPT2Tokenizer,
    GPTNeoConfig,
    GPTNeoForCausalLM,
    OPTConfig,
    OPTForCausalLM,
)
from transformers.tokenization_utils_tokenizers import TokenizersBackend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "models")


def _load_gpt2_fixture_module():
    """scripts/make-fixtures.py (not importable by name because of the dash): its vocabulary
    helpers, byte table, reference BPE and TOKENIZER_CASES are reused as they are."""
    spec = importlib.util.spec_from_file_location("make_fixtures", os.path.join(ROOT, "scripts", "make-fixtures.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MF = _load_gpt2_fixture_module()

SEED = 1234
MAX_NEW_TOKENS = 24
MIN_MAX_ABS_LOGIT = 3.0
MIN_GREEDY_MARGIN = 1e-2
MIN_PROMPT_TOKENS = 20
MIN_FEATURE_DELTA = 1e-2  # max |logit change| when a fixture's feature is dropped
VOCAB = 1024
EOT = MF.EOT
TORCH_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
ST_DTYPES = {"F32": "F32", "F16": "F16", "BF16": "BF16"}

# OPT's specials (facebook/opt-*: fairseq dictionary order).
OPT_SPECIALS = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
OPT_TEXT_SPECIALS = ["</s>", "<pad>"]  # the only ones matched inside text
BLOOM_SPECIALS = ["<unk>", "<s>", "</s>", "<pad>"]
BLOOM_SPLIT = " ?[^(\\s|[.,!?…。，、।۔،])]+"  # Oniguruma syntax, as in bigscience/bloom*'s tokenizer.json

# make-fixtures.py's cases plus: every family's special-token strings inside text, the
# characters BLOOM's split regex treats specially ( ) | and its punctuation set, NBSP, and a
# longer mixed line.
TOKENIZER_CASES = list(MF.TOKENIZER_CASES) + [
    "before</s>after <s> mid<pad>end<unk>!",
    "(parenthesized|piped) [bracketed] {braced} x|y",
    "Hindi\u0964Urdu\u06d4Arabic\u060c ok\u2026 \u3002 \uff0c\u3001 done.",
    "tab\tthen  double  space\u00a0nbsp\u3000ideographic",
    "The quick brown fox jumps over 13 lazy dogs -- twice; then (quietly) sleeps.",
]

# The Hub's tokenizer configs these fixtures imitate (legacy format).
OPT_HUB_TOKENIZER_CONFIG = {  # facebook/opt-350m tokenizer_config.json
    "errors": "replace",
    "unk_token": {"content": "</s>", "single_word": False, "lstrip": False, "rstrip": False, "normalized": True, "__type": "AddedToken"},
    "bos_token": {"content": "</s>", "single_word": False, "lstrip": False, "rstrip": False, "normalized": True, "__type": "AddedToken"},
    "eos_token": {"content": "</s>", "single_word": False, "lstrip": False, "rstrip": False, "normalized": True, "__type": "AddedToken"},
    "pad_token": {"content": "<pad>", "single_word": False, "lstrip": False, "rstrip": False, "normalized": True, "__type": "AddedToken"},
    "add_prefix_space": False,
    "add_bos_token": True,
    "special_tokens_map_file": None,
    "name_or_path": "patrickvonplaten/opt-30b",
}
OPT_HUB_SPECIAL_TOKENS_MAP = {"bos_token": "</s>", "eos_token": "</s>", "unk_token": "</s>", "pad_token": "<pad>"}
BLOOM_HUB_TOKENIZER_CONFIG = {  # bigscience/bloom-560m tokenizer_config.json
    "unk_token": "<unk>",
    "eos_token": "</s>",
    "bos_token": "<s>",
    "pad_token": "<pad>",
    "name_or_path": "bigscience/tokenizer",
    "special_tokens_map_file": None,
    "tokenizer_class": "BloomTokenizerFast",
    "padding_side": "left",
}
BLOOM_HUB_SPECIAL_TOKENS_MAP = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}

FIXTURES = [
    dict(
        name="opt-f32",
        family="opt",
        dtype="F32",
        layout="safetensors",
        config=dict(hidden_size=64, num_attention_heads=4, num_hidden_layers=2, ffn_dim=192,
                    max_position_embeddings=64, do_layer_norm_before=True, word_embed_proj_dim=64),
        tokenizer="opt-hub-files",
        prompt="Room 101 was empty, wasn't it? The guards said so twice.",
    ),
    dict(
        name="opt-postln-f16",
        family="opt",
        dtype="F16",
        layout="safetensors",
        config=dict(hidden_size=96, num_attention_heads=3, num_hidden_layers=2, ffn_dim=256,
                    max_position_embeddings=80, do_layer_norm_before=False, word_embed_proj_dim=48),
        tokenizer="opt-tokenizer.json",
        prompt="On May 5, 2021, the river rose again and the town moved uphill.",
    ),
    dict(
        name="bloom-f32",
        family="bloom",
        dtype="F32",
        layout="safetensors",
        config=dict(hidden_size=96, n_head=6, n_layer=2, layer_norm_epsilon=1e-5),
        init=dict(in_gain=2.5, out_gain=3.0),
        tokenizer="bloom-tokenizer.json",
        prompt="Bonjour! The 3 cats (and one dog) sat on 42 mats, then slept.",
    ),
    dict(
        name="bloom-bf16",
        family="bloom",
        dtype="BF16",
        layout="safetensors",
        config=dict(hidden_size=80, n_head=5, n_layer=2, layer_norm_epsilon=1e-3,
                    apply_residual_connection_post_layernorm=True),
        init=dict(in_gain=2.5, out_gain=3.0),
        tokenizer="bloom-hub-files",
        prompt="Hello world! It's 2024, isn't it? Yes, and the rain keeps falling down.",
    ),
    dict(
        name="bloom-f16-bin",
        family="bloom",
        dtype="F16",
        layout="bin",
        config=dict(hidden_size=96, n_head=3, n_layer=2, layer_norm_epsilon=1e-5),
        init=dict(in_gain=2.5, out_gain=3.0),
        tokenizer="bloom-tokenizer.json",
        prompt="The market opened at 8:30; by noon, 12 stalls had sold out of bread.",
    ),
    dict(
        name="gpt-neo-f32",
        family="gpt_neo",
        dtype="F32",
        layout="safetensors",
        config=dict(hidden_size=64, num_heads=4, num_layers=2, attention_types=[[["global", "local"], 1]],
                    window_size=8, max_position_embeddings=64, intermediate_size=None),
        tokenizer="gpt2-tokenizer.json",
        prompt="The old lighthouse keeper counted 17 ships before the storm, then 3 more.",
    ),
    dict(
        name="gpt-neo-f16-bin",
        family="gpt_neo",
        dtype="F16",
        layout="bin",
        config=dict(hidden_size=96, num_heads=3, num_layers=3,
                    attention_types=[[["global", "local"], 1], [["local"], 1]],
                    window_size=8, max_position_embeddings=80, intermediate_size=256),
        tokenizer="gpt2-vocab+merges",
        prompt="I don't think I'll go; they're sure we've seen it, you'd say.",
    ),
    dict(
        name="opt-bin-sharded",
        family="opt",
        dtype="F32",
        layout="bin-sharded",
        max_shard_size="400KB",
        expect_shards=3,
        config=dict(hidden_size=64, num_attention_heads=2, num_hidden_layers=3, ffn_dim=256,
                    max_position_embeddings=64, do_layer_norm_before=True, word_embed_proj_dim=64),
        tokenizer="opt-hub-files",
        prompt="Yesterday, at 9:45, the train from Lyon arrived late; nobody complained.",
    ),
]

FAMILY_CLASSES = {
    "opt": (OPTConfig, OPTForCausalLM),
    "bloom": (BloomConfig, BloomForCausalLM),
    "gpt_neo": (GPTNeoConfig, GPTNeoForCausalLM),
}


# --------------------------------------------------------------------------------------------
# Vocabularies and tokenizers
# --------------------------------------------------------------------------------------------


def gpt2_truncated():
    vocab, merges = MF.load_standard_vocab()
    return MF.truncated_vocab(vocab, merges, VOCAB)


def opt_vocab():
    """OPT-style: <s>,<pad>,</s>,<unk> at 0..3, then GPT-2 tokens 0..1019 at 4..1023."""
    vocab, merges = MF.load_standard_vocab()
    by_id = {i: t for t, i in vocab.items()}
    n = VOCAB - len(OPT_SPECIALS)
    ov = dict(OPT_SPECIALS)
    for i in range(n):
        ov[by_id[i]] = i + len(OPT_SPECIALS)
    om = merges[: n - 256]
    for i, m in enumerate(om):  # merge i produces GPT-2 token 256+i, i.e. id 260+i here
        assert ov[m.replace(" ", "")] == 256 + i + len(OPT_SPECIALS), (i, m)
    assert len(ov) == VOCAB
    return ov, om


def bloom_training_corpus():
    vocab, _ = MF.load_standard_vocab()
    by_id = {i: t for t, i in vocab.items()}
    inv = {c: b for b, c in MF.byte_symbols().items()}
    words = [bytes(inv[c] for c in by_id[i]).decode("utf-8", "replace") for i in range(256, 6000)]
    return ["".join(words[k : k + 50]) for k in range(0, len(words), 50)] + TOKENIZER_CASES


def build_bloom_tokenizer():
    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False))
    tok.normalizer = None
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(BLOOM_SPLIT), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
        ]
    )
    tok.post_processor = processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=False)
    tok.decoder = decoders.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=False)
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB,
        min_frequency=1,
        show_progress=False,
        special_tokens=BLOOM_SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(bloom_training_corpus(), trainer=trainer)
    assert tok.get_vocab_size() == VOCAB, tok.get_vocab_size()
    for i, s in enumerate(BLOOM_SPECIALS):
        assert tok.token_to_id(s) == i
    return tok


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=2)
        f.write("\n")


def write_tokenizer(spec, out_dir, tmp):
    """Writes the fixture's tokenizer files; returns the tokenizer's vocab and merges."""
    kind = spec["tokenizer"]
    if kind.startswith("gpt2"):
        vocab, merges = gpt2_truncated()
        if kind == "gpt2-vocab+merges":
            MF.write_vocab_files(out_dir, vocab, merges)
        else:
            files = os.path.join(tmp, "vocab-files")
            MF.write_vocab_files(files, vocab, merges)
            saved = os.path.join(tmp, "tokenizer-saved")
            MF.hf_tokenizer_from_files(files).save_pretrained(saved)
            for fname in ("tokenizer.json", "tokenizer_config.json"):
                shutil.copy(os.path.join(saved, fname), out_dir)
        return vocab, merges
    if kind.startswith("opt"):
        vocab, merges = opt_vocab()
        if kind == "opt-hub-files":
            MF.write_vocab_files(out_dir, vocab, merges)
            write_json(os.path.join(out_dir, "tokenizer_config.json"), OPT_HUB_TOKENIZER_CONFIG)
            write_json(os.path.join(out_dir, "special_tokens_map.json"), OPT_HUB_SPECIAL_TOKENS_MAP)
        else:
            tok = GPT2Tokenizer(
                vocab=dict(vocab), merges=[tuple(m.split(" ")) for m in merges], errors="replace",
                bos_token="</s>", eos_token="</s>", unk_token="</s>", pad_token="<pad>",
                add_prefix_space=False, add_bos_token=True,
            )
            saved = os.path.join(tmp, "tokenizer-saved")
            tok.save_pretrained(saved)
            for fname in ("tokenizer.json", "tokenizer_config.json"):
                shutil.copy(os.path.join(saved, fname), out_dir)
        return vocab, merges
    assert kind.startswith("bloom"), kind
    tok = build_bloom_tokenizer()
    hf = TokenizersBackend(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
        padding_side="left",
    )
    saved = os.path.join(tmp, "tokenizer-saved")
    hf.save_pretrained(saved)
    shutil.copy(os.path.join(saved, "tokenizer.json"), out_dir)
    if kind == "bloom-tokenizer.json":
        with open(os.path.join(saved, "tokenizer_config.json"), encoding="utf-8") as f:
            cfg = json.load(f)
        # transformers 5 writes its generic class name; the Hub's BLOOM repos say
        # BloomTokenizerFast (which AutoTokenizer maps back to TokenizersBackend).
        assert cfg["tokenizer_class"] == "TokenizersBackend", cfg
        cfg["tokenizer_class"] = "BloomTokenizerFast"
        write_json(os.path.join(out_dir, "tokenizer_config.json"), cfg)
    else:
        write_json(os.path.join(out_dir, "tokenizer_config.json"), BLOOM_HUB_TOKENIZER_CONFIG)
        write_json(os.path.join(out_dir, "special_tokens_map.json"), BLOOM_HUB_SPECIAL_TOKENS_MAP)
    tj = json.loads(tok.to_str())
    merges = [m if isinstance(m, str) else " ".join(m) for m in tj["model"]["merges"]]
    return tj["model"]["vocab"], merges


def load_tokenizer(directory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tok = AutoTokenizer.from_pretrained(directory)
    assert len(tok) == VOCAB, (directory, len(tok))
    ids = tok("hello world", add_special_tokens=False)["input_ids"]
    assert len(ids) >= 2, ids
    return tok


# --------------------------------------------------------------------------------------------
# Independent pure-Python tokenizers (cross-check HF)
# --------------------------------------------------------------------------------------------

# BLOOM's Oniguruma class [^(\s|[.,!?…。，、।۔،])] is "none of ( | ) whitespace . , ! ? … 。 ， 、 । ۔ ،"
# (the inner [...] is a nested class, not literal brackets). Python regex spelling of it:
BLOOM_SPLIT_PY = regex.compile(r" ?[^()|\s.,!?\u2026\u3002\uff0c\u3001\u0964\u06d4\u060c]+")


class RefTokenizer:
    """Byte-level BPE with a family's special-token matching, pre-tokenizer and bos rule."""

    def __init__(self, family, vocab, merges):
        self.family = family
        self.bpe = MF.RefBPE(vocab, merges)
        self.vocab = vocab
        if family == "opt":
            self.specials, self.bos = OPT_TEXT_SPECIALS, [OPT_SPECIALS["</s>"]]
        elif family == "bloom":
            self.specials, self.bos = BLOOM_SPECIALS, []
        else:
            self.specials, self.bos = [EOT], []

    def _pieces(self, text):
        if self.family != "bloom":
            return MF.GPT2_SPLIT.findall(text)
        out, last = [], 0
        for m in BLOOM_SPLIT_PY.finditer(text):  # Isolated: matches and the gaps between them
            if m.start() > last:
                out.append(text[last : m.start()])
            out.append(m.group())
            last = m.end()
        if last < len(text):
            out.append(text[last:])
        return out

    def encode(self, text, add_special_tokens=True):
        split = regex.compile("(" + "|".join(regex.escape(s) for s in self.specials) + ")")
        ids = []
        for part in split.split(text):
            if part in self.specials:
                ids.append(self.vocab[part])
            elif part:
                for piece in self._pieces(part):
                    ids.extend(self.bpe._word(piece))
        return (self.bos if add_special_tokens else []) + ids


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


def make_config(spec):
    cfg_cls, _ = FAMILY_CLASSES[spec["family"]]
    c = dict(spec["config"])
    if spec["family"] == "opt":
        c.update(pad_token_id=1, bos_token_id=2, eos_token_id=2)
    elif spec["family"] == "bloom":
        c.update(bos_token_id=1, eos_token_id=2, pad_token_id=3)
    else:
        c.update(bos_token_id=VOCAB - 1, eos_token_id=VOCAB - 1)
    return cfg_cls(vocab_size=VOCAB, **c)


IN_PROJ = {"q_proj", "k_proj", "v_proj", "query_key_value", "fc1", "c_fc", "dense_h_to_4h"}
OUT_PROJ = {"out_proj", "fc2", "c_proj", "dense", "dense_4h_to_h"}


@torch.no_grad()
def init_weights(model, family, gen, overrides=None):
    """Large random weights everywhere (see the docstring); overrides: per-fixture gains/stds."""
    o = dict(emb_std=0.3, pos_std=0.5, in_gain=1.5, out_gain=2.0, unit_gain=1.0)
    o.update(overrides or {})

    def normal(shape, std, mean=0.0):
        return torch.randn(shape, generator=gen, dtype=torch.float32) * std + mean

    emb = model.get_input_embeddings()
    seen = set()
    for mname, module in model.named_modules():
        leaf = mname.split(".")[-1]
        if isinstance(module, torch.nn.LayerNorm):
            module.weight.copy_(normal(module.weight.shape, 0.2, 1.0))
            module.bias.copy_(normal(module.bias.shape, 0.1))
        elif isinstance(module, torch.nn.Embedding):
            std = o["emb_std"] if module is emb else o["pos_std"]  # token / position embeddings
            module.weight.copy_(normal(module.weight.shape, std))
        elif isinstance(module, torch.nn.Linear):
            if leaf == "lm_head":
                assert module.weight is emb.weight, "lm_head must be tied"
                continue
            if leaf in ("project_in", "project_out") or (family == "gpt_neo" and leaf in ("q_proj", "k_proj")):
                gain = o["unit_gain"]
            elif leaf in IN_PROJ:
                gain = o["in_gain"]
            elif leaf in OUT_PROJ:
                gain = o["out_gain"]
            else:
                raise AssertionError(f"unexpected linear {mname}")
            module.weight.copy_(normal(module.weight.shape, gain / math.sqrt(module.in_features)))
            if module.bias is not None:
                std = 0.2 if leaf in ("q_proj", "k_proj", "v_proj", "query_key_value") else 0.1
                module.bias.copy_(normal(module.bias.shape, std))
        else:
            continue
        seen.update(id(p) for p in module.parameters(recurse=False))
    missing = [n for n, p in model.named_parameters() if id(p) not in seen]
    assert not missing, missing


def stored_tensors(directory):
    """All tensors as stored, by stored name (safetensors or .bin)."""
    out = {}
    for fname in sorted(os.listdir(directory)):
        path = os.path.join(directory, fname)
        if fname.endswith(".safetensors"):
            with safe_open(path, "pt") as f:
                for k in f.keys():
                    assert k not in out, k
                    out[k] = f.get_tensor(k)
        elif fname.endswith(".bin"):
            for k, v in torch.load(path, map_location="cpu", weights_only=True).items():
                assert k not in out, k
                out[k] = v
    return out


def tensor_manifest(directory):
    """{name: {dtype, shape, file}} in file order; .bin aliasing noted."""
    manifest = {}
    for fname in sorted(os.listdir(directory)):
        path = os.path.join(directory, fname)
        if fname.endswith(".safetensors"):
            with safe_open(path, "pt") as f:
                for k in f.keys():
                    sl = f.get_slice(k)
                    manifest[k] = {"dtype": sl.get_dtype(), "shape": list(sl.get_shape()), "file": fname}
        elif fname.endswith(".bin"):
            sd = torch.load(path, map_location="cpu", weights_only=True)
            ptrs = {}
            for k, v in sd.items():
                entry = {"dtype": {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}[v.dtype],
                         "shape": list(v.shape), "file": fname}
                key = v.untyped_storage().data_ptr()
                if key in ptrs:
                    entry["shares_storage_with"] = ptrs[key]
                else:
                    ptrs[key] = k
                manifest[k] = entry
    return manifest


# --------------------------------------------------------------------------------------------
# .bin writing (what transformers 4 save_pretrained(safe_serialization=False) wrote)
# --------------------------------------------------------------------------------------------


def pin_serialization_id(path, name):
    """torch.save writes a random <stem>/.data/serialization_id; overwrite it in place (same
    length, CRC-32 fixed in the local header and the central directory) with a value derived
    from the fixture, so rebuilds are byte-identical."""
    with zipfile.ZipFile(path) as zf:
        infos = [i for i in zf.infolist() if i.filename.endswith("/.data/serialization_id")]
        assert len(infos) == 1, [i.filename for i in zf.infolist()]
        info = infos[0]
        assert info.compress_type == zipfile.ZIP_STORED
        start_dir = zf.start_dir
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        h = info.header_offset
        assert data[h : h + 4] == b"PK\x03\x04"
        n, m = struct.unpack("<HH", data[h + 26 : h + 30])
        off = h + 30 + n + m
        size = info.file_size
        digits = str(int(hashlib.sha256(f"{name}/{os.path.basename(path)}/{SEED}".encode()).hexdigest(), 16))
        new = digits[:size].encode().rjust(size, b"0")
        data[off : off + size] = new
        crc = zlib.crc32(new) & 0xFFFFFFFF
        struct.pack_into("<I", data, h + 14, crc)
        # Central directory entry for this file.
        p = start_dir
        while data[p : p + 4] == b"PK\x01\x02":
            n2, m2, k2 = struct.unpack("<HHH", data[p + 28 : p + 34])
            fname = bytes(data[p + 46 : p + 46 + n2]).decode()
            if fname == info.filename:
                struct.pack_into("<I", data, p + 16, crc)
                break
            p += 46 + n2 + m2 + k2
        else:
            raise AssertionError("central directory entry not found")
        f.seek(0)
        f.write(data)
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None


def write_bin_checkpoint(model, safetensors_dir, out_dir, spec):
    """Writes pytorch_model.bin (or shards + index) from the model's state_dict, checking that
    its names are exactly save_pretrained's safetensors names plus the tied lm_head.weight."""
    sd = model.state_dict()
    st = stored_tensors(safetensors_dir)
    assert set(sd) == set(st) | {"lm_head.weight"}, (sorted(set(sd) ^ set(st)))
    for k, v in st.items():
        assert torch.equal(sd[k], v), k
    emb_name = next(k for k in sd if k.endswith(("embed_tokens.weight", "wte.weight", "word_embeddings.weight")))
    assert sd["lm_head.weight"].data_ptr() == sd[emb_name].data_ptr()
    if spec["layout"] == "bin":
        # transformers 4 saved a plain dict per file ({name: tensor.contiguous()}), not the
        # state_dict's OrderedDict with its _metadata.
        path = os.path.join(out_dir, "pytorch_model.bin")
        torch.save({k: v.contiguous() for k, v in sd.items()}, path)
        pin_serialization_id(path, spec["name"])
        return
    split = split_torch_state_dict_into_shards(sd, filename_pattern="pytorch_model{suffix}.bin",
                                               max_shard_size=spec["max_shard_size"])
    assert split.is_sharded and len(split.filename_to_tensors) == spec["expect_shards"], split.filename_to_tensors
    for shard_file, names in split.filename_to_tensors.items():
        path = os.path.join(out_dir, shard_file)
        torch.save({k: sd[k].contiguous() for k in names}, path)
        pin_serialization_id(path, spec["name"])
    index = {"metadata": split.metadata, "weight_map": split.tensor_to_filename}
    with open(os.path.join(out_dir, "pytorch_model.bin.index.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(index, indent=2, sort_keys=True) + "\n")


def check_layout(spec, directory):
    files = sorted(os.listdir(directory))
    st = [f for f in files if f.endswith(".safetensors")]
    bins = [f for f in files if f.endswith(".bin")]
    if spec["layout"] == "safetensors":
        assert st == ["model.safetensors"] and not bins, files
        with safe_open(os.path.join(directory, "model.safetensors"), "pt") as f:
            dtypes = {f.get_slice(k).get_dtype() for k in f.keys()}
        assert dtypes == {ST_DTYPES[spec["dtype"]]}, dtypes
    elif spec["layout"] == "bin":
        assert bins == ["pytorch_model.bin"] and not st and not any(f.endswith(".json") and "index" in f for f in files), files
    else:
        n = spec["expect_shards"]
        assert not st and bins == [f"pytorch_model-{i:05d}-of-{n:05d}.bin" for i in range(1, n + 1)], files
        with open(os.path.join(directory, "pytorch_model.bin.index.json"), encoding="utf-8") as f:
            index = json.load(f)
        assert set(index["weight_map"].values()) == set(bins)
        assert index["metadata"]["total_size"] > 0
    for b in bins:
        with open(os.path.join(directory, b), "rb") as f:
            assert f.read(4) == b"PK\x03\x04", b  # torch zip format, not safetensors
        with zipfile.ZipFile(os.path.join(directory, b)) as zf:
            stem = b[: -len(".bin")]
            assert f"{stem}/data.pkl" in zf.namelist(), zf.namelist()
    if bins:
        dtypes = {v.dtype for v in stored_tensors(directory).values()}
        assert dtypes == {TORCH_DTYPES[spec["dtype"]]}, dtypes


def load_reference_model(spec, directory):
    """from_pretrained + .float(), checking every parameter came from the files verbatim."""
    _, model_cls = FAMILY_CLASSES[spec["family"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, info = model_cls.from_pretrained(directory, output_loading_info=True)
    assert not info["missing_keys"], info["missing_keys"]
    assert not info.get("mismatched_keys"), info["mismatched_keys"]
    assert not info["unexpected_keys"], info["unexpected_keys"]
    assert model.dtype == TORCH_DTYPES[spec["dtype"]], model.dtype
    model = model.float().eval()
    stored = stored_tensors(directory)
    emb = model.get_input_embeddings().weight
    assert model.lm_head.weight is emb  # tied after loading
    for name, p in model.named_parameters():
        assert torch.equal(p.detach(), stored[name].float()), f"{directory}: {name} differs from the file"
    return model


# --------------------------------------------------------------------------------------------
# Reference outputs
# --------------------------------------------------------------------------------------------


# The same argmax loop with the KV cache, and the logits files, as the GPT-2 fixtures use.
greedy_manual = MF.greedy_manual
write_logits = MF.write_logits
read_logits = MF.read_logits


@torch.no_grad()
def greedy_nocache(model, prompt_ids, n_new):
    seq = list(prompt_ids)
    for _ in range(n_new):
        seq.append(int(torch.argmax(model(torch.tensor([seq]), use_cache=False).logits[0, -1])))
    return seq[len(prompt_ids) :]


@torch.no_grad()
def greedy_generate(model, prompt_ids, n_new):
    gc = GenerationConfig(
        do_sample=False, max_new_tokens=n_new, min_new_tokens=n_new, eos_token_id=None, bos_token_id=None,
        pad_token_id=model.config.pad_token_id if model.config.pad_token_id is not None else VOCAB - 1,
        use_cache=True,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ids = torch.tensor([prompt_ids])
        out = model.generate(ids, attention_mask=torch.ones_like(ids), generation_config=gc)
    return out[0, len(prompt_ids) :].tolist()


@torch.no_grad()
def logits_of(model, ids, **kw):
    return model(torch.tensor([ids]), **kw).logits[0]


@torch.no_grad()
def feature_checks(spec, model, ids, logits):
    """Proves the fixture exercises its feature: dropping it changes the logits."""
    fam, cfg = spec["family"], model.config
    T = len(ids)
    deltas = {}
    if fam == "opt":
        # An engine that forgets OPT's position offset 2 reads rows 0..T-1 instead of 2..T+1.
        wrong = logits_of(model, ids, position_ids=torch.arange(T)[None] - 2)
        deltas["position_offset_ignored"] = float((wrong - logits).abs().max())
        if cfg.do_layer_norm_before:
            assert cfg.word_embed_proj_dim == cfg.hidden_size and model.model.decoder.final_layer_norm is not None
            assert model.model.decoder.project_in is None and model.model.decoder.project_out is None
        else:
            assert cfg.word_embed_proj_dim != cfg.hidden_size and model.model.decoder.final_layer_norm is None
            assert model.model.decoder.project_in is not None and model.model.decoder.project_out is not None
    elif fam == "bloom":
        n = cfg.n_head
        assert n & (n - 1) != 0, f"{spec['name']}: n_head {n} is a power of two"
        def naive_alibi(attention_mask, num_heads, dtype):  # 2^(-8 i / n): right only for powers of 2
            slopes = torch.tensor([2 ** (-8 * (i + 1) / num_heads) for i in range(num_heads)])
            pos = ((attention_mask.cumsum(-1) - 1) * attention_mask)[:, None, :]
            return (slopes[..., None] * pos).reshape(-1, 1, attention_mask.shape[-1]).to(dtype)

        saved = model.transformer.build_alibi_tensor
        model.transformer.build_alibi_tensor = naive_alibi
        try:
            deltas["naive_power_of_two_slopes"] = float((logits_of(model, ids) - logits).abs().max())
        finally:
            model.transformer.build_alibi_tensor = saved
        assert torch.equal(logits_of(model, ids), logits)
        flag = cfg.apply_residual_connection_post_layernorm
        for block in model.transformer.h:
            block.apply_residual_connection_post_layernorm = not flag
        deltas["residual_post_layernorm_flipped"] = float((logits_of(model, ids) - logits).abs().max())
        for block in model.transformer.h:
            block.apply_residual_connection_post_layernorm = flag
        eps = cfg.layer_norm_epsilon
        for m in model.modules():
            if isinstance(m, torch.nn.LayerNorm):
                m.eps = 1e-5 if eps != 1e-5 else 1e-3
        deltas["layer_norm_epsilon_changed"] = float((logits_of(model, ids) - logits).abs().max())
        for m in model.modules():
            if isinstance(m, torch.nn.LayerNorm):
                m.eps = eps
    else:
        assert "local" in cfg.attention_layers and T > cfg.window_size, (cfg.attention_layers, T)
        wide = copy.deepcopy(cfg)
        wide.window_size = cfg.max_position_embeddings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m2 = GPTNeoForCausalLM(wide).eval()
        m2.load_state_dict(model.state_dict())
        deltas["local_window_ignored"] = float((logits_of(m2, ids) - logits).abs().max())
        # An engine that scales scores by 1/sqrt(head_dim) (GPT-2 style) would be wrong:
        import transformers.models.gpt_neo.modeling_gpt_neo as mn

        saved = mn.GPTNeoSelfAttention._attn

        def scaled_attn(self, q, k, v, attention_mask=None):
            return saved(self, q / math.sqrt(self.head_dim), k, v, attention_mask)

        mn.GPTNeoSelfAttention._attn = scaled_attn
        try:
            deltas["scores_scaled_by_inv_sqrt_head_dim"] = float((logits_of(model, ids) - logits).abs().max())
        finally:
            mn.GPTNeoSelfAttention._attn = saved
        assert torch.equal(logits_of(model, ids), logits)
    for k, d in deltas.items():
        assert d >= MIN_FEATURE_DELTA, f"{spec['name']}: {k} changes the logits by only {d}"
    return deltas


# --------------------------------------------------------------------------------------------
# Independent numpy implementations (float64, from the stored tensors only)
# --------------------------------------------------------------------------------------------


def _ln(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def _softmax(a):
    a = np.exp(a - a.max(-1, keepdims=True))
    return a / a.sum(-1, keepdims=True)


def _strip(w, prefix):
    return {k[len(prefix) :] if k.startswith(prefix) else k: v for k, v in w.items()}


def numpy_forward(directory, ids):
    with open(os.path.join(directory, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    w = {k: v.double().numpy() for k, v in stored_tensors(directory).items() if k != "lm_head.weight"}
    fam = cfg["model_type"]
    T = len(ids)
    causal = np.triu(np.full((T, T), -np.inf), 1)

    def lin(x, p, bias=True):
        y = x @ w[p + ".weight"].T
        return y + w[p + ".bias"] if bias else y

    if fam == "opt":
        w = _strip(w, "model.decoder.")
        nh, eps, pre = cfg["num_attention_heads"], 1e-5, cfg["do_layer_norm_before"]
        act = {"relu": lambda v: np.maximum(v, 0.0)}[cfg["activation_function"]]
        x = w["embed_tokens.weight"][ids]
        if "project_in.weight" in w:
            x = lin(x, "project_in", bias=False)
        h = x + w["embed_positions.weight"][np.arange(T) + 2]  # OPT's offset 2
        hd = h.shape[1] // nh
        ln = lambda v, p: _ln(v, w[p + ".weight"], w[p + ".bias"], eps)
        for i in range(cfg["num_hidden_layers"]):
            L = f"layers.{i}."
            a = ln(h, L + "self_attn_layer_norm") if pre else h
            q = lin(a, L + "self_attn.q_proj") * hd**-0.5
            k, v = lin(a, L + "self_attn.k_proj"), lin(a, L + "self_attn.v_proj")
            heads = [_softmax(q[:, s] @ k[:, s].T + causal) @ v[:, s] for s in (slice(j * hd, (j + 1) * hd) for j in range(nh))]
            h = h + lin(np.concatenate(heads, -1), L + "self_attn.out_proj")
            if not pre:
                h = ln(h, L + "self_attn_layer_norm")
            a = ln(h, L + "final_layer_norm") if pre else h
            h = h + lin(act(lin(a, L + "fc1")), L + "fc2")
            if not pre:
                h = ln(h, L + "final_layer_norm")
        if "final_layer_norm.weight" in w:
            h = ln(h, "final_layer_norm")
        if "project_out.weight" in w:
            h = lin(h, "project_out", bias=False)
        return h @ w["embed_tokens.weight"].T

    if fam == "bloom":
        w = _strip(w, "transformer.")
        nh, eps, post = cfg["n_head"], cfg["layer_norm_epsilon"], cfg["apply_residual_connection_post_layernorm"]
        ln = lambda v, p: _ln(v, w[p + ".weight"], w[p + ".bias"], eps)
        h = ln(w["word_embeddings.weight"][ids], "word_embeddings_layernorm")
        d = h.shape[1]
        hd = d // nh
        cp = 2 ** math.floor(math.log2(nh))
        slopes = [(2 ** (-8 / cp)) ** (i + 1) for i in range(cp)]
        slopes += [(2 ** (-4 / cp)) ** (2 * i + 1) for i in range(nh - cp)]
        gelu = lambda v: v * 0.5 * (1.0 + np.tanh(0.79788456 * v * (1 + 0.044715 * v * v)))
        for i in range(cfg["n_layer"]):
            L = f"h.{i}."
            a = ln(h, L + "input_layernorm")
            res = a if post else h
            qkv = lin(a, L + "self_attention.query_key_value").reshape(T, nh, 3, hd)  # per-head [q|k|v]
            heads = []
            for j in range(nh):
                q, k, v = qkv[:, j, 0], qkv[:, j, 1], qkv[:, j, 2]
                s = slopes[j] * np.arange(T)[None, :] + (q @ k.T) / math.sqrt(hd) + causal
                heads.append(_softmax(s) @ v)
            h = res + lin(np.concatenate(heads, -1), L + "self_attention.dense")
            a = ln(h, L + "post_attention_layernorm")
            res = a if post else h
            h = res + lin(gelu(lin(a, L + "mlp.dense_h_to_4h")), L + "mlp.dense_4h_to_h")
        return ln(h, "ln_f") @ w["word_embeddings.weight"].T

    assert fam == "gpt_neo", fam
    w = _strip(w, "transformer.")
    nh, eps, win = cfg["num_heads"], cfg["layer_norm_epsilon"], cfg["window_size"]
    assert cfg["activation_function"] == "gelu_new"
    gelu = lambda v: 0.5 * v * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (v + 0.044715 * v**3)))
    ln = lambda v, p: _ln(v, w[p + ".weight"], w[p + ".bias"], eps)
    h = w["wte.weight"][ids] + w["wpe.weight"][:T]
    hd = h.shape[1] // nh
    qi, kj = np.arange(T)[:, None], np.arange(T)[None, :]
    local = np.where((kj <= qi) & (qi - kj < win), 0.0, -np.inf)  # self + previous win-1 tokens
    for i, kind in enumerate(cfg["attention_layers"]):
        L = f"h.{i}."
        a = ln(h, L + "ln_1")
        q = lin(a, L + "attn.attention.q_proj", bias=False)
        k = lin(a, L + "attn.attention.k_proj", bias=False)
        v = lin(a, L + "attn.attention.v_proj", bias=False)
        mask = local if kind == "local" else causal
        heads = [_softmax(q[:, s] @ k[:, s].T + mask) @ v[:, s] for s in (slice(j * hd, (j + 1) * hd) for j in range(nh))]  # NO 1/sqrt(hd)
        h = h + lin(np.concatenate(heads, -1), L + "attn.attention.out_proj")
        h = h + lin(gelu(lin(ln(h, L + "ln_2"), L + "mlp.c_fc")), L + "mlp.c_proj")
    return ln(h, "ln_f") @ w["wte.weight"].T


# --------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------


def config_summary(cfg):
    keys = {
        "opt": ["hidden_size", "num_attention_heads", "num_hidden_layers", "ffn_dim", "max_position_embeddings",
                "do_layer_norm_before", "word_embed_proj_dim", "activation_function", "enable_bias",
                "layer_norm_elementwise_affine", "_remove_final_layer_norm"],
        "bloom": ["hidden_size", "n_head", "n_layer", "layer_norm_epsilon", "apply_residual_connection_post_layernorm",
                  "pretraining_tp", "slow_but_exact"],
        "gpt_neo": ["hidden_size", "num_heads", "num_layers", "attention_types", "attention_layers", "window_size",
                    "max_position_embeddings", "intermediate_size", "activation_function", "layer_norm_epsilon"],
    }[cfg.model_type]
    out = {k: getattr(cfg, k) for k in keys}
    out.update(vocab_size=cfg.vocab_size, bos_token_id=cfg.bos_token_id, eos_token_id=cfg.eos_token_id,
               pad_token_id=cfg.pad_token_id, tie_word_embeddings=cfg.tie_word_embeddings)
    return out


NOTES = {
    "opt": "OPT: every nn.Linear weight stored [out, in]; LayerNorm eps is nn.LayerNorm's default 1e-5 (not in "
           "config); positions are cumsum(attention_mask)-1 and row (position + 2) of embed_positions is used; "
           "q = q_proj(x) * head_dim**-0.5 before q.k; ReLU; tied lm_head = embed_tokens (not stored).",
    "bloom": "BLOOM: fused query_key_value [3*hidden, hidden] whose output splits per head as [q|k|v] (view "
             "[T, n_head, 3, head_dim]); scores = alibi + (q.k)/sqrt(head_dim) with alibi = slope_h * key_position "
             "(absolute key index, not j-i); slopes from the closest power of two plus interleaved extra slopes; "
             "softmax in fp32; GELU tanh with constant 0.79788456; word_embeddings_layernorm after the embedding; "
             "no position embeddings; tied lm_head (not stored).",
    "gpt_neo": "GPT-Neo: NO 1/sqrt(head_dim) score scaling; q/k/v without bias, out_proj with bias; all weights "
               "nn.Linear [out, in] (NOT GPT-2's Conv1D [in, out]); local layers let query i see keys j with "
               "0 <= i-j < window_size (itself and window_size-1 previous tokens); masked scores are "
               "finfo(float32).min, softmax in fp32; gelu_new; tied lm_head.",
}


def build_fixture(spec, tmp_root):
    name = spec["name"]
    out_dir = os.path.join(OUT, name)
    if os.path.exists(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    tmp = os.path.join(tmp_root, name)
    os.makedirs(tmp)

    # Model: random large weights, cast to the stored dtype, saved the transformers way.
    config = make_config(spec)
    _, model_cls = FAMILY_CLASSES[spec["family"]]
    torch.manual_seed(SEED)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = model_cls(config).eval()
    init_weights(model, spec["family"], torch.Generator().manual_seed(SEED), spec.get("init"))
    model = model.to(TORCH_DTYPES[spec["dtype"]])
    if spec["layout"] == "safetensors":
        model.save_pretrained(out_dir)
    else:
        saved = os.path.join(tmp, "model-saved")
        model.save_pretrained(saved)
        for fname in ("config.json", "generation_config.json"):
            shutil.copy(os.path.join(saved, fname), out_dir)
        write_bin_checkpoint(model, saved, out_dir, spec)
    del model
    check_layout(spec, out_dir)

    # Tokenizer files; the prompt and cases come from AutoTokenizer on the fixture directory.
    vocab, merges = write_tokenizer(spec, out_dir, tmp)
    tok = load_tokenizer(out_dir)
    ref_tok = RefTokenizer(spec["family"], vocab, merges)
    cases = []
    for text in TOKENIZER_CASES:
        ids = tok(text)["input_ids"]
        plain = tok(text, add_special_tokens=False)["input_ids"]
        assert ids == ref_tok.encode(text), (name, text, ids, ref_tok.encode(text))
        assert plain == ref_tok.encode(text, add_special_tokens=False), (name, text)
        assert tok.decode(plain) == text, (name, text, tok.decode(plain))
        cases.append({"text": text, "ids": ids, "ids_no_special": plain})
    prompt_ids = tok(spec["prompt"])["input_ids"]
    if spec["family"] == "opt":
        empty = next(c for c in cases if c["text"] == "")
        assert prompt_ids[0] == 2 and empty["ids"] == [2] and empty["ids_no_special"] == [], (prompt_ids, empty)
    max_pos = getattr(config, "max_position_embeddings", None)
    assert len(prompt_ids) >= MIN_PROMPT_TOKENS, (name, len(prompt_ids))
    assert max_pos is None or len(prompt_ids) + MAX_NEW_TOKENS <= max_pos, (name, len(prompt_ids), max_pos)

    # Reference: the checkpoint as stored, loaded back and computed in fp32.
    model = load_reference_model(spec, out_dir)
    logits = logits_of(model, prompt_ids)
    assert logits.shape == (len(prompt_ids), VOCAB) and logits.dtype == torch.float32
    write_logits(os.path.join(out_dir, "reference-logits.f32"), logits)
    tokens = greedy_generate(model, prompt_ids, MAX_NEW_TOKENS)
    manual, margin = greedy_manual(model, prompt_ids, MAX_NEW_TOKENS)
    nocache = greedy_nocache(model, prompt_ids, MAX_NEW_TOKENS)
    assert len(tokens) == MAX_NEW_TOKENS and tokens == manual == nocache, (tokens, manual, nocache)
    deltas = feature_checks(spec, model, prompt_ids, logits)

    max_abs = float(logits.abs().max())
    distinct = len(set(tokens))
    assert max_abs >= MIN_MAX_ABS_LOGIT, f"{name}: logits too flat ({max_abs})"
    assert distinct >= 4, f"{name}: degenerate greedy continuation {tokens}"
    assert margin >= MIN_GREEDY_MARGIN, f"{name}: greedy margin too small ({margin})"

    reference = {
        "generator": "scripts/make-family-fixtures.py",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "seed": SEED,
        "family": spec["family"],
        "architecture": model_cls.__name__,
        "dtype": spec["dtype"],
        "weights_format": spec["layout"],
        "attn_implementation": model.config._attn_implementation,
        "prompt_text": spec["prompt"],
        "prompt_ids": prompt_ids,
        "logits_file": "reference-logits.f32",
        "greedy": {"prompt_ids": prompt_ids, "max_new_tokens": MAX_NEW_TOKENS, "tokens": tokens},
        "greedy_min_margin": margin,
        "config": config_summary(model.config),
        "feature_checks": {k: round(v, 6) for k, v in deltas.items()},
        "stored_tensors": tensor_manifest(out_dir),
        "notes": NOTES[spec["family"]],
        "tokenizer_cases": cases,
    }
    write_json(os.path.join(out_dir, "reference.json"), reference)

    for fname in os.listdir(out_dir):
        os.chmod(os.path.join(out_dir, fname), 0o644)  # safetensors writes 0600
    print(
        f"{name:16s} {spec['family']:7s} {spec['dtype']:4s} {spec['layout']:11s} prompt={len(prompt_ids)} tokens "
        f"max|logit|={max_abs:.2f} distinct greedy={distinct}/{MAX_NEW_TOKENS} min margin={margin:.4f}\n"
        f"{'':16s} feature deltas: " + ", ".join(f"{k}={v:.3g}" for k, v in deltas.items()) + "\n"
        f"{'':16s} greedy: {tok.decode(tokens)!r}"
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
    stored = read_logits(os.path.join(d, ref["logits_file"]), len(ids), VOCAB)
    check_layout(spec, d)
    assert ref["stored_tensors"] == tensor_manifest(d), f"{name}: stored tensor manifest out of date"

    # 1. Hugging Face, reloaded from disk, upcast to fp32: identical logits and greedy tokens.
    model = load_reference_model(spec, d)
    hf = logits_of(model, ids).numpy()
    hf_diff = float(np.abs(hf - stored).max())
    assert hf_diff == 0.0, f"{name}: HF logits differ from the file by {hf_diff}"
    assert greedy_generate(model, ids, ref["greedy"]["max_new_tokens"]) == ref["greedy"]["tokens"]

    # 2. Independent numpy implementation: close logits, same greedy continuation (no cache).
    npl = numpy_forward(d, ids)
    np_diff = float(np.abs(npl - stored).max())
    assert np_diff < 1e-3, f"{name}: numpy {spec['family']} differs from the reference by {np_diff}"
    seq = list(ids)
    for _ in range(ref["greedy"]["max_new_tokens"]):
        seq.append(int(np.argmax(numpy_forward(d, seq)[-1])))
    assert seq[len(ids) :] == ref["greedy"]["tokens"], f"{name}: numpy greedy differs"

    # 3. Tokenizer: AutoTokenizer on the fixture and the independent reference tokenizer.
    tok = load_tokenizer(d)
    if spec["tokenizer"] == "gpt2-vocab+merges" or spec["tokenizer"] == "gpt2-tokenizer.json":
        vocab, merges = gpt2_truncated()
    elif spec["family"] == "opt":
        vocab, merges = opt_vocab()
    else:
        with open(os.path.join(d, "tokenizer.json"), encoding="utf-8") as f:
            tj = json.load(f)
        vocab = tj["model"]["vocab"]
        merges = [m if isinstance(m, str) else " ".join(m) for m in tj["model"]["merges"]]
    ref_tok = RefTokenizer(spec["family"], vocab, merges)
    assert tok(ref["prompt_text"])["input_ids"] == ids == ref_tok.encode(ref["prompt_text"])
    assert [c["text"] for c in ref["tokenizer_cases"]] == TOKENIZER_CASES
    for case in ref["tokenizer_cases"]:
        assert tok(case["text"])["input_ids"] == case["ids"] == ref_tok.encode(case["text"]), case
        assert (tok(case["text"], add_special_tokens=False)["input_ids"] == case["ids_no_special"]
                == ref_tok.encode(case["text"], add_special_tokens=False)), case

    size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    assert size < 2_000_000, f"{name}: {size} bytes"
    print(
        f"verified {name:16s} files={sorted(os.listdir(d))}\n"
        f"{'':9s}{'':16s} HF max diff={hf_diff:g}  numpy max diff={np_diff:.2e}  size={size / 1e6:.2f} MB"
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
