#!/usr/bin/env python3
"""Build the reference fixtures for tokenizer pipelines other than GPT-2's own.

Run from the repository root:  python3 scripts/make-tokenizer-pipelines.py

Needs tokenizers (made with 0.23.2) and transformers (5.18.0); they are used here only,
never by the package. Small byte-level BPE vocabularies are trained with `tokenizers` in
each pipeline's style, saved, and loaded back the way Hugging Face loads them; their ids
are the reference. Writes, under tests/fixtures/tokenizer/:

  pipelines/<name>/            one tokenizer each: tokenizer.json, or vocab.json + merges.txt,
                               with tokenizer_config.json where the family has one, and
  pipelines/<name>/cases.json  {oracle, vocabSize, eosTokenId, bosTokenId, cases: [{text, ids,
                               idsNoSpecial, decoded, decodedSkip}]}: ids with and without
                               add_special_tokens, decode of ids with and without
                               skip_special_tokens
  onig-splits.json             [{pattern, text, invert, pieces: {behavior: [...]}}]: the Split
                               pre-tokenizer on Oniguruma patterns, every behavior
  onig-classes.json            {pattern: [[first, last], ...]}: the code points each one-character
                               pattern matches in Oniguruma; "rust:numeric" / "rust:whitespace" /
                               "rust:word" the sets Digits, WhitespaceSplit and Whitespace use
  normalizer-cases.json        {NFC: [[text, normalized], ...], ...}: HF's normalizers on text
                               around the code points its Unicode tables and Node's disagree on

The texts are the GPT-2 cases of make-tokenizer-cases.py (Chinese, emoji, combining marks,
\\r\\n, space runs, digits, special tokens between letters) plus cases for each feature.
"""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from pathlib import Path

import tokenizers
import transformers
from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors, trainers
from tokenizers.models import BPE
from transformers import AutoTokenizer, GPT2Tokenizer

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "tokenizer"
PIPES = OUT / "pipelines"

_spec = importlib.util.spec_from_file_location("gpt2cases", ROOT / "scripts" / "make-tokenizer-cases.py")
gpt2cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gpt2cases)  # type: ignore[union-attr]

EOS = "<|endoftext|>"
BLOOM_REGEX = " ?[^(\\s|[.,!?…。，、।۔،])]+"
LLAMA3_REGEX = (
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
)

# The GPT-2 cases without the very long ones (they stay in gpt2-cases.json).
BASE = [t for t in gpt2cases.CASES if len(t) <= 400]

FEATURES = [
    # BLOOM's punctuation class and the Split behaviors
    "Hello, world! How are you? Fine… thanks.",
    "中文，标点。还有、顿号！",
    "हिन्दी। اردو۔ عربي، end",
    "a.b,c!d?e…f。g，h、i।j۔k،l",
    "(parens) | pipes [brackets]",
    "...,,,!!!???",
    "  leading and trailing  ",
    # digits
    "1234567890 and 3.14 and 2024-01-15",
    "٣٤٥٦ ১২৩ ½⅔ ²³ Ⅻ ①②",
    "x1y22z333w4444",
    # case folding (Llama 3's (?i:'s|…))
    "IT'S, It'S, WE'RE, I'VE, YOU'LL, HE'D, I'M, DON'T",
    "Kelvin \u212a and long \u017f: '\u017f '\u212a",
    # letters, numbers, and whitespace runs
    "tab\tseparated\tvalues\n\nnew\r\nlines\r\r\n",
    "\u00a0\u2003\u3000 odd spaces \u2028\u2029",
    # normalization
    "ﬁﬂ ligatures, ① circled, ｆｕｌｌｗｉｄｔｈ, Ⅻ, ㎏, ㋿",
    "Å vs A\u030a, é vs e\u0301, 한국어 vs \u1112\u1161\u11ab",
    "ΑΣ ΣΑΣ ὈΔΥΣΣΕΎΣ İstanbul ǅ ß ẞ",
    "``quoted'' and  double  spaces",
    "\U000105c9 \U000105d2\u0307 \U00011383 \U00016d68 \u32ff \U0001fbf5",
    # new Unicode 17 characters
    "\u088f\u0628 \U000323b0\U000323b1 \u1acf a\u1ad0 \u20c1",
]


