"""``gbp-widgets explain``: the headless main job, one comparison figure per image; the
other commands (``explain-dataset``, ``explain-text``) are dispatched from here."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import torch

from gbp_widgets.cli_text import add_text_command, explain_text
from gbp_widgets.dataset import explain_dataset
from gbp_widgets.engine import (
    GuidedBackprop,
    check_activations,
    guided_gradcam_from,
    warn_about_coverage,
)
from gbp_widgets.explore import COMPARED_RULES, RULES, unknown_class_message
from gbp_widgets.explore.names import GATED_NOTE
from gbp_widgets.explore.rules import GUIDED, GUIDED_GRADCAM
from gbp_widgets.images import SAMPLE_NAMES, ImageError, load_image, sample_image
from gbp_widgets.models import (
    DEFAULT_MODEL,
    LoadedModel,
    ModelUnavailableError,
    load_model,
    model_names,
)
from gbp_widgets.pictures import render
from gbp_widgets.pictures.colour_keys import clip_note, display_key
from gbp_widgets.pictures.figures import panel_figure, top_classes_title
from gbp_widgets.pictures.files import save_whole, writable_figure_path


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
    explain.add_argument(
        "--sample", help=f"a bundled sample photo instead of a file: {', '.join(SAMPLE_NAMES)}"
    )
    explain.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"{DEFAULT_MODEL} (the default, offline); a torchvision classifier: "
        f"{', '.join(model_names()[1:])}; or your own as package.module:function, a function "
        "that returns the model (imported from the current folder)",
    )
    explain.add_argument(
        "--weights",
        default="default",
        help="for a named model: default (its trained weights), none (random weights: nothing "
        "to download) or a torchvision weight name such as IMAGENET1K_V1",
    )
    explain.add_argument(
        "--classes",
        type=Path,
        help="text file of class names, one per line in the model's output order (default: "
        "ImageNet's for named models, 'class 0', 'class 1', ... for your own)",
    )
    explain.add_argument("--target", help="class index or name (default: the prediction)")
    explain.add_argument("--out", type=Path, help="figure to write (default: gbp-<image>.png)")
    explain.add_argument(
        "--device", default="auto", help="cpu, cuda, cuda:1, ... (default: cuda if present)"
    )
    _add_activations(explain)
    _add_dataset_command(commands)
    add_text_command(commands)
    return parser


def _add_activations(command) -> None:
    command.add_argument(
        "--activations",
        default="relu",
        help="relu (the published method: rules at ReLU-family calls only) or gated (GELU, "
        "SiLU, Mish and Hardswish too, through their gates s(x): our extension)",
    )


def _add_dataset_command(commands) -> None:
    dataset = commands.add_parser(
        "explain-dataset",
        help="explain every picture under a folder (class sub-folders give labels) into a "
        "Parquet folder; run it again to resume",
    )
    dataset.add_argument("folder", type=Path, help="folder of pictures")
    dataset.add_argument("--out", type=Path, required=True, help="results folder (Parquet)")
    dataset.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"{DEFAULT_MODEL} (the default, offline) or a torchvision classifier name",
    )
    dataset.add_argument(
        "--weights", default="default", help="default, none (random weights) or a weight name"
    )
    dataset.add_argument("--rule", default="guided", help="guided, gradient or deconvnet")
    dataset.add_argument("--batch-size", type=int, default=32, help="items per batch")
    dataset.add_argument(
        "--device",
        default="auto",
        help="cpu, cuda, cuda:1, ... (default: cuda if present; with --ray, cpu actors "
        "unless --device cuda, which gives each actor a GPU)",
    )
    dataset.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="run on Ray actors: on the cluster at ADDRESS, else at $RAY_ADDRESS, else on a "
        "Ray started on this machine",
    )
    dataset.add_argument("--actors", type=int, help="Ray actors (default: one per CPU or GPU)")
    dataset.add_argument(
        "--attributions",
        action="store_true",
        help="also store each item's whole map (columns attribution, attribution_shape)",
    )
    dataset.add_argument(
        "--metrics",
        nargs="+",
        default=(),
        metavar="METRIC",
        help="also score each map: deletion and/or insertion (columns deletion_auc, "
        "insertion_auc; each costs --metric-steps + 1 forward passes per item)",
    )
    dataset.add_argument(
        "--metric-steps", type=int, default=100, help="steps of each metric's curve"
    )
    _add_activations(dataset)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "explain-dataset":
            return _explain_dataset(args)
        if args.command == "explain-text":
            run = explain_text(args)
            out, summary = run.out, "\n".join(run.lines)
        else:
            out, summary = explain_to_file(args)
    except ModelUnavailableError as err:
        print(f"gbp-widgets: error: {err} Here: --weights none.", file=sys.stderr)
        return 2
    except (ImageError, ValueError, OSError, ImportError) as err:
        print(f"gbp-widgets: error: {err}", file=sys.stderr)
        return 2
    print(summary)
    print(f"wrote {out}")
    return 0


def _explain_dataset(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {args.batch_size}")
    on_ray = args.ray is not None
    if args.actors is not None and not on_ray:
        raise ValueError("--actors counts Ray actors: add --ray, or leave --actors out")
    device = None if on_ray and args.device == "auto" else _device(args.device)
    loaded = _load(args.model, args.weights, None)
    results = explain_dataset(
        loaded.model,
        args.folder,
        args.out,
        rule=args.rule,
        activations=args.activations,
        preprocess=loaded.preprocess,
        classes=loaded.classes,
        batch_size=args.batch_size,
        device=device,
        engine="ray" if on_ray else "local",
        ray_address=args.ray or None,
        ray_actors=args.actors,
        attributions=args.attributions,
        metrics=tuple(args.metrics),
        metric_steps=args.metric_steps,
    )
    print(results.summary(loaded.classes))
    return 0


def explain_to_file(args: argparse.Namespace) -> tuple[Path, str]:
    """Run the explanation described by the parsed ``explain`` arguments.

    What can be checked cheaply (image or sample, output path, device, class
    file) is checked before the model is loaded. The figure is written whole
    or not at all. Returns its path and a summary for the terminal: the top-5
    classes with their probabilities and the class explained.
    """
    if args.image and args.sample:
        raise ValueError("give an IMAGE file or --sample, not both")
    if args.sample and args.sample not in SAMPLE_NAMES:
        raise ValueError(f"unknown sample {args.sample!r}: use one of {', '.join(SAMPLE_NAMES)}")
    check_activations(args.activations)
    stem = Path(args.image).stem if args.image else (args.sample or "chelsea")
    out = writable_figure_path(args.out or Path(f"gbp-{stem}.png"))
    device = _device(args.device)
    names = _read_classes(args.classes) if args.classes else None
    picture = load_image(args.image) if args.image else sample_image(args.sample or "chelsea")
    loaded = _load(args.model, args.weights, names)
    model = loaded.model.to(device)
    crop = loaded.preprocess.crop(picture)
    recording = GuidedBackprop(model, activations=args.activations).record(
        loaded.preprocess.normalize(crop), capture_masks=False, keep_last_spatial=True
    )
    scores = recording.logits.detach()[0]
    classes = _classes_for(loaded.classes, scores.numel(), args.classes)
    target = _target(args.target, classes)
    maps = {name: recording.explain(target, RULES[name].backward) for name in COMPARED_RULES}
    guided = maps[GUIDED.name]
    warn_about_coverage(guided, stacklevel=2)
    probabilities = torch.softmax(scores.double(), dim=0).cpu().tolist()
    explained = int(guided.target[0])
    panels = {"input": render.as_array(crop)}
    panels.update(
        (RULES[name].label, render.gradient_image(explanation.attribution[0]))
        for name, explanation in maps.items()
    )
    left_out = _add_gradcam(panels, recording, target, crop, guided)
    title = f"{loaded.name}: explaining '{classes[explained]}' ({explained})\n" + top_classes_title(
        probabilities, classes
    )
    if args.activations == "gated":
        title += "\n" + GATED_NOTE
    signed, heat = display_key("gradient"), display_key("overlay")
    keys = {c: heat if c.startswith("Grad-CAM (") else signed for c in panels if c != "input"}
    save_whole(panel_figure(panels, title, note=clip_note(), keys=keys), out)
    summary = _summary(loaded.name, stem, probabilities, classes, explained)
    return out, summary + (f"\nGrad-CAM left out: {left_out}" if left_out else "")


def _add_gradcam(panels: dict, recording, target, crop, guided) -> str:
    """Add the Grad-CAM and Guided Grad-CAM panels, weighting the ``guided`` map already
    made; the reason when the model has none."""
    try:
        combined = guided_gradcam_from(recording, target, guided=guided)
    except (ValueError, RuntimeError, KeyError) as err:
        return str(err)
    panels[f"Grad-CAM ({combined.layer})"] = render.overlay(
        render.as_array(crop), combined.cam[0].expand(3, -1, -1).cpu()
    )
    panels[GUIDED_GRADCAM.label] = render.gradient_image(combined.product[0])
    return ""


def _load(spec: str, weights: str, names: tuple[str, ...] | None) -> LoadedModel:
    """A named model with the weights asked for, or the user's ``package.module:function``."""
    choice = weights.lower()
    if ":" in spec and choice != "default":
        raise ValueError(
            "--weights is for named models: your function builds its model with its own weights"
        )
    loaded = load_model(
        spec, None if choice == "none" else "DEFAULT" if choice == "default" else weights
    )
    return dataclasses.replace(loaded, classes=names) if names else loaded


