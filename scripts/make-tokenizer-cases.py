#!/usr/bin/env python3
"""Build the tokenizer reference fixtures from Hugging Face's GPT-2 tokenizer.

Run from the repository root:  python3 scripts/make-tokenizer-cases.py

Needs transformers (made with 5.18.0, tokenizers 0.23.2) and the `regex` module; they are
used here only, never by the package. Writes, under tests/fixtures/tokenizer/:

  gpt2-cases.json              [{text, ids}]  GPT2Tokenizer ids for tricky strings + seeded fuzz
  gpt2-decode-cases.json       [{ids, text}]  GPT2Tokenizer.decode of ids that cut UTF-8 apart
  gpt2-charclasses.json        [[first code point, class], ...] runs of each code point's class
                               (L letter, N number, S white space, O other, X surrogate) as the
                               ByteLevel pre-tokenizer's regex sees it
  small-tokenizer.json         a tokenizer.json written by `tokenizers`: the first 1000 GPT-2
                               merges, "<|endoftext|>" and a few added tokens with lstrip /
                               rstrip / single_word
  small-tokenizer-cases.json   [{text, ids}] for small-tokenizer.json
  tricky-merges-tokenizer.json a tiny tokenizer.json whose merges repeat a pair (the later rank
                               wins) and make one token in two ways
  tricky-merges-cases.json     [{text, ids}] for it: seeded random strings over "abc"

Cross-checks (printed, not fatal unless the main tokenizer is broken):
  * GPT2TokenizerFast (in transformers 5 the same class as GPT2Tokenizer);
  * an independent pure-Python encoder following OpenAI's original GPT-2 encoder.py
    (regex split, byte map, rank-ordered merges), written here from the algorithm.
"""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path

import regex
import tokenizers
import transformers
from tokenizers import AddedToken, Tokenizer, decoders, pre_tokenizers
from tokenizers.models import BPE
from transformers import GPT2Tokenizer

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets" / "gpt2"
OUT = ROOT / "tests" / "fixtures" / "tokenizer"
EOS = "<|endoftext|>"

PARAGRAPH_EN = (
    "The quick brown fox jumps over the lazy dog. It's a well-known pangram; they've used it "
    "since the 1880s, and we'd guess you'll see it again. Isn't that neat? \"Yes,\" she said -- "
    "twice!\n\nSection 2.1: Results (n=1,024) were 97.5% accurate, costing $3.14 each."
)
PARAGRAPH_MIXED = (
    "Bonjour, ça va? Ünïcödé façade naïve café. Привет, как дела? 你好，世界！这是一个测试。"
    " こんにちは、世界。カタカナとひらがな。 안녕하세요 세계. مرحبا بالعالم. नमस्ते दुनिया।"
    " Γειά σου Κόσμε. שלום עולם."
)
CODE = (
    "def fib(n: int) -> int:\n"
    "    if n < 2:\n"
    "        return n\n"
    "    return fib(n - 1) + fib(n - 2)\n"
    "\n"
    "\tconst x = {a: [1, 2, 3], 'b': \"c\"}; // comment\r\n"
    "for (let i = 0; i < 10; i++) { console.log(`i=${i}`); }\n"
)