def fuzz(seed: int, count: int, extra_pools: list[str] = ()) -> list[str]:
    rng = random.Random(seed)
    pools = gpt2cases.FUZZ_POOLS + list(extra_pools) + [".,!?…。，、।۔،", "0123456789٣৪", "ﬁ①ｆ㎏Å\u030a\u0345"]
    out = []
    for _ in range(count):
        chosen = rng.sample(pools, rng.randint(1, 4))
        n = rng.randint(1, 50)
        out.append("".join(rng.choice(rng.choice(chosen)) for _ in range(n)))
    return out


TRAIN = [gpt2cases.PARAGRAPH_EN, gpt2cases.PARAGRAPH_MIXED, gpt2cases.CODE] * 8 + BASE * 2 + FEATURES * 3


def train(pre, normalizer=None, specials=(), vocab_size=500, **model_kwargs) -> Tokenizer:
    trainer_kwargs = {k: v for k, v in model_kwargs.items() if k in ("continuing_subword_prefix", "end_of_word_suffix")}
    tok = Tokenizer(BPE(**model_kwargs))
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[AddedToken(s, special=True, normalized=False) for s in specials],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
        **trainer_kwargs,
    )
    tok.train_from_iterator(TRAIN, trainer)
    tok.decoder = decoders.ByteLevel()
    return tok


def write_rows(path: Path, header: dict, rows: list) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write("{\n")
        for k, v in header.items():
            f.write(f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=True)},\n")
        f.write('  "cases": [\n')
        for i, row in enumerate(rows):
            f.write("    " + json.dumps(row, ensure_ascii=True, separators=(", ", ": ")))
            f.write(",\n" if i + 1 < len(rows) else "\n")
        f.write("  ]\n}\n")


def cases_from_tokenizers(tok: Tokenizer, texts: list[str]) -> list[dict]:
    rows = []
    for t in texts:
        ids = tok.encode(t).ids
        rows.append({
            "text": t,
            "ids": ids,
            "idsNoSpecial": tok.encode(t, add_special_tokens=False).ids,
            "decoded": tok.decode(ids, skip_special_tokens=False),
            "decodedSkip": tok.decode(ids, skip_special_tokens=True),
        })
    return rows


def cases_from_transformers(tok, texts: list[str]) -> list[dict]:
    rows = []
    for t in texts:
        ids = tok.encode(t)
        rows.append({
            "text": t,
            "ids": ids,
            "idsNoSpecial": tok.encode(t, add_special_tokens=False),
            "decoded": tok.decode(ids, skip_special_tokens=False),
            "decodedSkip": tok.decode(ids, skip_special_tokens=True),
        })
    return rows


