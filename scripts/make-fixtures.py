#!/usr/bin/env python3
"""Build the golden GPT-2 test fixtures under tests/fixtures/models/.

    python3 scripts/make-fixtures.py            # (re)build every fixture, then verify them
    python3 scripts/make-fixtures.py --verify   # only verify the fixtures already on disk

Each fixture is a small, randomly initialised GPT-2 checkpoint laid out the way Hugging Face
checkpoints are found in the wild, plus the answers the engine under test must reproduce:

  tiny-f32          F32, vocab 1024, n_embd 48 / 3 heads of 16, 2 layers, n_positions 64.
                    One model.safetensors with "transformer."-prefixed names (what transformers 5
                    save_pretrained writes). Tokenizer: tokenizer.json (current "merges as pairs"
                    format) + tokenizer_config.json.
  tiny-f16-sharded  F16, vocab 1024, n_embd 128 / 2 heads of 64, 3 layers, n_positions 96,
                    n_inner null. Three shards model-0000k-of-00003.safetensors +
                    model.safetensors.index.json, names WITHOUT the prefix (like
                    openai-community/gpt2), including the legacy h.N.attn.bias causal-mask buffers
                    [1,1,n_positions,n_positions] that the engine must ignore. Tokenizer:
                    vocab.json + merges.txt. layer_norm_epsilon 1e-6.
  tiny-bf16         BF16, vocab 1024, n_embd 80 / 5 heads of 16, 2 layers, n_positions 48,
                    n_inner 200 (not 4*n_embd), layer_norm_epsilon 0.05 (large on purpose, so
                    an engine that ignores the configured epsilon gets visibly wrong logits).
                    One prefixed model.safetensors. Tokenizer: tokenizer.json with merges in the
                    legacy "a b" string format (as on the Hub for openai-community/gpt2).
  fallback-vocab    F16, the full 50257-token vocabulary, n_embd 16, 1 head, 1 layer,
                    n_positions 32, and NO tokenizer files: the engine must fall back to the
                    standard vocabulary shipped in assets/gpt2.

The 1024-token vocabulary is the standard GPT-2 vocabulary truncated: ids 0..1022 of
assets/gpt2/vocab.json, the first 767 merges of assets/gpt2/merges.txt (merge i produces token
256+i, so every merge result has an id), and "<|endoftext|>" at 1023 (= bos/eos in config.json).

Every fixture directory gets reference.json and reference-logits.f32 (little-endian float32,
prompt length x vocab_size, row-major: the next-token logits at every prompt position), computed
with Hugging Face GPT2LMHeadModel in float32 on the CPU, in eval mode, from the checkpoint as
saved: it is loaded back with from_pretrained and upcast with .float(), so half-precision
fixtures are referenced against exactly the stored half values computed in fp32 (which is what
the engine does). The greedy continuation (24 new tokens, eos ignored) comes from model.generate
and is cross-checked against a manual argmax loop with the KV cache.

Why the weights are scaled: GPT-2's own initialiser (std 0.02, LayerNorm weight 1 / bias 0,
zero biases) gives near-uniform logits (|logit| << 1) and greedy continuations that tend to
repeat one token, which would let many engine bugs pass unnoticed (wrong biases, a dropped
LayerNorm bias, a misread epsilon all barely move such logits). Here every parameter is random and
large: token embeddings std 0.3, position embeddings std 0.5, Conv1D weights std
gain/sqrt(fan_in) with gain 1.5 (c_attn, c_fc) or 2 (the two c_proj), nonzero random biases
everywhere (LayerNorm biases included), LayerNorm weights 1 + noise. The large c_proj gains
matter: with tied embeddings a random model otherwise predicts its own input token (x.wte[x] is
large) and greedy decoding repeats one token forever. The script asserts that the logits
spread (max |logit| >= 3), that the greedy continuation is varied (>= 4 distinct tokens), and
that every greedy step wins by >= 0.01 over the runner-up (the prompts were picked for this),
so harmless rounding differences in the engine cannot flip a greedy token.

Everything is deterministic (a torch.Generator seeded with SEED per fixture, single-threaded
CPU math) and idempotent (each fixture directory is deleted and rebuilt). The verification at
the end reloads every fixture from disk, recomputes the logits with Hugging Face (must equal
reference-logits.f32) and with an independent numpy implementation of GPT-2 written here
(must agree within a small tolerance, and give the same greedy tokens), re-encodes the
tokenizer cases with Hugging Face and with an independent pure-Python byte-level BPE, and
prints the size of every fixture.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import warnings

import numpy as np
import regex
import torch
import transformers
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from transformers import GPT2Config, GPT2LMHeadModel, GPT2Tokenizer, GPT2TokenizerFast, GenerationConfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ASSETS = os.path.join(ROOT, "assets", "gpt2")
OUT = os.path.join(ROOT, "tests", "fixtures", "models")

SEED = 1234
MAX_NEW_TOKENS = 24
EOT = "<|endoftext|>"
TRUNC_VOCAB = 1024  # ids 0..1022 from the standard vocab, EOT at 1023
MIN_MAX_ABS_LOGIT = 3.0  # the logits must spread at least this far
MIN_GREEDY_MARGIN = 1e-2  # top-1 minus top-2 logit at every greedy step (prompts chosen for it)

TORCH_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}

# Strings every fixture's tokenizer encodes: spaces runs, CR LF, tabs, contractions, digits,
# an emoji and Chinese (byte-level fallback), the special token inside text, and the empty string.
TOKENIZER_CASES = [
    "Hello world! It's 2024, isn't it?",
    "  two leading spaces,   three inside   and trailing   ",
    "line one\r\nline two\n\n\ttabbed line",
    "I don't think I'll go; they're sure we've seen it, you'd say.",
    "digits 1234567890 and 3.14159, 42nd!",
    "emoji \U0001F600 party \U0001F389!",
    "\u4e2d\u6587\u6d4b\u8bd5\uff1a\u4f60\u597d\uff0c\u4e16\u754c",
    "before<|endoftext|>after <|endoftext|> end",
    "MiXeD CaSe, UPPER lower: caf\u00e9 na\u00efve",
    "",
]

FIXTURES = [
    dict(
        name="tiny-f32",
        dtype="F32",
        vocab="truncated",
        config=dict(n_embd=48, n_head=3, n_layer=2, n_positions=64, n_inner=None, layer_norm_epsilon=1e-5),
        layout="single",
        tokenizer="tokenizer.json",
        prompt="Room 101 was empty, wasn't it?",
    ),
    dict(
        name="tiny-f16-sharded",
        dtype="F16",
        vocab="truncated",
        config=dict(n_embd=128, n_head=2, n_layer=3, n_positions=96, n_inner=None, layer_norm_epsilon=1e-6),
        layout="sharded-unprefixed",
        shards=3,
        tokenizer="vocab+merges",
        prompt="On May 5, 2021, the river rose again.",
    ),
    dict(
        name="tiny-bf16",
        dtype="BF16",
        vocab="truncated",
        config=dict(n_embd=80, n_head=5, n_layer=2, n_positions=48, n_inner=200, layer_norm_epsilon=0.05),
        layout="single",
        tokenizer="tokenizer.json-legacy-merges",
        prompt="The 3 cats sat on 42 mats, and then they slept.",  # 21 + 24 = 45 of 48 positions
    ),
    dict(
        name="fallback-vocab",
        dtype="F16",
        vocab="standard",
        config=dict(n_embd=16, n_head=1, n_layer=1, n_positions=32, n_inner=None, layer_norm_epsilon=1e-5),
        layout="single",
        tokenizer=None,
        prompt="Hello there, it's 2024 already.",  # 8 + 24 = all 32 positions
    ),
]


# --------------------------------------------------------------------------------------------
# Vocabulary files
# --------------------------------------------------------------------------------------------


def load_standard_vocab():
    with open(os.path.join(ASSETS, "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    with open(os.path.join(ASSETS, "merges.txt"), encoding="utf-8") as f:
        lines = f.read().split("\n")
    assert lines[0].startswith("#version"), lines[0]
    merges = [line for line in lines[1:] if line]
    assert len(vocab) == 50257 and vocab[EOT] == 50256 and len(merges) == 50000
    return vocab, merges


def truncated_vocab(vocab, merges, size=TRUNC_VOCAB):
    """First size-1 standard tokens + EOT at size-1, and the merges whose results they are."""
    by_id = {i: t for t, i in vocab.items()}
    n_merges = size - 1 - 256
    tv = {by_id[i]: i for i in range(size - 1)}
    tv[EOT] = size - 1
    tm = merges[:n_merges]
    for i, m in enumerate(tm):  # merge i must produce token 256+i
        assert m.replace(" ", "") == by_id[256 + i], (i, m)
    return tv, tm


def write_vocab_files(directory, vocab, merges):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(directory, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(merges) + "\n")


def hf_tokenizer_from_files(directory):
    # transformers 5: GPT2Tokenizer(vocab=..., merges=...) takes file paths (or a dict / list);
    # the old vocab_file= / merges_file= keywords are swallowed by **kwargs and give an EMPTY
    # tokenizer, so check the result is real.
    tok = GPT2Tokenizer(
        vocab=os.path.join(directory, "vocab.json"), merges=os.path.join(directory, "merges.txt")
    )
    check_tokenizer_nonempty(tok)
    return tok


def check_tokenizer_nonempty(tok):
    ids = tok("hello world")["input_ids"]
    assert len(tok) > 256 and len(ids) >= 2, (len(tok), ids)


# --------------------------------------------------------------------------------------------
# Independent pure-Python byte-level BPE (cross-checks the Hugging Face tokenizers)
# --------------------------------------------------------------------------------------------

GPT2_SPLIT = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")


def byte_symbols():
    """GPT-2's byte -> printable-character table."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("\u00a1"), ord("\u00ac") + 1))
        + list(range(ord("\u00ae"), ord("\u00ff") + 1))
    )
    table = {}
    extra = 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


