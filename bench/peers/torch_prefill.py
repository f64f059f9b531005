#!/usr/bin/env python3
"""PyTorch CPU prefill peer (bench/NOTES.md §15): a GPT-2 checkpoint's forward over a fixed random
prompt, in float32 or bfloat16, median of rounds, one JSON line. A tool for measuring, never a
dependency: pip install torch transformers."""
import argparse, json, statistics, time

import torch
from transformers import GPT2LMHeadModel
from transformers.utils import logging as hf_logging

hf_logging.disable_progress_bar()

ap = argparse.ArgumentParser()
ap.add_argument("model", help="a Hugging Face GPT-2 checkpoint directory")
ap.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
ap.add_argument("--tokens", type=int, default=512)
ap.add_argument("--rounds", type=int, default=5)
ap.add_argument("--warmups", type=int, default=2)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--last-logits", action="store_true",
                help="compute LM-head logits for the last position only (like llama-bench pp), not all positions")
args = ap.parse_args()

torch.set_num_threads(args.threads)
dtype = getattr(torch, args.dtype)
model = GPT2LMHeadModel.from_pretrained(args.model, dtype=dtype).eval()

g = torch.Generator().manual_seed(1234)
ids = torch.randint(0, model.config.vocab_size, (1, args.tokens), generator=g)

times = []
with torch.inference_mode():
    for i in range(args.warmups + args.rounds):
        t0 = time.perf_counter()
        out = model(input_ids=ids, use_cache=False, logits_to_keep=1 if args.last_logits else 0)
        _ = out.logits[0, -1, 0].item()  # make sure the result is materialised
        dt = time.perf_counter() - t0
        if i >= args.warmups:
            times.append(dt)

med = statistics.median(times)
print(json.dumps({"dtype": args.dtype, "tokens": args.tokens, "median_ms": round(med * 1e3, 3),
                  "tok_per_s": round(args.tokens / med, 2), "last_logits": args.last_logits}))