def save(name: str, tok: Tokenizer | None, texts: list[str], config: dict | None = None, *, via: str = "tokenizers",
         vocab_merges: bool = False, extra_files: dict | None = None) -> None:
    d = PIPES / name
    d.mkdir(parents=True, exist_ok=True)
    for old in d.iterdir():
        old.unlink()
    if vocab_merges:
        tok.model.save(str(d))
    else:
        tok.save(str(d / "tokenizer.json"), pretty=False)
    if config is not None:
        (d / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    for fname, content in (extra_files or {}).items():
        (d / fname).write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
    texts = list(dict.fromkeys(texts))
    if via == "tokenizers":
        ref = Tokenizer.from_file(str(d / "tokenizer.json"))
        rows = cases_from_tokenizers(ref, texts)
        header = {"oracle": f"tokenizers {tokenizers.__version__} Tokenizer.from_file",
                  "vocabSize": max(ref.get_vocab(with_added_tokens=True).values()) + 1}
        eos = bos = None
    else:
        cls = GPT2Tokenizer if via == "GPT2Tokenizer" else AutoTokenizer
        ref = cls.from_pretrained(str(d))
        rows = cases_from_transformers(ref, texts)
        header = {"oracle": f"transformers {transformers.__version__} {cls.__name__}.from_pretrained",
                  "vocabSize": max(ref.get_vocab().values()) + 1}
        eos, bos = ref.eos_token_id, ref.bos_token_id
        if (d / "tokenizer.json").exists():
            # With no add_bos_token / add_eos_token override the tokenizers library agrees.
            plain = Tokenizer.from_file(str(d / "tokenizer.json"))
            agree = sum(plain.encode(r["text"], add_special_tokens=False).ids == r["idsNoSpecial"] for r in rows)
            print(f"  {name}: tokenizers agrees with transformers on {agree}/{len(rows)} texts without special tokens")
    header["eosTokenId"] = eos
    header["bosTokenId"] = bos
    header["files"] = "vocab+merges" if vocab_merges else "tokenizer.json"
    write_rows(d / "cases.json", header, rows)
    print(f"wrote {d.relative_to(ROOT)} ({len(rows)} cases, {header['oracle']})")


def added(content: str, **kw) -> AddedToken:
    return AddedToken(content, **kw)


# ---- the pipelines ----

def make_pipelines() -> None:
    common = BASE + FEATURES + fuzz(11, 40)

    # GPT-2's own layout, small.
    tok = train(pre_tokenizers.ByteLevel(add_prefix_space=False), specials=[EOS])
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    save("gpt2-style", tok, common)

    # BLOOM: Split(BLOOM's regex, Isolated) then ByteLevel without its regex, <unk> <s> </s> <pad>.
    bloom_pre = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(BLOOM_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    tok = train(bloom_pre, specials=["<unk>", "<s>", "</s>", "<pad>"])
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    bloom_config = {"add_prefix_space": False, "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
                    "pad_token": "<pad>", "padding_side": "left", "tokenizer_class": "BloomTokenizerFast"}
    save("bloom", tok, common + ["<s>hi</s>", "a<pad>b<unk>c", " </s> "], bloom_config, via="AutoTokenizer")

    # OPT: vocab.json + merges.txt, <s>=0 <pad>=1 </s>=2 <unk>=3, and OPT's tokenizer_config.json
    # (bos = eos = unk = "</s>", add_bos_token), read by GPT2Tokenizer: "</s>" goes in front.
    opt_specials = ["<s>", "<pad>", "</s>", "<unk>"]
    tok = train(pre_tokenizers.ByteLevel(add_prefix_space=False), specials=opt_specials)
    opt_token = lambda c: {"content": c, "single_word": False, "lstrip": False, "rstrip": False, "normalized": True,
                           "__type": "AddedToken"}
    opt_config = {"errors": "replace", "unk_token": opt_token("</s>"), "bos_token": opt_token("</s>"),
                  "eos_token": opt_token("</s>"), "pad_token": opt_token("<pad>"), "add_prefix_space": False,
                  "add_bos_token": True, "special_tokens_map_file": None, "name_or_path": "patrickvonplaten/opt-30b"}
    special_map = {k: {kk: vv for kk, vv in opt_token(c).items() if kk != "__type"}
                   for k, c in [("bos_token", "</s>"), ("eos_token", "</s>"), ("unk_token", "</s>"), ("pad_token", "<pad>")]}
    opt_texts = common + ["</s>", "<s>", "a</s>b", "x<pad>y", "<unk>", "<|endoftext|>", "  </s>  "]
    save("opt-vocab-merges", tok, opt_texts, opt_config, via="GPT2Tokenizer", vocab_merges=True,
         extra_files={"special_tokens_map.json": special_map})

    # OPT as a tokenizer.json whose TemplateProcessing puts "</s>" first (no config: tokenizers' ids).
    tok.post_processor = processors.TemplateProcessing(single="</s> $A", pair="</s> $A </s> $B", special_tokens=[("</s>", 2)])
    save("opt-tokenizer-json", tok, opt_texts)

    # GPT-Neo: GPT-2's layout with GPT-Neo's tokenizer_config.json (read by GPT2Tokenizer).
    tok = train(pre_tokenizers.ByteLevel(add_prefix_space=False), specials=[EOS])
    neo_config = {"errors": "replace", "unk_token": EOS, "bos_token": EOS, "eos_token": EOS, "add_prefix_space": False,
                  "model_max_length": 2048, "special_tokens_map_file": None, "name_or_path": "gpt2",
                  "tokenizer_class": "GPT2Tokenizer"}
    save("gpt-neo", tok, common, neo_config, via="AutoTokenizer")

    # Added tokens: lstrip / rstrip / single_word / normalized, special or not, with a Lowercase normalizer.
    tok = train(pre_tokenizers.ByteLevel(add_prefix_space=True), normalizer=normalizers.Lowercase(), specials=[EOS])
    tok.add_tokens([
        added("<L>", lstrip=True, normalized=False), added("<R>", rstrip=True, normalized=False),
        added("<LR>", lstrip=True, rstrip=True, normalized=False, special=True), added("<W>", single_word=True, normalized=False),
        added("[norm]", normalized=True), added("[RAW]", normalized=False), added("<mask>", lstrip=True, special=True, normalized=False),
        added(" sp", normalized=False),
    ])
    extra = ["a  <L>  b", "a  <R>  b", "a <LR> b", "a<W>b", "a <W> b", "x [NORM] y [norm] [RAW] [raw]", "<mask> x <mask>",
             "a <mask>", "a sp b  sp", "<R> sp", "Ω<W>Ω", "1<W>1", "<L><R><LR><W>", "\u3000<L>\u3000<R>\u3000"]
    save("added-tokens", tok, common + extra + fuzz(12, 30, ["<L><R><LR><W>[norm][NORM][RAW]<mask> sp "]))

    # A Sequence of normalizers.
    seq = normalizers.Sequence([
        normalizers.NFKD(), normalizers.Replace("``", '"'), normalizers.Replace(Regex(" {2,}"), " "),
        normalizers.Lowercase(), normalizers.Strip(left=True, right=True), normalizers.NFC(), normalizers.Prepend("▁"),
    ])
    tok = train(pre_tokenizers.ByteLevel(add_prefix_space=False), normalizer=seq, specials=[EOS])
    save("normalizer-sequence", tok, common)

    # GPT-NeoX / Pythia style: NFC then GPT-2's ByteLevel; and NFKC with add_prefix_space.
    tok = train(pre_tokenizers.ByteLevel(add_prefix_space=False), normalizer=normalizers.NFC(), specials=[EOS])
    save("nfc", tok, common)
    tok = train(pre_tokenizers.ByteLevel(add_prefix_space=True), normalizer=normalizers.NFKC(), specials=[EOS])
    save("nfkc-prefix-space", tok, common)

    # Split with each behavior (and invert), then ByteLevel without its regex.
    split_patterns = {
        "isolated": (Regex("\\s+|\\p{P}"), "isolated", False),
        "removed": (" ", "removed", False),
        "merged-with-previous": (Regex("[.,!?;:]+|\\n"), "merged_with_previous", False),
        "merged-with-next": (Regex("\\s+"), "merged_with_next", False),
        "contiguous": (Regex("\\d|\\s"), "contiguous", False),
        "invert": (Regex("\\p{L}+|\\p{N}+"), "isolated", True),
    }
    for name, (pattern, behavior, invert) in split_patterns.items():
        pre = pre_tokenizers.Sequence([
            pre_tokenizers.Split(pattern, behavior=behavior, invert=invert),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
        tok = train(pre, specials=[EOS])
        save(f"split-{name}", tok, common)

    # Digits and the white-space pre-tokenizers.
    pre = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Digits(individual_digits=True),
                                   pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    save("digits-whitespace-split", train(pre, specials=[EOS]), common)
    pre = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(), pre_tokenizers.Digits(individual_digits=False),
                                   pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=False)])
    save("whitespace-digits", train(pre, specials=[EOS]), common)
    # A ByteLevel step in the middle: later steps see byte characters.
    pre = pre_tokenizers.Sequence([pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True), pre_tokenizers.Digits(individual_digits=True)])
    save("bytelevel-then-digits", train(pre, specials=[EOS]), common)

    # Llama 3 style: its Split regex ((?i:…), \p{N}{1,3}), ignore_merges, BOS by TemplateProcessing.
    pre = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(LLAMA3_REGEX), behavior="isolated", invert=False),
                                   pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok = train(pre, specials=["<|begin_of_text|>", "<|end_of_text|>"], ignore_merges=True)
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B",
                                      special_tokens=[("<|begin_of_text|>", 0)]),
    ])
    # Its tokenizer_config.json names the eos token and says nothing of add_bos_token, so the
    # post-processor stays and tokenizers' ids are transformers' ids.
    llama_config = {"bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>", "tokenizer_class": "PreTrainedTokenizerFast"}
    save("llama3-style", tok, common + ["<|begin_of_text|>x<|end_of_text|>"], llama_config)

    # RoBERTa style: add_prefix_space, <s> … </s> by RobertaProcessing, <mask> with lstrip.
    tok = train(pre_tokenizers.ByteLevel(add_prefix_space=True), specials=["<s>", "<pad>", "</s>", "<unk>"])
    tok.add_special_tokens([added("<mask>", lstrip=True, special=True, normalized=False)])
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=True, add_prefix_space=True)
    save("roberta-style", tok, common + ["The <mask> sat.", "<s>x</s>"])

    # BPE options: continuing_subword_prefix, end_of_word_suffix, unk_token with fuse_unk.
    tok = train(pre_tokenizers.ByteLevel(add_prefix_space=False), specials=["<unk>", EOS], vocab_size=700,
                continuing_subword_prefix="##", end_of_word_suffix="</w>", unk_token="<unk>", fuse_unk=True)
    save("prefix-suffix-unk", tok, common)