CASES: list[str] = [
    # basics
    "",
    "Hello world",
    " Hello world",
    "Hello, world!",
    "hello",
    "   hello",
    "hello   ",
    "hello world   ",
    " ",
    "  ",
    "a  b",
    "a   b",
    "a \t b",
    "a\tb",
    "\t\tindented",
    "line1\nline2",
    "line1\r\nline2",
    "para1\r\n\r\npara2",
    "\n\n\n",
    "trailing newline\n",
    " \n \n ",
    # contractions (lower-case only in GPT-2's regex)
    "it's",
    "don't",
    "we're they've I'm you'll he'd",
    "IT'S DON'T WE'RE I'M YOU'LL HE'D",
    "It'S",
    "rock 'n' roll",
    "'s's",
    "''s",
    "‘curly’ quotes don’t split",
    # numbers
    "1234567",
    "3.14159",
    "1,000,000",
    "2024-01-15",
    "0x7FFF_FFFF",
    "٣٤٥ ১২৩ 四五六 ½ ⅔ ²³",
    "v1.2.3-beta+build.45",
    # punctuation and symbols
    "!!!???...",
    "@#$%^&*()_+-=[]{}|;:,.<>/?~`",
    "-- --- ...",
    "\u00a0non\u00a0breaking\u00a0spaces",
    "ideographic\u3000space",
    "nel\u0085line",
    "zero\u200bwidth\u200cnon\u200djoiner",
    "\ufeffBOM at start",
    "BOM\ufeffin middle",
    "soft\u00adhyphen",
    "\x00\x01\x02 control \x1b[31mred\x1b[0m \x7f",
    "\x1c\x1d\x1e\x1f separators",
    "form\x0cfeed and vertical\x0btab",
    # accents, combining marks, scripts
    "café naïve résumé Ångström",
    "cafe\u0301 nai\u0308ve",
    "e\u0301\u0301\u0301 stacked",
    "Zalgo: Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f",
    "你好世界",
    "我爱北京天安门，天安门上太阳升。",
    "日本語のテキストです。",
    "한국어 텍스트입니다",
    "مرحبا بك في عالم البرمجة",
    "हिन्दी में लिखा गया पाठ",
    "ภาษาไทยไม่มีช่องว่าง",
    "Ελληνικά και Русский",
    "עברית",
    # emoji
    "😀",
    "😀😃😄",
    "I ❤️ emoji 🎉🎉",
    "👨\u200d👩\u200d👧\u200d👦 family",
    "👍🏽 thumbs",
    "🏳️\u200d🌈 flag",
    "🇺🇸🇯🇵",
    "𝕳𝖊𝖑𝖑𝖔 𝟙𝟚𝟛",
    "𠀀𠀁 astral CJK",
    # Unicode 16 / 17 letters (Hugging Face's Oniguruma knows 16, not 17)
    "Garay \U00010d50\U00010d51 and Ext-J \U000323b0\U000323b1 and \u088f",
    "a\U00010d50b x\U000323b0y \u088f\u0628\u0628 7\U00011de0",
    # the special token
    EOS,
    EOS + "Hello",
    "Hello" + EOS,
    "Hello " + EOS + " world",
    "a" + EOS + EOS + "b",
    "<|endoftext",
    "<|endoftext|",
    "endoftext|>",
    "<|ENDOFTEXT|>",
    "< |endoftext|>",
    "<|endoftext|>\n\n<|endoftext|>",
    "  " + EOS + "  ",
    # code, urls, markup
    CODE,
    "https://example.com/path?query=1&b=two#frag",
    "user@example.org",
    "C:\\Users\\name\\file.txt",
    "<div class=\"x\">Hi &amp; bye</div>",
    "# Title\n\n* item one\n* item two\n\n```js\nlet a = 1;\n```",
    "{\"key\": [1, 2.5, true, null]}",
    # long pieces (exercise the queue merge path)
    "a" * 300,
    "abcdefghij" * 40,
    "ab" * 150 + " " + "xy" * 100,
    "漢字" * 120,
    "SGVsbG8gV29ybGQhIFRoaXMgaXMgYmFzZTY0IGVuY29kZWQgdGV4dCBmb3IgdGVzdGluZw" * 5,
    " " * 100,
    "\n" * 50,
    "😀" * 60,
    # paragraphs
    PARAGRAPH_EN,
    PARAGRAPH_MIXED,
    PARAGRAPH_EN + "\n\n" + EOS + "\n\n" + PARAGRAPH_MIXED + "\n" + CODE,
]

