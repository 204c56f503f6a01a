"""What a row of the Explorer's state table holds (:class:`Row`), and the table itself
(:class:`StateTable`): every list that repeats over the traits is made from it.

A row says a trait's default and help, the kind of value it holds, what a change costs,
its check, its controls and where they sit, its choices for a session, where it goes when a
new input no longer fits it, how its value goes into the :class:`View` and how the values
one step away are drawn ahead. The widget's traits, the controls and their layout, the
constructor's keyword checks, the choices after a new input, which traits follow a change
and the pictures ahead all come from the rows, so a new trait is one row and the code
that draws it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from gbp_widgets.explore.view import View

State = Mapping[str, object]
# The session (gbp_widgets.explore.ExplorerSession), which this module needs not know.
Session = Any


class Effect(enum.Enum):
    """What a change of the trait costs."""

    INPUT = "a forward pass"
    BACKWARD = "a backward pass"
    RENDER = "a new picture only"


class Value(enum.Enum):
    """The kind of value a trait holds (the widget makes the matching traitlet)."""

    WHOLE = "a whole number"
    MAYBE_WHOLE = "a whole number or None"
    NUMBER = "a number"
    TEXT = "text"
    FLAG = "True or False"
    POSITION = "a tuple of whole numbers"
    REGION = "a Region or None"
    CLASS = "a class index or name"


class Widget(enum.Enum):
    """The kind of control a trait is set with in the notebook."""

    MENU = "menu"
    BUTTONS = "buttons"
    SLIDER = "slider"
    NUMBER_SLIDER = "number slider"
    WHOLE_BOX = "whole-number box"
    TOGGLE = "toggle"
    TEXT_BOX = "text box (sends its value on Enter)"


class Line(enum.IntEnum):
    """The lines of controls, top to bottom."""

    SOURCE = 0
    ITEMS = 1
    RULE = 2
    DISPLAY = 3
    TOP = 4
    TARGET = 5
    DETECTION = 6
    SITE = 7


@dataclass(frozen=True)
class Place:
    """Where a control sits: its line, and its slot in that line from the left."""

    line: Line
    slot: int


@dataclass(frozen=True)
class Control:
    """One control of a trait: its attribute name on the controls, kind, place and label."""

    name: str
    widget: Widget
    place: Place
    label: str = ""


class Steps(enum.Enum):
    """Which values are one step from a trait's value, for its pictures ahead."""

    OTHERS = "every other choice (buttons)"
    NEIGHBOURS = "the choices either side (menus, sliders)"
    KEYS = "one arrow key and one page key either way (a number slider's bounds)"


Mover = Callable[[Session, View, object], View]


@dataclass(frozen=True)
class Ahead:
    """How a trait's pictures are drawn ahead: the values one ``steps`` away, and the
    ``first`` few choices as well; drawn only while ``when`` holds of the traits; ``moves``
    the view as the Explorer redraws it after the change (by default the row's ``to_view``);
    ``make``, when given, makes the pictures itself (an item: another forward pass)."""

    steps: Steps
    first: int = 0
    when: Callable[[State], bool] | None = None
    moves: Mover | None = None
    make: Callable[..., dict] | None = None


Check = Callable[[Session, State, object], str]
Choices = Callable[[Session, State], list[tuple[str, object]]]
Shown = Callable[[Session], bool]
Settle = Callable[[Session, State, object], object]
Opens = Callable[[Session, object], Session]


@dataclass(frozen=True, kw_only=True)
class Row:
    """One trait of the Explorer.

    ``choices`` lists ``(label, value)`` for menus, buttons and sliders (a slider spans
    the values); ``bounds`` is ``(low, high, step)`` for a number slider; ``shown`` says
    whether the controls are shown for a session; ``settle`` is the value after a new
    input (by default kept where its check passes, else the default, else the first
    choice); ``follows`` names the traits (or every trait of an :class:`Effect`) whose
    change changes its choices; ``to_view`` puts its value into the :class:`View`;
    ``ahead`` draws its neighbours ahead. A trait that costs a forward pass ``opens``
    the session its new value asks for, a new input whose traits settle afresh unless
    ``resettles`` is false.
    """

    default: object
    help: str
    value: Value
    effect: Effect
    check: Check
    controls: tuple[Control, ...] = ()
    choices: Choices | None = None
    bounds: tuple[float, float, float] | None = None
    shown: Shown | None = None
    settle: Settle | None = None
    follows: tuple[str | Effect, ...] = ()
    to_view: Mover | None = None
    ahead: Ahead | None = None
    opens: Opens | None = None
    resettles: bool = True