# ---- SentencePiece-style BPE (Llama 2 / TinyLlama) ----

SP_SPECIALS = ["<unk>", "<s>", "</s>"]


def train_sentencepiece(*, byte_fallback: bool = True, fuse_unk: bool = True, ignore_merges: bool = False,
                        vocab_size: int = 600, specials_normalized: bool = False) -> Tokenizer:
    """A Llama-2-layout vocabulary: <unk> <s> </s>, then <0x00>…<0xFF> (with byte_fallback), then the
    trained "▁"-pieces. limit_alphabet keeps rare characters (emoji, most Han) out, so they fall back."""
    tok = Tokenizer(BPE(unk_token="<unk>", fuse_unk=fuse_unk, byte_fallback=byte_fallback))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="never", split=True)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[], limit_alphabet=90, show_progress=False)
    tok.train_from_iterator(TRAIN, trainer)
    j = json.loads(tok.to_str())
    trained = sorted(j["model"]["vocab"].items(), key=lambda kv: kv[1])
    head = SP_SPECIALS + ([f"<0x{b:02X}>" for b in range(256)] if byte_fallback else [])
    vocab = {t: i for i, t in enumerate(head)}
    for t, _ in trained:
        if t not in vocab:
            vocab[t] = len(vocab)
    j["model"]["vocab"] = vocab
    j["model"]["byte_fallback"] = byte_fallback
    j["model"]["fuse_unk"] = fuse_unk
    j["model"]["ignore_merges"] = ignore_merges
    j["model"]["unk_token"] = "<unk>"
    j["added_tokens"] = []
    tok = Tokenizer.from_str(json.dumps(j))
    tok.add_special_tokens([AddedToken(s, special=True, normalized=specials_normalized) for s in SP_SPECIALS])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)])
    return tok


