"""A nesting-safe "we are changing this ourselves" flag for widget callbacks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class Quiet:
    """True while any ``with quiet():`` block runs, however deeply nested.

    Observers check it to tell a change the explorer makes itself (reverting a
    refused value, refreshing a menu) from one the user made. A counter, not a
    boolean, so an inner block ending does not end the outer one's quiet.
    """

    def __init__(self) -> None:
        self._depth = 0

    def __bool__(self) -> bool:
        return self._depth > 0

    @contextmanager
    def __call__(self) -> Iterator[None]:
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