def view_field(name: str) -> Mover:
    """Puts a trait's value into the :class:`View` field ``name``."""
    return lambda session, view, value: replace(view, **{name: value})


class StateTable(Mapping[str, Row]):
    """The rows by trait name, in the order values are applied and settled in (what a
    check reads comes first), with the controls that are no trait's own (``others``:
    name -> place). Checked when made: every control has a place of its own, every trait
    that costs a forward pass says what it opens, and ``follows`` names traits there are."""

    def __init__(self, rows: Mapping[str, Row], others: Mapping[str, Place]) -> None:
        self._rows, self.others = dict(rows), dict(others)
        places = [c.place for row in self._rows.values() for c in row.controls]
        places += list(self.others.values())
        if len(set(places)) != len(places):
            raise ValueError("two controls share a place: give each its own line and slot")
        for name, row in self._rows.items():
            if row.effect is Effect.INPUT and row.opens is None:
                raise ValueError(f"trait {name!r} costs a forward pass: say what it opens")
            unknown = [f for f in row.follows if isinstance(f, str) and f not in self._rows]
            if unknown:
                raise ValueError(f"trait {name!r} follows traits there are not: {unknown}")

    def __getitem__(self, name: str) -> Row:
        return self._rows[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def with_row(self, name: str, row: Row, after: str | None = None) -> StateTable:
        """A copy with trait ``name`` added after ``after`` (at the end by default)."""
        rows = list(self._rows.items())
        at = len(rows) if after is None else list(self._rows).index(after) + 1
        rows.insert(at, (name, row))
        return StateTable(dict(rows), self.others)

    def traits_with(self, effect: Effect) -> tuple[str, ...]:
        return tuple(name for name, row in self.items() if row.effect is effect)

    def followers(self, changed: str) -> set[str]:
        """The traits whose choices a change of ``changed`` changes."""
        effect = self[changed].effect
        return {
            name for name, row in self.items() if changed in row.follows or effect in row.follows
        }

    def following(self, effect: Effect) -> set[str]:
        """The traits whose choices follow every change of ``effect`` (a channel menu
        ranked by the backward pass drawn)."""
        return {name for name, row in self.items() if effect in row.follows}

    def problem(self, name: str, value: object, session, state: State) -> str:
        """What is wrong with ``value`` for trait ``name`` ("" when nothing is); ``state``
        holds the other traits' current values."""
        return self[name].check(session, state, value)

    def options(self, name: str, session, state: State) -> list:
        """``(label, value)`` pairs trait ``name`` may take for ``session`` (none when free)."""
        row = self[name]
        return [] if row.choices is None else row.choices(session, state)

    def settled(self, session, state: State, names: tuple[str, ...] | None = None) -> dict:
        """The traits' values after a new input, model or item (``names``: only those
        traits, after a change they follow, and the traits that follow any of them whose
        value that moved): each row settled in order, seeing the values settled before it.
        Returns the values of the traits settled."""
        new = dict(state)
        settling = None if names is None else set(names)
        for name, row in self.items():
            if settling is not None and name not in settling:
                continue
            value = new[name]
            if row.settle is not None:
                new[name] = row.settle(session, new, value)
            elif row.check(session, new, value):
                fallback = row.default
                if row.check(session, new, fallback):
                    fallback = self.options(name, session, new)[0][1]
                new[name] = fallback
            if settling is not None and new[name] is not value and new[name] != value:
                settling |= self.followers(name)
        return new if settling is None else {name: new[name] for name in settling}

    def view(self, session, state: State, view: View) -> View:
        """``view`` with every trait's value put in, in order (``to_view``)."""
        for name, row in self.items():
            if row.to_view is not None:
                view = row.to_view(session, view, state[name])
        return view

    def layout(self) -> list[tuple[Line, list[str]]]:
        """The controls' names, line by line, each line left to right."""
        placed = {c.name: c.place for row in self.values() for c in row.controls}
        placed |= self.others
        lines: dict[Line, list[tuple[int, str]]] = {}
        for name, place in placed.items():
            lines.setdefault(place.line, []).append((place.slot, name))
        return [(line, [name for _, name in sorted(lines[line])]) for line in sorted(lines)]

    def ahead(self) -> tuple[str, ...]:
        """The traits drawn ahead, in the order their pictures are made: those that cost
        no forward pass in the table's order, then those that do."""
        drawn = [name for name, row in self.items() if row.ahead is not None]
        return tuple(sorted(drawn, key=lambda name: self[name].effect is Effect.INPUT))