LLAMA2_DECODER = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                    decoders.Strip(" ", 1, 0)])

SP_EXTRA = ["<s>hi</s>", " <s> x", "hi<s>there", "<s>", "</s> </s>", "<unk>", "literal <0x0A> and <0xE4>", "▁ already ▁▁",
            "   ", " ", "\n", "a\u0301", "👍🏽 and 😀", "中文字符测试", "x😀y", "😀", " 😀 ", "\r\n\r\n", "  two  spaces  ",
            "tab\tand\u3000ideographic", "9876543210", "a<s>", "\u0000\u0001\u007f", "ﬁ Å"]


def make_sentencepiece() -> None:
    texts = BASE + FEATURES + fuzz(11, 40) + SP_EXTRA + fuzz(21, 30, ["<s></s><unk>▁ ", "😀👍🏽🎉"])

    # Llama 2 / TinyLlama: normalizer Prepend("▁") + Replace(" ", "▁"), no pre-tokenizer.
    tok = train_sentencepiece()
    tok.pre_tokenizer = None
    tok.decoder = LLAMA2_DECODER
    save("llama2-style", tok, texts)

    # The same with <unk> <s> </s> matched in the normalized text (normalized: true, as some conversions have).
    tok = train_sentencepiece(specials_normalized=True)
    tok.pre_tokenizer = None
    tok.decoder = LLAMA2_DECODER
    save("llama2-normalized-specials", tok, texts)

    # The newer form: no normalizer, Metaspace(prepend_scheme "first", split false).
    for name, scheme, split, decoder, kw in [
        ("metaspace-first", "first", False, LLAMA2_DECODER, {}),
        ("metaspace-first-split", "first", True, decoders.Metaspace(replacement="▁", prepend_scheme="first", split=True), {}),
        ("metaspace-always-split", "always", True, decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True),
         {"ignore_merges": True}),
        ("metaspace-never-unk", "never", False, decoders.Metaspace(replacement="▁", prepend_scheme="never", split=False),
         {"byte_fallback": False}),
    ]:
        tok = train_sentencepiece(**kw)
        tok.normalizer = None
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme=scheme, split=split)
        tok.decoder = decoder
        save(name, tok, texts)

    # Read by transformers' LlamaTokenizer, which builds its own pipeline from the config
    # (Metaspace "first", or "always" with legacy: true, "never" without add_prefix_space).
    llama_config = {"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>",
                    "unk_token": "<unk>", "pad_token": None, "legacy": False, "clean_up_tokenization_spaces": False,
                    "model_max_length": 2048, "sp_model_kwargs": {}, "tokenizer_class": "LlamaTokenizer"}
    for name, extra in [("llama2-transformers", {}), ("llama2-transformers-legacy", {"legacy": True}),
                        ("llama2-transformers-eos-no-prefix", {"add_eos_token": True, "add_prefix_space": False})]:
        tok = train_sentencepiece()
        tok.pre_tokenizer = None
        tok.decoder = LLAMA2_DECODER
        save(name, tok, texts, {**llama_config, **extra}, via="AutoTokenizer")