class RefBPE:
    def __init__(self, vocab, merges):
        self.vocab = vocab
        self.ranks = {tuple(m.split(" ")): r for r, m in enumerate(merges)}
        self.bytes = byte_symbols()

    def _word(self, word):
        syms = [self.bytes[b] for b in word.encode("utf-8")]
        while len(syms) > 1:
            best = min(range(len(syms) - 1), key=lambda i: self.ranks.get((syms[i], syms[i + 1]), math.inf))
            pair = (syms[best], syms[best + 1])
            if pair not in self.ranks:
                break
            merged, i = [], 0
            while i < len(syms):
                if i < len(syms) - 1 and (syms[i], syms[i + 1]) == pair:
                    merged.append(syms[i] + syms[i + 1])
                    i += 2
                else:
                    merged.append(syms[i])
                    i += 1
            syms = merged
        return [self.vocab[s] for s in syms]

    def encode(self, text):
        ids = []
        for k, part in enumerate(text.split(EOT)):
            if k > 0:
                ids.append(self.vocab[EOT])
            for word in GPT2_SPLIT.findall(part):
                ids.extend(self._word(word))
        return ids


# --------------------------------------------------------------------------------------------
# Model construction
# --------------------------------------------------------------------------------------------


def make_config(spec, vocab_size):
    return GPT2Config(
        vocab_size=vocab_size,
        activation_function="gelu_new",
        bos_token_id=vocab_size - 1,
        eos_token_id=vocab_size - 1,
        **spec["config"],
    )


