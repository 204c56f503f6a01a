"""The Explorer's traits: one per row of a state table, checked by that row, refused one way,
and what a change costs.

From code a refused value raises ``traitlets.TraitError`` with the row's message and
the old value stays; a change asked for from the page (a control, a click, a key) puts
the message in the status line instead (:meth:`ExplorerTraits._ask`, and
:func:`gbp_widgets.widgets.binding.bind` for controls).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import ipywidgets as widgets
import traitlets

from gbp_widgets.engine import Region
from gbp_widgets.explore import STATE, Effect, ExplorerSession, Row, StateTable, Value
from gbp_widgets.explore.names import CUSTOM
from gbp_widgets.explore.open import describe, image_name
from gbp_widgets.explore.pointer import CLASS_KINDS, class_named
from gbp_widgets.images import load_image
from gbp_widgets.widgets.binding import bind
from gbp_widgets.widgets.camera import TOGGLES
from gbp_widgets.widgets.controls import Controls
from gbp_widgets.widgets.quiet import Quiet
from gbp_widgets.widgets.text import status_html

_MAKERS = {
    Value.WHOLE: lambda row: traitlets.Int(row.default, help=row.help),
    Value.MAYBE_WHOLE: lambda row: traitlets.Int(row.default, allow_none=True, help=row.help),
    Value.NUMBER: lambda row: traitlets.Float(row.default, help=row.help),
    Value.TEXT: lambda row: traitlets.Unicode(row.default, help=row.help),
    Value.FLAG: lambda row: traitlets.Bool(row.default, help=row.help),
    Value.POSITION: lambda row: traitlets.Tuple(row.default, help=row.help),
    Value.REGION: lambda row: traitlets.Instance(Region, allow_none=True, help=row.help),
    Value.CLASS: lambda row: traitlets.Union(
        [traitlets.Int(), traitlets.Unicode()], default_value=row.default, help=row.help
    ),
}


def trait(row: Row) -> traitlets.TraitType:
    return _MAKERS[row.value](row)


def _validate(self, proposal):
    """Bad values never get in: ``TraitError`` says why and the old value stays."""
    name, value = proposal.trait.name, proposal.value
    if not hasattr(self, "session") or self._quiet:
        return value
    found = self.table.problem(name, value, self.session, self.state())
    if found:
        raise traitlets.TraitError(found)
    if name == "target" and isinstance(value, str):
        return self.session.classes.index(value)
    return value


def with_traits(table: StateTable, base: type, name: str) -> type:
    """A subclass ``name`` of ``base`` with a trait per row of ``table``, each checked by
    its row (``table`` is the class's :attr:`table`)."""
    namespace = {row_name: trait(row) for row_name, row in table.items()}
    namespace |= {"table": table, "_validate": traitlets.validate(*table)(_validate)}
    return type(name, (base,), {"__module__": __name__, **namespace})


class ExplorerTraits(with_traits(STATE, widgets.VBox, "_Traits")):
    """A box with a trait per row of :attr:`table`, checked against :attr:`session`, its
    :attr:`controls` bound to it, and the status line where refusals from the page are
    said.

    The Explorer gives :attr:`session` and says what a new input and a redraw are
    (``_new_input``, ``_request_draw``); here a change of a trait that costs a forward
    pass reaches the session, and any other marks the traits that follow it as stale.
    """

    message = traitlets.Unicode("", help="the last problem reported in the status line")
    session: ExplorerSession
    table: StateTable

    def __init__(self) -> None:
        super().__init__()
        self.controls = Controls(self.table)
        # Always shown, as the controls' box: one layout model serves both.
        self.status = widgets.HTML(layout=self.controls.widget.layout)
        # Traits whose choices follow a change, to settle before the next redraw; controls
        # to offer their choices after it (once the pass they may rank by is made).
        self._quiet, self._stale, self._unoffered = Quiet(), set(), set()
        # First: a new input may settle the value (a path shown is listed as "custom")
        # before the controls are told it.
        self.observe(self._on_input, list(self.table.traits_with(Effect.INPUT)))
        others = [n for n, row in self.table.items() if row.effect is not Effect.INPUT]
        self.observe(self._on_change, others)

    @classmethod
    def with_table(cls, table: StateTable) -> type:
        """This class with traits, controls and pictures ahead made from ``table`` instead
        (:data:`~gbp_widgets.explore.STATE` with rows added, say, by
        :meth:`~gbp_widgets.explore.StateTable.with_row`): ``Explorer.with_table(t)(...)``."""
        return with_traits(table, cls, cls.__name__)

    def _bind(self) -> None:
        """Bind the controls both ways, once they offer the session's choices."""
        c = self.controls
        for name, controls in c.bound.items():
            for control in controls:
                bind(self, name, control, self._quiet, self._report)
        c.top.observe(lambda change: self._ask(lambda: self._top(change.new)), "value")
        c.class_name.observe(
            lambda change: self._ask(
                lambda: change.new and class_named(self.session, change.new, self.state())
            ),
            "value",
        )
        for name, attribute in TOGGLES.items():
            bind(self, name, c.camera, self._quiet, self._report, attribute)
        self.observe(self._show_class, ["target", "target_kind"])
        c.upload.observe(self._upload, "value")

    def _new_input(self) -> None:
        """Every trait settled for a new input and its controls offered their choices; the
        choices ranked by the backward pass offered again once it is drawn."""
        self._stale.clear()
        self._settle()
        self._offer()
        self._unoffered = self.table.following(Effect.BACKWARD)
        self._clear_status()

    def _take_frame(self, picture) -> None:
        """A webcam frame as the only input: its top class explained when ``follow_top``."""
        self.session.set_image(picture)
        with self._quiet():
            self.image = CUSTOM
            self.controls.offer_top(self.session, self.state())
        if self.follow_top:
            self._settle(("target",))
        self._show_class()

    def _request_draw(self) -> None:
        raise NotImplementedError

    def state(self) -> dict[str, object]:
        """Every trait's value, by name."""
        return {name: getattr(self, name) for name in self.table}

    def _on_input(self, change) -> None:
        if self._quiet:
            return
        try:
            self.session = self.table[change.name].opens(self.session, change.new)
        except Exception as err:  # noqa: BLE001 - the Explorer outlives any bad input
            with self._quiet():
                self.set_trait(change.name, change.old)
            raise traitlets.TraitError(describe(err)) from err
        with self._quiet():
            self.image = image_name(self.image)
        if self.table[change.name].resettles:
            self._new_input()
        self._clear_status()
        self._request_draw()

    def _on_change(self, change) -> None:
        if not self._quiet:
            self._stale |= self.table.followers(change.name)
            self._clear_status()
        self._request_draw()

    def _ask(self, changes: Callable[[], dict | None]) -> None:
        """Apply what ``changes()`` asks for together, or none of it, saying why in the
        status line; the pickers are put back on the class explained."""
        if self._quiet:
            return
        try:
            with self.hold_trait_notifications():
                for name, value in (changes() or {}).items():
                    setattr(self, name, value)
        except (traitlets.TraitError, ValueError) as err:
            self._report(str(err))
            self._show_class()

    def _report(self, text: str) -> None:
        self.message = text
        self.status.value = status_html(text, problem=True)

    def _say(self, text: str) -> None:
        """A word in the status line that is not a problem."""
        self.status.value = status_html(text, problem=False)

    def _clear_status(self) -> None:
        """A new action clears the last message; the coverage warning stays while true."""
        self.message = ""
        self._say(self.session.coverage())

    @contextmanager
    def _choices_followed(self) -> Iterator[None]:
        """Around a redraw: the traits that follow a change settled before it, and their
        controls offered their choices after it, once the backward pass they may be ranked
        by is made (a choice never makes one), even when the redraw fails."""
        stale, self._stale = tuple(self._stale), set()
        unoffered, self._unoffered = (*self._unoffered, *stale), set()
        try:
            if stale:
                unoffered = (*unoffered, *self._settle(stale))
            yield
        finally:
            if unoffered:
                self._offer(tuple(dict.fromkeys(unoffered)))

    def _settle(self, names: tuple[str, ...] | None = None) -> tuple[str, ...]:
        """Values for a new input (``names``: for those traits and the traits following
        them whose value that moves), each trait kept where it still fits; the traits
        settled."""
        settled = self.table.settled(self.session, self.state(), names)
        with self._quiet(), self.hold_trait_notifications():
            for name, value in settled.items():
                setattr(self, name, value)
        return tuple(settled)

    def _offer(self, names: tuple[str, ...] | None = None) -> None:
        """The controls (of the traits in ``names``, when given) offer the choices the
        traits have now and show their values; the class pickers follow the class."""
        with self._quiet():
            self.controls.offer(self.session, self.state(), names)
            for name in names or self.controls.bound:
                for control in self.controls.bound.get(name, ()):
                    control.value = getattr(self, name)
        self._show_class()

    def _top(self, value: int | None) -> dict:
        if value is None or value == self.target:
            return {}
        return self.session.output_kind.class_picked(self.state(), value)

    def _show_class(self, change: object = None) -> None:
        """Keep the name box and the top-5 row on the class explained."""
        top, named = self.controls.top, self.target_kind in CLASS_KINDS
        shown = [value for _, value in top.options]
        with self._quiet():
            self.controls.class_name.value = self.session.class_name(self.target) if named else ""
            top.index = shown.index(self.target) if self.target in shown else None

    def _upload(self, change) -> None:
        if not change.new:
            return
        upload = change.new[-1]
        content = upload["content"] if isinstance(upload, dict) else upload.content
        try:
            self.session.set_image(load_image(bytes(content)))
        except Exception as err:  # noqa: BLE001 - a bad file must not break the Explorer
            self._report(f"that upload could not be shown ({describe(err)})")
            return
        with self._quiet():
            self.image = CUSTOM
        self._new_input()
        self._request_draw()