# ---- Oniguruma conformance ----

SPLIT_PATTERNS = [
    BLOOM_REGEX, LLAMA3_REGEX,
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
    "a*", "x?", "(?=b)", "\\b", "\\B", "^", "$", "^a|b$", "\\A.|.\\z", ".\\Z", "(?m:.)+", ".+",
    "\\R", "\\d++", "(?>a|ab)c", "a{2,}+", "a{,2}", "[a-z&&[^aeiou]]+", "(?i)abc|def", "a(?i)bc|de",
    "(?i:s|σ|k)", "(?i:[a-f]+)", "[[:alpha:]]+", "[[:punct:]]", "[[:^digit:]]+", "\\p{Han}+", "\\p{Greek}+",
    "\\p{Lu}\\p{Ll}*", "\\p{^L}+", "\\P{N}", "\\w+", "\\W+", "\\h+", "[\\s\\d]+", "[^\\p{L}\\p{N}\\s]+",
    "\\x{1F600}|\\u00e9|\\x41", "[\\x{4e00}-\\x{9fff}]+", "(a|b)+c", "(?<=a)b", "(?<!a)b", "a|", "(?#comment)a",
    "\\.|\\-|\\/", "[]a]", "[a-]", "\\p{N}{1,3}", "[^\\r\\n\\p{L}\\p{N}]?\\p{L}+", " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*",
    "\\s*[\\r\\n]+", "\\s+(?!\\S)", "(?x) a b # comment", "\\p{Emoji_Presentation}", "[😀-🙏]+",
]

