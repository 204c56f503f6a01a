"""Train the text models the package ships, and write their weights beside the package:

    python -m gbp_widgets.text.train

on one thread, seed 0; each file is written whole or not at all.
"""

from __future__ import annotations

import torch

from gbp_widgets.text.shipped import (
    CHAR_WEIGHTS,
    PLANTED_WEIGHTS,
    save,
    train_char_gpt,
    train_planted,
)


def main() -> None:
    torch.set_num_threads(1)
    char = train_char_gpt()
    save(char, CHAR_WEIGHTS)
    print(
        f"wrote {CHAR_WEIGHTS} ({CHAR_WEIGHTS.stat().st_size / 1e6:.2f} MB): "
        f"{char.held_out:.3f} nats per character on held-out help text, "
        f"{char.seconds:.0f} s"
    )
    planted = train_planted()
    save(planted, PLANTED_WEIGHTS)
    print(
        f"wrote {PLANTED_WEIGHTS} ({PLANTED_WEIGHTS.stat().st_size / 1e6:.2f} MB): "
        f"{planted.held_out:.1%} of new sentences classified right, {planted.seconds:.0f} s"
    )


if __name__ == "__main__":
    main()
