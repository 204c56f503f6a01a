"""``gbp-widgets explain``: the headless main job, one comparison figure per image."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from gbp_widgets import render
from gbp_widgets.engine import GuidedBackprop, guided_gradcam_from, warn_about_coverage
from gbp_widgets.explore.names import COMPARED_RULES, RULE_LABELS
from gbp_widgets.figures import panel_figure, top_classes_title
from gbp_widgets.images import SAMPLE_NAMES, ImageError, load_image, sample_image
from gbp_widgets.models import DEFAULT_MODEL, ModelUnavailableError, load_model

RULE_CAPTIONS = {rule: RULE_LABELS[rule] for rule in COMPARED_RULES}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gbp-widgets", description="Guided Backpropagation, seen down to every ReLU."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    explain = commands.add_parser(
        "explain",
        help="write a figure (input, gradient, deconvnet, guided, Grad-CAM, Guided Grad-CAM) "
        "and print the top-5 classes",
    )
    explain.add_argument("image", nargs="?", help="picture file (default: --sample chelsea)")
    explain.add_argument("--sample", choices=SAMPLE_NAMES, help="a bundled sample photo")
    explain.add_argument("--model", default=DEFAULT_MODEL, help=f"default: {DEFAULT_MODEL}")
    explain.add_argument("--target", type=int, help="class index (default: the prediction)")
    explain.add_argument("--out", type=Path, help="PNG to write (default: gbp-<image>.png)")
    explain.add_argument(
        "--device", default="auto", help="cpu, cuda, cuda:1, ... (default: cuda if present)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.image and args.sample:
        parser.error("give an IMAGE file or --sample, not both")
    try:
        out, summary = explain_to_file(args)
    except (ImageError, ModelUnavailableError, ValueError, FileNotFoundError) as err:
        print(f"gbp-widgets: error: {err}", file=sys.stderr)
        return 2
    print(summary)
    print(f"wrote {out}")
    return 0


def explain_to_file(args: argparse.Namespace) -> tuple[Path, str]:
    """Run the explanation described by the parsed ``explain`` arguments.

    Returns the PNG's path and a summary for the terminal: the top-5 classes with
    their probabilities and the class explained.
    """
    picture = load_image(args.image) if args.image else sample_image(args.sample or "chelsea")
    stem = Path(args.image).stem if args.image else (args.sample or "chelsea")
    loaded = load_model(args.model)
    device = _device(args.device)
    model = loaded.model.to(device)
    crop = loaded.preprocess.crop(picture)
    recording = GuidedBackprop(model).record(
        loaded.preprocess.normalize(crop), capture_masks=False, keep_last_spatial=True
    )
    target = args.target
    maps = {rule: recording.explain(target, rule) for rule in RULE_CAPTIONS}
    warn_about_coverage(maps["guided"], stacklevel=2)
    combined = guided_gradcam_from(recording, target)
    probabilities = torch.softmax(recording.logits.detach()[0].double(), dim=0).cpu().tolist()
    explained = int(maps["guided"].target[0])
    panels = {"input": render.as_array(crop)}
    panels.update(
        (caption, render.gradient_image(maps[rule].attribution[0]))
        for rule, caption in RULE_CAPTIONS.items()
    )
    panels[f"Grad-CAM ({combined.layer})"] = render.overlay(
        render.as_array(crop), combined.cam[0].expand(3, -1, -1).cpu()
    )
    panels["Guided Grad-CAM"] = render.gradient_image(combined.product[0])
    title = (
        f"{loaded.name}: explaining '{loaded.classes[explained]}' ({explained})\n"
        + top_classes_title(probabilities, loaded.classes)
    )
    out = args.out or Path(f"gbp-{stem}.png")
    panel_figure(panels, title).savefig(out, dpi=110)
    return out, _summary(loaded.name, stem, probabilities, loaded.classes, explained)


def _summary(model: str, image: str, probabilities, classes, explained: int, k: int = 5) -> str:
    order = sorted(range(len(probabilities)), key=lambda i: -probabilities[i])[:k]
    lines = [f"{model} on {image}, top {k}:"]
    width = max(len(classes[i]) for i in order)
    lines += [
        f"  {rank}. {classes[i]:<{width}}  {100 * probabilities[i]:5.1f}%  (class {i})"
        for rank, i in enumerate(order, start=1)
    ]
    lines.append(
        f"explained: {classes[explained]} (class {explained}, "
        f"{100 * probabilities[explained]:.1f}%)"
    )
    return "\n".join(lines)


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"unknown device {name!r}: use cpu, cuda or cuda:N") from err


if __name__ == "__main__":
    sys.exit(main())