@torch.no_grad()
def init_weights(model, gen):
    """Large random weights everywhere (see the module docstring for why)."""

    def normal(shape, std, mean=0.0):
        return torch.randn(shape, generator=gen, dtype=torch.float32) * std + mean

    for name, p in model.named_parameters():
        short = name.split(".")
        if name.endswith("wte.weight"):
            v = normal(p.shape, 0.3)
        elif name.endswith("wpe.weight"):
            v = normal(p.shape, 0.5)
        elif short[-2].startswith("ln_"):
            v = normal(p.shape, 0.2, 1.0) if short[-1] == "weight" else normal(p.shape, 0.1)
        elif short[-1] == "weight":  # Conv1D weights are [in, out]
            gain = 1.5 if short[-2] in ("c_attn", "c_fc") else 2.0
            v = normal(p.shape, gain / math.sqrt(p.shape[0]))
        elif short[-1] == "bias":
            v = normal(p.shape, 0.2 if short[-2] == "c_attn" else 0.1)
        else:
            raise AssertionError(f"unexpected parameter {name}")
        p.copy_(v)


def strip_prefix(name):
    return name[len("transformer.") :] if name.startswith("transformer.") else name


def write_sharded_unprefixed(src_dir, dst_dir, n_shards, n_positions, dtype):
    """Rewrite save_pretrained's single file as an old-style sharded checkpoint: names without
    the "transformer." prefix, plus the legacy h.N.attn.bias causal-mask buffers."""
    tensors = load_file(os.path.join(src_dir, "model.safetensors"))
    assert "lm_head.weight" not in tensors  # tied: save_pretrained drops it
    n_layer = len({k.split(".")[2] for k in tensors if k.startswith("transformer.h.")})
    mask = torch.tril(torch.ones(n_positions, n_positions, dtype=dtype)).view(1, 1, n_positions, n_positions)
    ordered = {}
    ordered["wte.weight"] = tensors["transformer.wte.weight"]
    ordered["wpe.weight"] = tensors["transformer.wpe.weight"]
    for i in range(n_layer):
        for part in ("ln_1", "attn.bias", "attn.c_attn", "attn.c_proj", "ln_2", "mlp.c_fc", "mlp.c_proj"):
            if part == "attn.bias":
                ordered[f"h.{i}.attn.bias"] = mask.clone()
                continue
            for kind in ("weight", "bias"):
                ordered[f"h.{i}.{part}.{kind}"] = tensors[f"transformer.h.{i}.{part}.{kind}"]
    ordered["ln_f.weight"] = tensors["transformer.ln_f.weight"]
    ordered["ln_f.bias"] = tensors["transformer.ln_f.bias"]
    assert {strip_prefix(k) for k in tensors} <= set(ordered)

    # Split by cumulative size into n_shards contiguous runs (layers may straddle two files).
    sizes = {k: v.numel() * v.element_size() for k, v in ordered.items()}
    total = sum(sizes.values())
    shards = [dict() for _ in range(n_shards)]
    before = 0
    for k, v in ordered.items():
        idx = min(n_shards - 1, int(n_shards * (before + sizes[k] / 2) / total))
        shards[idx][k] = v.contiguous()
        before += sizes[k]
    assert all(shards), "every shard must hold something"
    weight_map = {}
    for i, shard in enumerate(shards):
        fname = f"model-{i + 1:05d}-of-{n_shards:05d}.safetensors"
        save_file(shard, os.path.join(dst_dir, fname), metadata={"format": "pt"})
        for k in shard:
            weight_map[k] = fname
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    with open(os.path.join(dst_dir, "model.safetensors.index.json"), "w", encoding="utf-8") as f:
        json.dump(index, f, indent=2)
        f.write("\n")


