"""Train the scene network the package ships, and write its weights beside the package:

    python -m gbp_widgets.trust.train

:func:`~gbp_widgets.trust.scenes.train_scene_model` on :func:`~gbp_widgets.trust.scene_sets`
(seed 0), on one thread; the file is written whole or not at all.
"""

from __future__ import annotations

import os

import torch

from gbp_widgets.trust.scenes import WEIGHTS, scene_sets, train_scene_model


def main() -> None:
    trained = train_scene_model(*scene_sets())
    partial = WEIGHTS.with_suffix(".partial")
    torch.save(trained.model.state_dict(), partial)
    os.replace(partial, WEIGHTS)
    print(
        f"wrote {WEIGHTS}: names {trained.train_accuracy:.1%} of the training scenes and "
        f"{trained.test_accuracy:.1%} of the held-out ones"
    )


if __name__ == "__main__":
    main()