# Pools for seeded fuzz strings: each string mixes characters from a few pools.
FUZZ_POOLS = [
    " " * 6 + "\t\n\r",
    "abcdefghijklmnopqrstuvwxyz",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "0123456789",
    "'\"!?.,;:-_()[]{}<>/\\|@#$%^&*+=~`",
    "'s't're've'm'll'd",
    "éèêëàâäôöûüçñßÅøæ\u0301\u0308\u0327",
    "你好世界中文字符测试漢字",
    "こんにちはカタカナ",
    "한국어텍스트",
    "مرحباالعالم",
    "हिन्दीपाठ",
    "😀🎉❤️👍🏽🇺🇸\u200d\ufe0f",
    "\u00a0\u3000\u0085\u2028\u2029\ufeff\u200b\x0b\x0c\x1c",
    "𝕳𝖊𝟙𝟚𠀀",
    "<|endoftext|>",
]


def fuzz_cases(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        pools = rng.sample(FUZZ_POOLS, rng.randint(1, 4))
        n = rng.randint(1, 60)
        out.append("".join(rng.choice(rng.choice(pools)) for _ in range(n)))
    return out


# --- independent reference: OpenAI's original algorithm, written from its description ---

def byte_chars() -> dict[int, str]:
    printable = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table = {b: chr(b) for b in printable}
    shift = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(0x100 + shift)
            shift += 1
    return table


class ReferenceEncoder:
    SPLIT = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")

    def __init__(self, vocab: dict[str, int], merges: list[tuple[str, str]]):
        self.vocab = vocab
        self.ranks = {pair: i for i, pair in enumerate(merges)}
        self.chars = byte_chars()

    def bpe(self, word: str) -> list[str]:
        parts = list(word)
        while len(parts) > 1:
            best = min(range(len(parts) - 1), key=lambda i: self.ranks.get((parts[i], parts[i + 1]), float("inf")))
            if (parts[best], parts[best + 1]) not in self.ranks:
                break
            pair = (parts[best], parts[best + 1])
            merged, i = [], 0
            while i < len(parts):  # merge every occurrence, left to right, as encoder.py does
                if i + 1 < len(parts) and (parts[i], parts[i + 1]) == pair:
                    merged.append(parts[i] + parts[i + 1])
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        return parts

    def encode(self, text: str) -> list[int]:
        ids = []
        for k, segment in enumerate(text.split(EOS)):
            if k > 0:
                ids.append(self.vocab[EOS])
            for piece in self.SPLIT.findall(segment):
                mapped = "".join(self.chars[b] for b in piece.encode("utf-8"))
                ids.extend(self.vocab[t] for t in self.bpe(mapped))
        return ids


def read_merges(path: Path) -> list[tuple[str, str]]:
    lines = path.read_text(encoding="utf-8").split("\n")
    out = []
    for i, line in enumerate(lines):
        if not line or (i == 0 and line.startswith("#version")):
            continue
        a, b = line.split(" ")
        out.append((a, b))
    return out


def char_class_runs() -> list[list]:
    pre = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    runs: list[list] = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            cls = "X"
        else:
            c = chr(cp)
            if len(pre.pre_tokenize_str("a" + c)) == 1:
                cls = "L"
            elif len(pre.pre_tokenize_str("1" + c)) == 1:
                cls = "N"
            elif len(pre.pre_tokenize_str("!" + c)) == 1:
                cls = "O"
            else:
                cls = "S"
        if not runs or runs[-1][1] != cls:
            runs.append([cp, cls])
    return runs


def decode_id_lists(tok: GPT2Tokenizer) -> list[list[int]]:
    rng = random.Random(7)
    lists: list[list[int]] = []
    for text in ["😀", "😀🎉", "你好世界", "👨\u200d👩\u200d👧", "🇺🇸", "é", "𠀀", "नमस्ते"]:
        ids = tok.encode(text)
        for i in range(len(ids)):
            lists.append(ids[: i + 1])
            lists.append(ids[i:])
        lists.append(list(reversed(ids)))
    single_bytes = [tok.convert_tokens_to_ids(c) for c in byte_chars().values()]
    for _ in range(60):
        lists.append([rng.choice(single_bytes) for _ in range(rng.randint(1, 8))])
    for _ in range(40):
        lists.append([rng.randrange(50257) for _ in range(rng.randint(1, 6))])
    lists.append([tok.eos_token_id])
    lists.append(tok.encode("a") + [tok.eos_token_id] + tok.encode("b"))
    lists.append(tok.encode("\ufeffBOM"))
    return lists


def write_json(path: Path, rows: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("[\n")
        for i, row in enumerate(rows):
            f.write("  " + json.dumps(row, ensure_ascii=True, separators=(", ", ": ")))
            f.write(",\n" if i + 1 < len(rows) else "\n")
        f.write("]\n")
    print(f"wrote {path.relative_to(ROOT)} ({len(rows)} rows)")


def small_tokenizer(vocab: dict[str, int], merges: list[tuple[str, str]], k: int) -> Tokenizer:
    # In GPT-2's vocabulary, ids 0..255 are the bytes and merge r makes id 256 + r.
    for r, (a, b) in enumerate(merges[:k]):
        assert vocab[a + b] == 256 + r, f"merge {r} does not make id {256 + r}"
    small_vocab = {t: i for t, i in vocab.items() if i < 256 + k}
    small_vocab[EOS] = 256 + k
    tok = Tokenizer(BPE(vocab=small_vocab, merges=merges[:k], continuing_subword_prefix="", end_of_word_suffix="", fuse_unk=False))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(EOS, special=True, normalized=False)])
    tok.add_tokens(
        [
            AddedToken("<L>", lstrip=True, normalized=False),
            AddedToken("<R>", rstrip=True, normalized=False),
            AddedToken("<W>", single_word=True, normalized=False),
            AddedToken("<W>x", normalized=False),
            AddedToken("<|im_start|>", normalized=False),
        ]
    )
    return tok


