"""Feedback for one piece of student work, item by item, with points for grading.

Each rubric item is passed, failed with one message saying what is wrong, or
not checked because an earlier item has to pass first. Nothing is said twice.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Literal

Status = Literal["passed", "failed", "not checked"]

_MARKS = {"passed": "✓", "failed": "✗", "not checked": "·"}
_COLOURS = {"passed": "#1b7f3b", "failed": "#b00020", "not checked": "#666666"}


@dataclass(frozen=True)
class RubricItem:
    """One thing the work must do, worth ``points``."""

    key: str
    title: str
    points: float


@dataclass(frozen=True)
class Outcome:
    """How one rubric item went; ``message`` is empty when it passed."""

    item: RubricItem
    status: Status
    message: str = ""


@dataclass
class Feedback:
    """What the checks found, item by item.

    ``flag`` is set when the work cannot be credited at all (for example when
    it calls gbp-widgets' own rule instead of implementing it); every item
    then scores zero.
    """

    subject: str
    outcomes: list[Outcome] = field(default_factory=list)
    flag: str = ""

    @property
    def passed(self) -> bool:
        """Every item passed and nothing was flagged."""
        return not self.flag and all(o.status == "passed" for o in self.outcomes)

    @property
    def score(self) -> float:
        """Fraction of the rubric's points earned, from 0 to 1."""
        total = sum(o.item.points for o in self.outcomes)
        if self.flag or not total:
            return 0.0
        return sum(o.item.points for o in self.outcomes if o.status == "passed") / total

    @property
    def problems(self) -> list[str]:
        """The message of every failed item, plus the flag if there is one."""
        failed = [o.message for o in self.outcomes if o.status == "failed"]
        return [self.flag, *failed] if self.flag else failed

    def points(self, out_of: float) -> float:
        """The score scaled to ``out_of`` points (an nbgrader cell's maximum)."""
        return round(self.score * out_of, 2)

    def outcome(self, key: str) -> Outcome:
        """The outcome of the rubric item called ``key``."""
        for outcome in self.outcomes:
            if outcome.item.key == key:
                return outcome
        raise KeyError(f"no rubric item {key!r}: items are {[o.item.key for o in self.outcomes]}")

    def lines(self) -> list[tuple[Status, str]]:
        """One ``(status, text)`` line per item, after a headline."""
        rows = [(o.status, _line(o)) for o in self.outcomes]
        return [("failed" if not self.passed else "passed", self.headline()), *rows]

    def headline(self) -> str:
        if self.flag:
            return f"{self.subject}: not credited. {self.flag}"
        earned = round(self.score * sum(o.item.points for o in self.outcomes), 2)
        total = sum(o.item.points for o in self.outcomes)
        if self.passed:
            checks = "the check" if len(self.outcomes) == 1 else f"all {len(self.outcomes)} checks"
            return f"{self.subject}: {checks} passed ({_pts(total)})."
        return f"{self.subject}: {earned:g} of {_pts(total)}."

    def __str__(self) -> str:
        return "\n".join(
            text if i == 0 else f"  {text}" for i, (_, text) in enumerate(self.lines())
        )

    def _repr_html_(self) -> str:
        rows = [
            f"<div style='color:{_COLOURS[status]}'>{html.escape(text)}</div>"
            for status, text in self.lines()
        ]
        return "<div style='font-family:monospace;white-space:pre-wrap'>" + "".join(rows) + "</div>"


def _line(outcome: Outcome) -> str:
    text = f"{_MARKS[outcome.status]} {outcome.item.title} ({_pts(outcome.item.points)})"
    if outcome.status == "failed":
        return f"{text}: {outcome.message}"
    if outcome.status == "not checked":
        return f"{text}: not checked yet, {outcome.message}"
    return text


def _pts(points: float) -> str:
    value = f"{points:g}"
    return f"{value} point" if points == 1 else f"{value} points"