SPLIT_TEXTS = [
    "", "a", "aaa bbb", "abcabc", "xxaxbxx", "The cat's hat, isn't it? IT'S. ſ K",
    "Hello\nworld\r\n\r\nfoo\n", "line\n\nend\n", "ab ac  abc abac", "aaaa", "1234567 89",
    "日本語のテキスト 中文，标点。", "Σίσυφος ΣΑΣ σς", "😀😃 emoji 👍🏽", "  spaces   and\ttabs\t",
    "STRASSE straße Straße", "deadBEEF 0x1f", "Ǆǅǆ İı", "\u088f\u0628 \U000323b0 a\u1acfb",
    "a.b,c!d?e…f。g", "x\u0085y\u2028z", "Ab Cd EF gH",
]


def onig_splits() -> list[dict]:
    behaviors = ["removed", "isolated", "merged_with_previous", "merged_with_next", "contiguous"]
    names = {"removed": "Removed", "isolated": "Isolated", "merged_with_previous": "MergedWithPrevious",
             "merged_with_next": "MergedWithNext", "contiguous": "Contiguous"}
    rows = []
    for pattern in SPLIT_PATTERNS:
        for text in SPLIT_TEXTS:
            for invert in (False, True):
                pieces = {}
                for b in behaviors:
                    pre = pre_tokenizers.Split(Regex(pattern), behavior=b, invert=invert)
                    pieces[names[b]] = [p for p, _ in pre.pre_tokenize_str(text)]
                rows.append({"pattern": pattern, "text": text, "invert": invert, "pieces": pieces})
    return rows


CLASS_PATTERNS = [
    "\\w", "\\d", "\\s", "\\h", "\\W", "\\p{L}", "\\p{N}", "\\p{P}", "\\p{S}", "\\p{M}", "\\p{Z}", "\\p{C}", "\\p{Cn}",
    "\\p{Lu}", "\\p{Ll}", "\\p{Lo}", "\\p{Nd}", "\\p{Han}", "\\p{Latin}", "\\p{Greek}", "\\p{Cyrillic}", "\\p{Arabic}",
    "\\p{Alpha}", "\\p{Alnum}", "\\p{Punct}", "\\p{Word}", "\\p{Any}", "\\p{Assigned}", "\\p{Emoji}",
    "[[:alpha:]]", "[[:punct:]]", "[[:space:]]", "[[:upper:]]", ".", "(?m:.)", "[^(\\s|[.,!?…。，、।۔،])]",
    "[^\\s\\p{L}\\p{N}]", "[^\\r\\n\\p{L}\\p{N}]", "(?i:s)", "(?i:k)", "(?i:σ)", "(?i:i)", "(?i:[a-f])", "(?i:ǆ)",
]


def all_code_points() -> tuple[list[int], str]:
    cps = [c for c in range(0x110000) if not (0xD800 <= c <= 0xDFFF)]
    return cps, "".join(chr(c) for c in cps)


def runs(members: list[int]) -> list[list[int]]:
    out: list[list[int]] = []
    for c in sorted(members):
        if out and out[-1][1] == c - 1:
            out[-1][1] = c
        else:
            out.append([c, c])
    return out


def onig_classes() -> dict:
    cps, s = all_code_points()
    out = {}
    for pattern in CLASS_PATTERNS:
        # invert + Removed keeps exactly the matches; a one-character pattern makes each its own piece.
        pre = pre_tokenizers.Split(Regex(pattern), behavior="removed", invert=True)
        members = [cps[a] for _, (a, b) in pre.pre_tokenize_str(s) for _ in [0] if b == a + 1]
        out[pattern] = runs(members)
    sep = "\u0001"  # not numeric, not a word character, not white space
    pieces = pre_tokenizers.Digits(individual_digits=True).pre_tokenize_str("".join(sep + chr(c) for c in cps) + sep)
    out["rust:numeric"] = runs([ord(p) for p, _ in pieces if len(p) == 1 and p != sep])
    kept = "".join(p for p, _ in pre_tokenizers.WhitespaceSplit().pre_tokenize_str("".join("a" + chr(c) for c in cps) + "a"))
    present = set(kept)
    out["rust:whitespace"] = runs([c for c in cps if chr(c) != "a" and chr(c) not in present])
    word = set()
    for p, _ in pre_tokenizers.Whitespace().pre_tokenize_str("".join("a" + chr(c) for c in cps) + "a"):
        if p.startswith("a") and len(p) >= 2:
            word.update(ord(ch) for ch in p if ch != "a")
    out["rust:word"] = runs(sorted(word))
    return out


