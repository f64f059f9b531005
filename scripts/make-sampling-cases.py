#!/usr/bin/env python3
"""Build the oracles of the generation controls, from Hugging Face transformers:

  tests/fixtures/sampling/hf-processors.json  the distributions its logits processors leave to
      sample from, which tests/sampling-controls.test.ts holds our sampler to;
  tests/fixtures/sampling/hf-generate.json    greedy continuations by model.generate on the
      tiny-f32 fixture with a repetition penalty and logit biases, which
      tests/generation-controls.test.ts holds Gpt.generate to.

    python3 scripts/make-sampling-cases.py

Each case is one row of random fp32 logits over an awkward vocabulary (331 ids), the ids already
in the sequence and the biased ids (half of each among the 20 likeliest, so that the controls
move the mass that matters), and generation settings. The processors are the ones transformers' generate
builds for those settings, in the order it builds them (GenerationMixin._get_logits_processor):
SequenceBiasLogitsProcessor (one-token sequences: OpenAI's logit_bias), then
RepetitionPenaltyLogitsProcessor, then TemperatureLogitsWarper, TopKLogitsWarper,
TopPLogitsWarper and MinPLogitsWarper. The answer is softmax of what they leave (float64 of the
fp32 result), or for greedy settings the argmax.

A token whose fate hangs on rounding would make the oracle fragile, so every case is redrawn
until no cut-off is close: no kept token's probability within 1e-4 (relative) of min-p's floor,
and no best-first cumulative mass within 1e-4 of top-p; a greedy case is redrawn until the
controls change its pick. Deterministic (numpy seed per case).
"""
import json
import os
import sys