def _read_classes(path: Path) -> tuple[str, ...]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"--classes {path} could not be read as text ({err})") from err
    names = tuple(line.strip() for line in lines if line.strip())
    if not names:
        raise ValueError(f"--classes {path} holds no names: write one class name per line")
    return names


def _classes_for(names: tuple[str, ...], count: int, source: Path | None) -> tuple[str, ...]:
    """Class names for ``count`` scores: the given ones, or numbered ones."""
    if not names:
        return tuple(f"class {i}" for i in range(count))
    if len(names) != count:
        where = f"--classes {source}" if source else "the model's class list"
        raise ValueError(
            f"{where} has {len(names)} names, but the model gives {count} scores: give one "
            "name per score, in order"
        )
    return names


def _target(text: str | None, classes: tuple[str, ...]) -> int | None:
    if text is None:
        return None
    if text.strip().lstrip("-").isdigit():
        return int(text)
    if text in classes:
        return classes.index(text)
    raise ValueError(f"--target: {unknown_class_message(text, classes)}")


def _summary(model: str, image: str, probabilities, classes, explained: int, k: int = 5) -> str:
    k = min(k, len(probabilities))
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
    """The device asked for, checked to exist here before anything is loaded."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"unknown device {name!r}: use cpu, cuda or cuda:N") from err
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"--device {name}: this machine has no CUDA device; use --device cpu")
        if device.index is not None and device.index >= count:
            raise ValueError(f"--device {name}: this machine has {count} CUDA device(s)")
        return device
    if device.type == "cpu" or (device.type == "mps" and torch.backends.mps.is_available()):
        return device
    raise ValueError(f"--device {name} is not available here: use cpu, cuda or cuda:N")


if __name__ == "__main__":
    sys.exit(main())
