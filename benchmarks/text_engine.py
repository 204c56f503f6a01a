"""The engine on token ids against a plain gradient, side by side in one run.

GPT-2 small's configuration (12 blocks, width 768, random weights: nothing downloaded),
128 tokens, on the CPU (and CUDA when present). "plain" is what one would write without a
tool: the token embedding's output made a leaf, the model run on it (``inputs_embeds``), and
the gradient of the predicted next token's score taken with ``torch.autograd.grad``. "guided
with gates" is ``GuidedBackprop(model, activations="gated").explain(ids)`` with masks
captured at every GELU (the default), the default target being the same next token. Each
round runs both once, in turn; the table gives the median ratio over the rounds with the
lowest and highest in brackets.

Target: guided with gates <= 1.20x the plain gradient at batch 1 and 8, masks included.

    python benchmarks/text_engine.py [--repeats 5] [--batches 1 8] [--tokens 128]
"""

from __future__ import annotations

import argparse
import platform
import statistics

import torch
from engine import timed
from options import repeats

from gbp_widgets import GuidedBackprop


def gpt2_small():
    import transformers

    config = transformers.GPT2Config(bos_token_id=0, eos_token_id=0)
    return transformers.GPT2LMHeadModel(config).eval()


def plain_gradient(model, ids):
    embedded = model.get_input_embeddings()(ids).detach().requires_grad_(True)
    logits = model(inputs_embeds=embedded).logits
    seed = torch.zeros_like(logits)
    seed[torch.arange(len(ids)), -1, logits[:, -1].argmax(-1)] = 1.0
    return torch.autograd.grad(logits, embedded, seed)[0]


def guided_with_gates(model, ids):
    return GuidedBackprop(model, activations="gated").explain(ids).attribution


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=repeats, default=5)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--devices", nargs="+", default=["cpu", "cuda"])
    args = parser.parse_args()
    if args.repeats < 3:
        parser.error("--repeats: at least 3 rounds, for a spread as well as a median")
    torch.manual_seed(0)
    model = gpt2_small()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, {platform.processor()}"
    )
    print("| device | batch | plain grad (s) | guided with gates / plain |")
    print("|---|---|---|---|")
    for name in [d for d in args.devices if d == "cpu" or torch.cuda.is_available()]:
        device = torch.device(name)
        model.to(device)
        label = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
        for batch in args.batches:
            ids = torch.randint(0, model.config.vocab_size, (batch, args.tokens), device=device)
            methods = {"plain": plain_gradient, "guided": guided_with_gates}
            for fn in methods.values():
                fn(model, ids)
            samples = {key: [] for key in methods}
            for _ in range(args.repeats):
                for key, fn in methods.items():
                    samples[key].append(timed(lambda fn=fn, ids=ids: fn(model, ids), device))
            rounds = [g / p for g, p in zip(samples["guided"], samples["plain"], strict=True)]
            print(
                f"| {label} | {batch} | {statistics.median(samples['plain']):.3f} | "
                f"{statistics.median(rounds):.3f} [{min(rounds):.3f}-{max(rounds):.3f}] |",
                flush=True,
            )


if __name__ == "__main__":
    main()