SMALL_EXTRA = [
    "a  <L>  b",
    "a  <R>  b",
    "a<W>b",
    "a <W> b",
    "a_<W>",
    "é<W>",
    "<W>1",
    "x<W>x",
    "-<W>-",
    "cafe\u0301<W>",
    "<L><R><W>",
    "\u3000<L>\u3000",
    "<|im_start|>user\nhi<|endoftext|>",
    "<|im_start|<|endoftext|>>",
]


def tricky_merges_tokenizer() -> tuple[str, Tokenizer]:
    """A tokenizer.json written by hand (tokenizers would drop the repeated pair on save)."""
    vocab = {c: b for b, c in byte_chars().items()}
    for token in ["ab", "bc", "abc", "ca", "cab", "abca", "bcab", "aa", "aaa", "bb", EOS]:
        vocab[token] = len(vocab)
    merges = [
        ["b", "c"], ["a", "b"], ["ab", "c"], ["a", "bc"], ["c", "a"], ["c", "ab"], ["ab", "ca"],
        ["abc", "a"], ["a", "a"], ["aa", "a"], ["bc", "ab"], ["a", "b"], ["b", "b"],
    ]
    spec = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": vocab[EOS], "content": EOS, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True},
        ],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": merges},
    }
    text = json.dumps(spec, ensure_ascii=True, indent=1)
    return text, Tokenizer.from_str(text)


