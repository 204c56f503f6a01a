"""Keeping a control and a trait equal, both ways, without letting refused values show."""

from __future__ import annotations

import ipywidgets as widgets
import traitlets

from gbp_widgets.widgets.quiet import Quiet


def bind(owner: traitlets.HasTraits, name: str, control: widgets.Widget, quiet: Quiet) -> None:
    """Keep ``control.value`` and ``owner``'s trait ``name`` equal, both ways.

    Unlike ``widgets.link``, a value the trait refuses (1500 typed into the class
    box, say) is replaced in the control by the value kept, so the control never
    shows what the owner is not doing. Changes made inside ``quiet`` are the
    owner's own and are not sent back.
    """

    def to_trait(change) -> None:
        if quiet:
            return
        setattr(owner, name, change.new)
        kept = getattr(owner, name)
        if kept != change.new:
            with quiet():
                control.value = kept

    def to_control(change) -> None:
        if control.value != change.new:
            with quiet():
                control.value = change.new

    with quiet():
        control.value = getattr(owner, name)
    control.observe(to_trait, "value")
    owner.observe(to_control, name)


def show(control: widgets.Widget, visible: bool) -> None:
    """Show or hide a control without removing it from its box."""
    control.layout.display = "" if visible else "none"