def stored_tensors(directory):
    """All tensors of a fixture checkpoint as stored, by stored name."""
    out = {}
    for fname in sorted(os.listdir(directory)):
        if fname.endswith(".safetensors"):
            with safe_open(os.path.join(directory, fname), "pt") as f:
                for k in f.keys():
                    assert k not in out, k
                    out[k] = f.get_tensor(k)
    return out


def load_reference_model(directory, expect_unexpected=()):
    """from_pretrained + .float(), checking that every parameter came from the files verbatim."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, info = GPT2LMHeadModel.from_pretrained(directory, output_loading_info=True)
    assert not info["missing_keys"], info["missing_keys"]
    assert not info.get("mismatched_keys"), info["mismatched_keys"]
    assert set(info["unexpected_keys"]) <= set(expect_unexpected), info["unexpected_keys"]
    model = model.float().eval()
    stored = {strip_prefix(k): v for k, v in stored_tensors(directory).items()}
    for name, p in model.named_parameters():
        key = strip_prefix(name)
        if key == "lm_head.weight" and key not in stored:
            key = "wte.weight"  # tied
        assert torch.equal(p.detach(), stored[key].float()), f"{directory}: {name} differs from the file"
    return model


# --------------------------------------------------------------------------------------------
# Reference outputs
# --------------------------------------------------------------------------------------------


@torch.no_grad()
def greedy_manual(model, prompt_ids, n_new):
    """Argmax loop with the KV cache; also returns the smallest top-1/top-2 margin."""
    out = model(torch.tensor([prompt_ids]), use_cache=True)
    past, logits = out.past_key_values, out.logits[0, -1]
    tokens, margin = [], math.inf
    for _ in range(n_new):
        top2 = torch.topk(logits, 2).values
        margin = min(margin, float(top2[0] - top2[1]))
        nxt = int(torch.argmax(logits))
        tokens.append(nxt)
        out = model(torch.tensor([[nxt]]), past_key_values=past, use_cache=True)
        past, logits = out.past_key_values, out.logits[0, -1]
    return tokens, margin


@torch.no_grad()
def greedy_generate(model, prompt_ids, n_new):
    gc = GenerationConfig(
        do_sample=False,
        max_new_tokens=n_new,
        min_new_tokens=n_new,
        eos_token_id=None,
        bos_token_id=None,
        pad_token_id=model.config.vocab_size - 1,  # only to silence the "no pad token" notice
        use_cache=True,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ids = torch.tensor([prompt_ids])
        out = model.generate(ids, attention_mask=torch.ones_like(ids), generation_config=gc)
    return out[0, len(prompt_ids) :].tolist()


def write_logits(path, logits):
    arr = np.ascontiguousarray(logits.detach().cpu().numpy().astype("<f4"))
    with open(path, "wb") as f:
        f.write(arr.tobytes())


def read_logits(path, rows, cols):
    arr = np.fromfile(path, dtype="<f4")
    assert arr.size == rows * cols, (arr.size, rows, cols)
    return arr.reshape(rows, cols)


# --------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------


def build_fixture(spec, std_vocab, std_merges, tmp_root):
    name = spec["name"]
    out_dir = os.path.join(OUT, name)
    if os.path.exists(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    tmp = os.path.join(tmp_root, name)
    os.makedirs(tmp)

    # Vocabulary and the tokenizer the prompt ids come from.
    if spec["vocab"] == "truncated":
        vocab, merges = truncated_vocab(std_vocab, std_merges)
    else:
        vocab, merges = std_vocab, std_merges
    vocab_size = len(vocab)
    files_dir = os.path.join(tmp, "vocab-files")
    write_vocab_files(files_dir, vocab, merges)
    tok_from_files = hf_tokenizer_from_files(files_dir)
    assert len(tok_from_files) == vocab_size and tok_from_files.eos_token_id == vocab_size - 1

    if spec["tokenizer"] == "vocab+merges":
        write_vocab_files(out_dir, vocab, merges)
    elif spec["tokenizer"] in ("tokenizer.json", "tokenizer.json-legacy-merges"):
        saved = os.path.join(tmp, "tokenizer-saved")
        tok_from_files.save_pretrained(saved)
        for fname in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(os.path.join(saved, fname), out_dir)
        tj_path = os.path.join(out_dir, "tokenizer.json")
        with open(tj_path, encoding="utf-8") as f:
            tj = json.load(f)
        tj_merges = tj["model"]["merges"]
        assert len(tj_merges) == len(merges)
        if spec["tokenizer"] == "tokenizer.json-legacy-merges":
            tj["model"]["merges"] = [m if isinstance(m, str) else " ".join(m) for m in tj_merges]
        else:
            assert all(isinstance(m, list) and len(m) == 2 for m in tj_merges)
        with open(tj_path, "w", encoding="utf-8") as f:
            json.dump(tj, f, ensure_ascii=False, indent=2)
            f.write("\n")
    else:
        assert spec["tokenizer"] is None

    # Model: random large weights, cast to the stored dtype, saved the transformers-5 way.
    config = make_config(spec, vocab_size)
    torch.manual_seed(SEED)
    model = GPT2LMHeadModel(config).eval()
    gen = torch.Generator().manual_seed(SEED)
    init_weights(model, gen)
    model = model.to(TORCH_DTYPES[spec["dtype"]])
    if spec["layout"] == "single":
        model.save_pretrained(out_dir)
        unexpected = ()
    else:
        saved = os.path.join(tmp, "model-saved")
        model.save_pretrained(saved)
        for fname in ("config.json", "generation_config.json"):
            shutil.copy(os.path.join(saved, fname), out_dir)
        write_sharded_unprefixed(saved, out_dir, spec["shards"], config.n_positions, TORCH_DTYPES[spec["dtype"]])
        unexpected = tuple(f"h.{i}.attn.bias" for i in range(config.n_layer))
        unexpected += tuple("transformer." + k for k in unexpected)
    del model

    # The fixture's own tokenizer, as the engine would load it (fallback: the standard one).
    tok = GPT2Tokenizer.from_pretrained(out_dir) if spec["tokenizer"] else tok_from_files
    check_tokenizer_nonempty(tok)
    assert len(tok) == vocab_size and tok.eos_token_id == vocab_size - 1
    ref_bpe = RefBPE(vocab, merges)
    cases = []
    for text in TOKENIZER_CASES:
        ids = tok(text)["input_ids"]
        assert ids == tok_from_files(text)["input_ids"], (name, text)
        assert ids == ref_bpe.encode(text), (name, text, ids, ref_bpe.encode(text))
        if spec["tokenizer"] and spec["tokenizer"].startswith("tokenizer.json"):
            fast = GPT2TokenizerFast.from_pretrained(out_dir)
            assert ids == fast(text)["input_ids"], (name, text)
        assert tok.decode(ids) == text, (name, text, tok.decode(ids))
        cases.append({"text": text, "ids": ids})
    prompt_ids = tok(spec["prompt"])["input_ids"]
    assert 5 <= len(prompt_ids) and len(prompt_ids) + MAX_NEW_TOKENS <= config.n_positions, len(prompt_ids)

    # Reference: the checkpoint as stored, loaded back and computed in fp32.
    model = load_reference_model(out_dir, unexpected)
    with torch.no_grad():
        logits = model(torch.tensor([prompt_ids])).logits[0]
    assert logits.shape == (len(prompt_ids), vocab_size) and logits.dtype == torch.float32
    write_logits(os.path.join(out_dir, "reference-logits.f32"), logits)
    tokens = greedy_generate(model, prompt_ids, MAX_NEW_TOKENS)
    manual, margin = greedy_manual(model, prompt_ids, MAX_NEW_TOKENS)
    assert len(tokens) == MAX_NEW_TOKENS and tokens == manual, (tokens, manual)

    # Sensitivity: does the configured layer_norm_epsilon visibly matter?
    eps = config.layer_norm_epsilon
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.LayerNorm):
                m.eps = 1e-5 if eps != 1e-5 else 1e-3
        eps_delta = float((model(torch.tensor([prompt_ids])).logits[0] - logits).abs().max())

    max_abs = float(logits.abs().max())
    distinct = len(set(tokens))
    assert max_abs >= MIN_MAX_ABS_LOGIT, f"{name}: logits too flat ({max_abs})"
    assert distinct >= 4, f"{name}: degenerate greedy continuation {tokens}"
    assert margin >= MIN_GREEDY_MARGIN, f"{name}: greedy margin too small ({margin})"

    reference = {
        "generator": "scripts/make-fixtures.py",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "seed": SEED,
        "dtype": spec["dtype"],
        "prompt_text": spec["prompt"],
        "prompt_ids": prompt_ids,
        "logits_file": "reference-logits.f32",
        "greedy": {"prompt_ids": prompt_ids, "max_new_tokens": MAX_NEW_TOKENS, "tokens": tokens},
        "tokenizer_cases": cases,
    }
    with open(os.path.join(out_dir, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(reference, f, ensure_ascii=False, indent=2)
        f.write("\n")

    for fname in os.listdir(out_dir):
        os.chmod(os.path.join(out_dir, fname), 0o644)  # safetensors writes 0600
    print(
        f"{name:17s} {spec['dtype']:4s} vocab={vocab_size} n_embd={config.n_embd} n_head={config.n_head} "
        f"n_layer={config.n_layer} n_positions={config.n_positions} n_inner={config.n_inner} eps={eps:g}\n"
        f"{'':17s} prompt={len(prompt_ids)} tokens  max|logit|={max_abs:.2f}  "
        f"distinct greedy tokens={distinct}/{MAX_NEW_TOKENS}  min greedy margin={margin:.4f}  "
        f"logit change if eps were ignored={eps_delta:.2e}\n"
        f"{'':17s} greedy: {tok.decode(tokens)!r}"
    )


# --------------------------------------------------------------------------------------------
# Independent verification
# --------------------------------------------------------------------------------------------


def numpy_gpt2(directory, ids):
    """A from-scratch float64 GPT-2 forward pass over the stored tensors (all positions)."""
    with open(os.path.join(directory, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    assert cfg["activation_function"] == "gelu_new"
    w = {}
    for k, v in stored_tensors(directory).items():
        k = strip_prefix(k)
        if k.endswith("attn.bias") and v.dim() == 4 or k == "lm_head.weight":
            continue  # causal-mask buffer / tied head
        w[k] = v.double().numpy()
    eps, nh = cfg["layer_norm_epsilon"], cfg["n_head"]

    def ln(x, p):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * w[p + ".weight"] + w[p + ".bias"]

    def lin(x, p):
        return x @ w[p + ".weight"] + w[p + ".bias"]

    def gelu_new(x):
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))

    t = len(ids)
    x = w["wte.weight"][ids] + w["wpe.weight"][:t]
    d = x.shape[1]
    hd = d // nh
    causal = np.triu(np.full((t, t), -np.inf), 1)
    for i in range(cfg["n_layer"]):
        h = f"h.{i}."
        q, k, v = np.split(lin(ln(x, h + "ln_1"), h + "attn.c_attn"), 3, axis=-1)
        heads = []
        for j in range(nh):
            s = slice(j * hd, (j + 1) * hd)
            a = q[:, s] @ k[:, s].T / math.sqrt(hd) + causal
            a = np.exp(a - a.max(-1, keepdims=True))
            a /= a.sum(-1, keepdims=True)
            heads.append(a @ v[:, s])
        x = x + lin(np.concatenate(heads, -1), h + "attn.c_proj")
        x = x + lin(gelu_new(lin(ln(x, h + "ln_2"), h + "mlp.c_fc")), h + "mlp.c_proj")
    return ln(x, "ln_f") @ w["wte.weight"].T


def verify_fixture(spec, std_vocab, std_merges):
    name = spec["name"]
    d = os.path.join(OUT, name)
    with open(os.path.join(d, "reference.json"), encoding="utf-8") as f:
        ref = json.load(f)
    with open(os.path.join(d, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    vocab_size = cfg["vocab_size"]
    ids = ref["prompt_ids"]
    stored = read_logits(os.path.join(d, ref["logits_file"]), len(ids), vocab_size)

    # 1. Hugging Face, reloaded from disk, upcast to fp32: identical logits and greedy tokens.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = GPT2LMHeadModel.from_pretrained(d).float().eval()
    with torch.no_grad():
        hf = model(torch.tensor([ids])).logits[0].numpy()
    hf_diff = float(np.abs(hf - stored).max())
    assert hf_diff == 0.0, f"{name}: HF logits differ from the file by {hf_diff}"
    assert greedy_generate(model, ids, ref["greedy"]["max_new_tokens"]) == ref["greedy"]["tokens"]

    # 2. Independent numpy implementation: close logits, same greedy continuation (no cache).
    npl = numpy_gpt2(d, ids)
    np_diff = float(np.abs(npl - stored).max())
    assert np_diff < 1e-3, f"{name}: numpy GPT-2 differs from the reference by {np_diff}"
    seq = list(ids)
    for _ in range(ref["greedy"]["max_new_tokens"]):
        seq.append(int(np.argmax(numpy_gpt2(d, seq)[-1])))
    assert seq[len(ids) :] == ref["greedy"]["tokens"], f"{name}: numpy greedy differs"

    # 3. Tokenizer cases: HF from the fixture's files (or the standard vocab) and the reference BPE.
    if spec["tokenizer"]:
        tok = GPT2Tokenizer.from_pretrained(d)
    else:
        tok = hf_tokenizer_from_files(ASSETS)
    check_tokenizer_nonempty(tok)
    vocab, merges = truncated_vocab(std_vocab, std_merges) if vocab_size == TRUNC_VOCAB else (std_vocab, std_merges)
    ref_bpe = RefBPE(vocab, merges)
    assert tok(ref["prompt_text"])["input_ids"] == ids == ref_bpe.encode(ref["prompt_text"])
    for case in ref["tokenizer_cases"]:
        assert tok(case["text"])["input_ids"] == case["ids"] == ref_bpe.encode(case["text"]), case

    size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    print(
        f"verified {name:17s} files={sorted(os.listdir(d))}\n"
        f"{'':9s}{'':17s} HF max diff={hf_diff:g}  numpy max diff={np_diff:.2e}  size={size / 1e6:.2f} MB"
    )
    return size


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--verify", action="store_true", help="only verify the fixtures on disk")
    args = parser.parse_args()

    torch.set_num_threads(1)  # bit-for-bit reproducible CPU math
    transformers.logging.set_verbosity_error()
    std_vocab, std_merges = load_standard_vocab()

    if not args.verify:
        os.makedirs(OUT, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp_root:
            for spec in FIXTURES:
                build_fixture(spec, std_vocab, std_merges, tmp_root)
    total = sum(verify_fixture(spec, std_vocab, std_merges) for spec in FIXTURES)
    print(f"all fixtures verified, {total / 1e6:.2f} MB in total")


if __name__ == "__main__":
    sys.exit(main())