# Code points where HF's normalization tables and Node's may differ (see unicode-pin.ts).
NORMALIZATION_PROBES = (
    "\u07fd\u0897\u08ca\u09fe\u0c3c\u0d3b\u0eba\u1715\u1abf\u1acf\u1ae0\u1df6\u32ff\ua7f1\ua7f2\ua82c\uab69"
    "\U000105c9\U000105d2\U000105da\U000105e4\U00010781\U00010787\U00010d24\U00010d69\U00010eab\U00010efa"
    "\U00010f46\U00010f82\U00011070\U0001133b\U00011382\U00011383\U0001138b\U000113c2\U000113c5\U000113c9\U000113b8"
    "\U0001145e\U00011839\U00011935\U00011930\U00011938\U0001193d\U00011943\U000119e0\U00011a34\U00011a47\U00011a99"
    "\U00011d42\U00011d44\U00011d97\U00011f41\U0001611e\U0001611f\U00016121\U00016129\U0001612f\U00016d63\U00016d67"
    "\U00016d68\U00016ff0\U0001ccd6\U0001e030\U0001e08f\U0001e130\U0001e2ae\U0001e2ec\U0001e4ec\U0001e5ee\U0001e6e3"
    "\U0001f16c\U0001fbf0\U0001fbf9"
)


def normalizer_cases() -> dict:
    rng = random.Random(3)
    marks = "\u0300\u0301\u0308\u0316\u0327\u0345\u05b0\u093c\u0f71\u3099"
    bases = "aeoAEOşΩ가각\u1100\u1161\u11a8ﬁ①ｆ㎏"
    texts = [c for c in NORMALIZATION_PROBES]
    texts += [b + c + m for c in NORMALIZATION_PROBES for b, m in [("a", "\u0301"), ("\u0345", ""), ("", "\u0345"), ("e", "\u0307")]]
    pool = NORMALIZATION_PROBES + marks + bases + "  xyz"
    texts += ["".join(rng.choice(pool) for _ in range(rng.randint(1, 12))) for _ in range(600)]
    texts += FEATURES + BASE
    out = {}
    for name, n in [("NFC", normalizers.NFC()), ("NFD", normalizers.NFD()), ("NFKC", normalizers.NFKC()),
                    ("NFKD", normalizers.NFKD()), ("Lowercase", normalizers.Lowercase())]:
        out[name] = [[t, n.normalize_str(t)] for t in texts]
    return out


def main() -> int:
    print(f"transformers {transformers.__version__}, tokenizers {tokenizers.__version__}")
    make_pipelines()
    make_sentencepiece()
    rows = onig_splits()
    with open(OUT / "onig-splits.json", "w", encoding="utf-8") as f:
        f.write("[\n" + ",\n".join(json.dumps(r, ensure_ascii=True) for r in rows) + "\n]\n")
    print(f"wrote tests/fixtures/tokenizer/onig-splits.json ({len(rows)} rows)")
    classes = onig_classes()
    with open(OUT / "onig-classes.json", "w", encoding="utf-8") as f:
        f.write("{\n" + ",\n".join(f"{json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}" for k, v in classes.items()) + "\n}\n")
    print(f"wrote tests/fixtures/tokenizer/onig-classes.json ({len(classes)} classes)")
    norm = normalizer_cases()
    with open(OUT / "normalizer-cases.json", "w", encoding="utf-8") as f:
        f.write("{\n" + ",\n".join(f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=True)}" for k, v in norm.items()) + "\n}\n")
    print(f"wrote tests/fixtures/tokenizer/normalizer-cases.json ({sum(len(v) for v in norm.values())} rows)")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--sentencepiece"]:
        make_sentencepiece()
        sys.exit(0)
    sys.exit(main())