def main() -> int:
    print(f"transformers {transformers.__version__}, tokenizers {tokenizers.__version__}, regex {regex.__version__}")
    # transformers 5 takes the vocab / merges FILE paths as `vocab=` and `merges=`; the old
    # `vocab_file=` / `merges_file=` names are swallowed and leave an empty tokenizer.
    tok = GPT2Tokenizer(vocab=str(ASSETS / "vocab.json"), merges=str(ASSETS / "merges.txt"))
    if len(tok) != 50257 or tok.encode("Hello world") != [15496, 995] or tok.eos_token_id != 50256:
        print(f"GPT2Tokenizer did not load the vocabulary (size {len(tok)})", file=sys.stderr)
        return 1
    legacy = GPT2Tokenizer(vocab_file=str(ASSETS / "vocab.json"), merges_file=str(ASSETS / "merges.txt"))
    print(f"note: GPT2Tokenizer(vocab_file=..., merges_file=...) gives {len(legacy)} tokens")

    texts = CASES + fuzz_cases(150, seed=2019)
    assert len(set(CASES)) == len(CASES), "duplicate case"
    rows = [{"text": t, "ids": tok.encode(t)} for t in texts]
    for row in rows:
        assert tok.decode(row["ids"], clean_up_tokenization_spaces=False) == row["text"], repr(row["text"])

    fast_cls = getattr(transformers, "GPT2TokenizerFast", None)
    if fast_cls is not None:
        same = fast_cls is GPT2Tokenizer
        fast = fast_cls(vocab=str(ASSETS / "vocab.json"), merges=str(ASSETS / "merges.txt"))
        bad = [r["text"] for r in rows if fast.encode(r["text"]) != r["ids"]]
        print(f"GPT2TokenizerFast{' (same class as GPT2Tokenizer)' if same else ''}: {len(bad)} disagreements")
        for t in bad:
            print(f"  fast disagrees on {t!r:.80}")

    vocab = json.loads((ASSETS / "vocab.json").read_text(encoding="utf-8"))
    merges = read_merges(ASSETS / "merges.txt")
    ref = ReferenceEncoder(vocab, merges)
    bad = [r for r in rows if ref.encode(r["text"]) != r["ids"]]
    print(f"pure-Python encoder.py-style reference: {len(bad)} disagreements")
    for r in bad:
        print(f"  reference disagrees on {r['text']!r:.80}: hf {r['ids'][:12]} ref {ref.encode(r['text'])[:12]}")

    write_json(OUT / "gpt2-cases.json", rows)

    decode_rows = [{"ids": ids, "text": tok.decode(ids, clean_up_tokenization_spaces=False)} for ids in decode_id_lists(tok)]
    write_json(OUT / "gpt2-decode-cases.json", decode_rows)

    runs = char_class_runs()
    with open(OUT / "gpt2-charclasses.json", "w", encoding="utf-8") as f:
        f.write(json.dumps(runs, separators=(",", ":")) + "\n")
    print(f"wrote tests/fixtures/tokenizer/gpt2-charclasses.json ({len(runs)} runs)")

    small = small_tokenizer(vocab, merges, 1000)
    small_path = OUT / "small-tokenizer.json"
    small.save(str(small_path), pretty=True)
    print(f"wrote {small_path.relative_to(ROOT)} ({os.path.getsize(small_path)} bytes)")
    small_texts = CASES[:40] + [PARAGRAPH_EN, PARAGRAPH_MIXED, CODE] + SMALL_EXTRA
    small_rows = [{"text": t, "ids": small.encode(t, add_special_tokens=False).ids} for t in small_texts]
    write_json(OUT / "small-tokenizer-cases.json", small_rows)

    tricky_json, tricky = tricky_merges_tokenizer()
    (OUT / "tricky-merges-tokenizer.json").write_text(tricky_json + "\n", encoding="utf-8")
    print("wrote tests/fixtures/tokenizer/tricky-merges-tokenizer.json")
    rng = random.Random(5)
    tricky_texts = ["".join(rng.choice("abc") for _ in range(rng.randint(1, 80))) for _ in range(300)]
    tricky_texts += ["abc", "ab c", "ca" * 40 + " " + "bca" * 30]
    tricky_rows = [{"text": t, "ids": tricky.encode(t, add_special_tokens=False).ids} for t in tricky_texts]
    write_json(OUT / "tricky-merges-cases.json", tricky_rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