import numpy as np
import torch
import transformers
from transformers.generation.logits_process import (
    LogitsProcessorList,
    MinPLogitsWarper,
    RepetitionPenaltyLogitsProcessor,
    SequenceBiasLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

VOCAB = 331
ROOT = os.path.join(os.path.dirname(__file__), "..")
OUT = os.path.join(ROOT, "tests", "fixtures", "sampling", "hf-processors.json")
GENERATE_OUT = os.path.join(ROOT, "tests", "fixtures", "sampling", "hf-generate.json")
TINY = os.path.join(ROOT, "tests", "fixtures", "models", "tiny-f32")

# Greedy generate() settings on tiny-f32, whose plain greedy continuation repeats token 717.
GENERATE_CASES = [
    ("repetition penalty 1.8", dict(repetition_penalty=1.8)),
    ("logit bias: 717 banned (-100), 607 +3", dict(bias={717: -100.0, 607: 3.0})),
    ("repetition penalty 1.3 and 611 -5", dict(repetition_penalty=1.3, bias={611: -5.0})),
]

# name, settings (temperature 0: greedy); every case also gets repeated ids and a logit bias
# where it names them.
CASES = [
    ("temperature 1", dict(temperature=1.0)),
    ("temperature 0.7, top-k 40", dict(temperature=0.7, top_k=40)),
    ("temperature 1.3, top-p 0.85", dict(temperature=1.3, top_p=0.85)),
    ("temperature 0.8, min-p 0.05", dict(temperature=0.8, min_p=0.05)),
    ("temperature 2, min-p 0.1", dict(temperature=2.0, min_p=0.1)),
    ("top-k 50, top-p 0.9, min-p 0.02", dict(temperature=1.0, top_k=50, top_p=0.9, min_p=0.02)),
    ("repetition penalty 1.3", dict(temperature=1.0, repetition_penalty=1.3, repeated=24)),
    ("repetition penalty 0.8 (rewards repeats)", dict(temperature=0.9, repetition_penalty=0.8, repeated=10)),
    (
        "logit bias, repetition penalty 1.5, top-p 0.95",
        dict(temperature=0.9, top_p=0.95, repetition_penalty=1.5, repeated=16, biased=12),
    ),
    ("logit bias with min-p 0.05", dict(temperature=1.1, min_p=0.05, biased=20)),
    ("greedy, repetition penalty 2 and a logit bias", dict(temperature=0.0, repetition_penalty=2.0, repeated=30, biased=8)),
    ("greedy, a logit bias that promotes a token", dict(temperature=0.0, biased=1, promote=True)),
]


def processors(s, bias):
    out = []
    if bias:
        out.append(SequenceBiasLogitsProcessor(sequence_bias=[[[i], b] for i, b in bias.items()]))
    if s.get("repetition_penalty", 1.0) != 1.0:
        out.append(RepetitionPenaltyLogitsProcessor(penalty=s["repetition_penalty"]))
    if s["temperature"] > 0:
        if s["temperature"] != 1.0:
            out.append(TemperatureLogitsWarper(s["temperature"]))
        if s.get("top_k"):
            out.append(TopKLogitsWarper(top_k=s["top_k"]))
        if s.get("top_p", 1.0) < 1.0:
            out.append(TopPLogitsWarper(top_p=s["top_p"]))
        if s.get("min_p"):
            out.append(MinPLogitsWarper(min_p=s["min_p"]))
    return LogitsProcessorList(out)


def close_to_a_cutoff(s, scores_before_warpers):
    """Whether a top-p or min-p cut-off falls within 1e-4 of a token's mass."""
    if s["temperature"] <= 0:
        return False
    x = scores_before_warpers.double() / s["temperature"]
    if s.get("top_k"):
        kth = torch.topk(x, s["top_k"]).values[-1]
        x = torch.where(x < kth, torch.tensor(-float("inf"), dtype=x.dtype), x)
    p = torch.softmax(x, -1)
    if s.get("top_p", 1.0) < 1.0:
        cum = torch.cumsum(torch.sort(p, descending=True).values, 0)
        if torch.min(torch.abs(cum - s["top_p"])) < 1e-4:
            return True
        keep = int(torch.sum(cum - torch.sort(p, descending=True).values < s["top_p"]))
        order = torch.argsort(p, descending=True)
        mask = torch.zeros_like(p, dtype=torch.bool)
        mask[order[:keep]] = True
        p = torch.where(mask, p, torch.zeros_like(p))
        p = p / p.sum()
    if s.get("min_p"):
        floor = s["min_p"] * p.max()
        live = p[p > 0]
        if torch.min(torch.abs(live - floor) / floor) < 1e-4:
            return True
    return False


def make(index, name, s):
    rng = np.random.default_rng(1000 + index)
    while True:
        logits = (rng.standard_normal(VOCAB) * 2.5).astype(np.float32)
        # Half the repeated ids among the 20 likeliest, so that the penalty moves the mass that matters.
        n = s.get("repeated", 0)
        top = np.argsort(-logits)[:20]
        ids = np.concatenate([rng.choice(top, size=n // 2, replace=False), rng.choice(VOCAB, size=n, replace=False)])
        ids = np.array(list(dict.fromkeys(ids.tolist()))[:n], dtype=np.int64)
        biased = np.array(
            list(dict.fromkeys(np.concatenate([rng.choice(top, size=s.get("biased", 0) // 2, replace=False),
                                               rng.choice(VOCAB, size=s.get("biased", 0), replace=False)]).tolist()))
            [: s.get("biased", 0)]
        )
        bias = {int(i): float(np.float32(rng.uniform(-4, 4))) for i in biased}
        if s.get("promote"):
            bias = {int(biased[0]): float(np.float32(8.0 + float(logits.max() - logits[biased[0]])))}
        scores = torch.from_numpy(logits.copy()).unsqueeze(0)
        input_ids = torch.from_numpy(ids).unsqueeze(0) if len(ids) else torch.zeros((1, 0), dtype=torch.long)
        before = scores.clone()
        if bias:
            before = SequenceBiasLogitsProcessor(sequence_bias=[[[i], b] for i, b in bias.items()])(input_ids, before)
        if s.get("repetition_penalty", 1.0) != 1.0:
            before = RepetitionPenaltyLogitsProcessor(penalty=s["repetition_penalty"])(input_ids, before)
        if close_to_a_cutoff(s, before[0]):
            continue
        out = processors(s, bias)(input_ids, scores.clone())[0]
        if s["temperature"] <= 0 and int(torch.argmax(out)) == int(np.argmax(logits)):
            continue  # a greedy case must show the controls at work
        case = {
            "name": name,
            "logits": [float(v) for v in logits],
            "repeated": [int(i) for i in ids],
            "logitBias": {str(i): b for i, b in sorted(bias.items())},
            "temperature": s["temperature"],
            "topK": s.get("top_k", 0),
            "topP": s.get("top_p", 1.0),
            "minP": s.get("min_p", 0.0),
            "repetitionPenalty": s.get("repetition_penalty", 1.0),
        }
        if s["temperature"] > 0:
            case["probs"] = [float(v) for v in torch.softmax(out.double(), -1)]
        else:
            case["greedy"] = int(torch.argmax(out))
        return case


def generate_cases():
    from transformers import GPT2LMHeadModel

    model = GPT2LMHeadModel.from_pretrained(TINY).float().eval()
    model.generation_config.eos_token_id = None  # the test sets ignoreEos
    model.generation_config.pad_token_id = 0
    prompt = json.load(open(os.path.join(TINY, "reference.json")))["prompt_ids"]
    out = []
    for name, s in GENERATE_CASES:
        kwargs = dict(do_sample=False, max_new_tokens=24)
        if "repetition_penalty" in s:
            kwargs["repetition_penalty"] = s["repetition_penalty"]
        if "bias" in s:
            kwargs["sequence_bias"] = {(i,): b for i, b in s["bias"].items()}
        with torch.no_grad():
            r = model.generate(torch.tensor([prompt]), return_dict_in_generate=True, output_scores=True, **kwargs)
        ids = r.sequences[0, len(prompt):].tolist()
        # Each pick must win clearly, so that rounding in the engine cannot flip it.
        for step, scores in enumerate(r.scores):
            top2 = torch.topk(scores[0], 2).values
            assert top2[0] - top2[1] >= 1e-3, f"{name}: step {step} wins by only {float(top2[0] - top2[1])}"
        out.append({
            "name": name,
            "promptIds": prompt,
            "repetitionPenalty": s.get("repetition_penalty", 1.0),
            "logitBias": {str(i): b for i, b in s.get("bias", {}).items()},
            "tokens": ids,
        })
    return out


def main() -> int:
    torch.set_num_threads(1)
    cases = [make(i, name, s) for i, (name, s) in enumerate(CASES)]
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(
            {"transformers": transformers.__version__, "torch": torch.__version__, "vocab": VOCAB, "cases": cases}, f
        )
        f.write("\n")
    for c in cases:
        kept = sum(1 for p in c.get("probs", []) if p > 0)
        print(f"{c['name']}: {'greedy ' + str(c['greedy']) if 'greedy' in c else str(kept) + ' tokens kept'}")
    print(f"wrote {os.path.relpath(OUT)} ({os.path.getsize(OUT)} bytes)")
    generated = generate_cases()
    with open(GENERATE_OUT, "w") as f:
        json.dump({"transformers": transformers.__version__, "torch": torch.__version__, "cases": generated}, f)
        f.write("\n")
    for c in generated:
        print(f"{c['name']}: {c['tokens']}")
    print(f"wrote {os.path.relpath(GENERATE_OUT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
