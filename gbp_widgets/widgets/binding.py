"""Keeping a control and a trait equal, both ways, with one way of refusing a value."""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets
import traitlets

from gbp_widgets.widgets.quiet import Quiet


def bind(
    owner: traitlets.HasTraits,
    name: str,
    control: widgets.Widget,
    quiet: Quiet,
    refused: Callable[[str], None],
    attribute: str = "value",
) -> None:
    """Keep ``control.value`` (or another ``attribute`` of it) and ``owner``'s trait
    ``name`` equal, both ways.

    A value the trait refuses (1500 typed into the class box, say) raises
    ``TraitError`` in the owner; here its message goes to ``refused`` and the control
    is put back on the value kept, so the control never shows what the owner is not
    doing. Changes made inside ``quiet`` are the owner's own and are not sent back.
    The control takes the trait's value at the trait's next change, or when the owner
    sets it (after it has the choices that hold the value).
    """

    def to_trait(change) -> None:
        if quiet:
            return
        try:
            setattr(owner, name, change.new)
        except traitlets.TraitError as err:
            refused(str(err))
        kept = getattr(owner, name)
        if kept != change.new:
            with quiet():
                setattr(control, attribute, kept)

    def to_control(change) -> None:
        # The value now, not the change's: an observer may have moved it on (a picture's
        # path is listed as "custom" once shown).
        value = getattr(owner, name)
        if getattr(control, attribute) != value:
            with quiet():
                try:
                    setattr(control, attribute, value)
                except traitlets.TraitError:
                    # A menu without that choice yet: the owner sets it with the choices.
                    pass

    control.observe(to_trait, attribute)
    owner.observe(to_control, name)


def show(control: widgets.Widget, visible: bool) -> None:
    """Show or hide a control without removing it from its box."""
    control.layout.display = "" if visible else "none"


def close_parts(widget: widgets.Widget) -> None:
    """Close the widgets ``widget`` holds (children, layout, style) and theirs, so no
    model of it stays in the kernel or in a saved notebook; ``widget`` itself stays."""
    held = (*getattr(widget, "children", ()), *(getattr(widget, n, None) for n in _PARTS))
    for part in held:
        if isinstance(part, widgets.Widget) and part.comm is not None:
            close_parts(part)
            part.close()


# The models a widget keeps beside its children.
_PARTS = ("layout", "style")
