"""The Explorer's state as one table (:data:`STATE`): a row per trait, everything the package
knows of it. What a row holds is :class:`~gbp_widgets.explore.table.Row`'s business; adding
a trait is a row here plus the code that draws it.
"""

from __future__ import annotations

from gbp_widgets.explore import checks, choices, moves
from gbp_widgets.explore.checks import PERCENTILE_RANGE
from gbp_widgets.explore.names import ALL_CHANNELS, GRID_SIZE, PERCENTILE, SCORE_THRESHOLD
from gbp_widgets.explore.open import (
    new_activations,
    new_image,
    new_item,
    new_layer,
    new_model,
    new_text,
)
from gbp_widgets.explore.table import (
    Ahead,
    Control,
    Effect,
    Line,
    Place,
    Row,
    StateTable,
    Steps,
    Value,
    Widget,
    view_field,
)
from gbp_widgets.models import DEFAULT_MODEL

# The order is the order values are applied and settled in (what a check reads comes first),
# and the order in which the pictures ahead are made.
STATE = StateTable(
    {
        "image": Row(
            default="chelsea",
            help="sample photo name (or a picture's path), or 'custom'",
            value=Value.TEXT,
            effect=Effect.INPUT,
            check=checks.image,
            controls=(Control("image", Widget.MENU, Place(Line.SOURCE, 0), "image"),),
            choices=choices.samples,
            shown=choices.images,
            settle=choices.kept,
            opens=new_image,
        ),
        "text": Row(
            default="",
            help="the text explained (models given a tokenizer=): type it, Enter explains it",
            value=Value.TEXT,
            effect=Effect.INPUT,
            check=checks.text,
            controls=(Control("text", Widget.TEXT_BOX, Place(Line.SOURCE, 5), "text"),),
            shown=choices.texts,
            settle=choices.kept,
            opens=new_text,
        ),
        "model_name": Row(
            default=DEFAULT_MODEL,
            help="load_model name, or 'custom'",
            value=Value.TEXT,
            effect=Effect.INPUT,
            check=checks.model_name,
            controls=(Control("model", Widget.MENU, Place(Line.SOURCE, 2), "model"),),
            choices=choices.models,
            settle=choices.kept,
            opens=new_model,
        ),
        "activations": Row(
            default="relu",
            help="'relu' (the published method) or 'gated': GELU, SiLU, Mish and Hardswish "
            "sites too, their gate s(x) a soft forward mask (our extension)",
            value=Value.TEXT,
            effect=Effect.INPUT,
            check=checks.activations,
            controls=(Control("activations", Widget.MENU, Place(Line.SOURCE, 3), "activations"),),
            choices=choices.activations,
            opens=new_activations,
        ),
        "layer": Row(
            default="auto",
            help="Grad-CAM layer: a module path or 'auto'",
            value=Value.TEXT,
            effect=Effect.INPUT,
            check=checks.layer,
            controls=(Control("layer", Widget.MENU, Place(Line.RULE, 1), "CAM layer"),),
            choices=choices.layers,
            shown=choices.images,
            opens=new_layer,
            # The same item recorded again: everything chosen stays.
            resettles=False,
        ),
        "item": Row(
            default=0,
            help="which item of the inputs is shown",
            value=Value.WHOLE,
            effect=Effect.INPUT,
            check=checks.item,
            controls=(Control("item", Widget.SLIDER, Place(Line.ITEMS, 1), "item"),),
            choices=choices.items,
            shown=lambda s: s.count > 1,
            settle=choices.kept,
            opens=new_item,
            ahead=Ahead(Steps.NEIGHBOURS, when=moves.class_picked, make=moves.item_pictures),
        ),
        "input_index": Row(
            default=0,
            help="which input's attribution is shown",
            value=Value.WHOLE,
            effect=Effect.RENDER,
            check=checks.input_index,
            controls=(Control("input_index", Widget.MENU, Place(Line.ITEMS, 2), "input"),),
            choices=choices.inputs,
            shown=lambda s: len(s.kinds) > 1,
            to_view=view_field("input_index"),
        ),
        "axis": Row(
            default=0,
            help="volumes: the axis cut (0 depth, 1 height, 2 width)",
            value=Value.WHOLE,
            effect=Effect.RENDER,
            check=checks.axis,
            controls=(Control("axis", Widget.MENU, Place(Line.ITEMS, 3), "cut along"),),
            choices=choices.axes,
            shown=choices.volumes,
            to_view=moves.axis_moved,
        ),
        "score_threshold": Row(
            default=SCORE_THRESHOLD,
            help="detections scoring less are not shown",
            value=Value.NUMBER,
            effect=Effect.BACKWARD,
            check=checks.score_threshold,
            controls=(
                Control(
                    "score_threshold",
                    Widget.NUMBER_SLIDER,
                    Place(Line.DETECTION, 1),
                    "min score",
                ),
            ),
            bounds=(0.0, 1.0, 0.01),
            shown=choices.detector,
            to_view=view_field("score_threshold"),
        ),
        "target_kind": Row(
            default="class",
            help="'class', 'channel' or 'unit' at the site, 'region' or 'detection'",
            value=Value.TEXT,
            effect=Effect.BACKWARD,
            check=checks.target_kind,
            controls=(Control("target_kind", Widget.BUTTONS, Place(Line.TARGET, 0), "explain"),),
            choices=choices.target_kinds,
            settle=choices.first_kind,
        ),
        "display": Row(
            default="gradient",
            help="how the attribution is drawn",
            value=Value.TEXT,
            effect=Effect.RENDER,
            check=checks.display,
            controls=(Control("display", Widget.BUTTONS, Place(Line.DISPLAY, 0)),),
            choices=choices.displays,
            follows=("input_index",),
            to_view=view_field("display"),
            # The buttons are drawn ahead first: people click them one after another.
            ahead=Ahead(Steps.OTHERS),
        ),
        "rule": Row(
            default="guided",
            help="gradient, deconvnet, guided or gradcam",
            value=Value.TEXT,
            effect=Effect.BACKWARD,
            check=checks.rule,
            controls=(Control("rule", Widget.BUTTONS, Place(Line.RULE, 0)),),
            choices=choices.rules,
            to_view=view_field("rule"),
            ahead=Ahead(Steps.OTHERS),
        ),
        "region": Row(
            default=None,
            help="Region(cls, mask), for 'region': class cls summed where the bool mask of "
            "the output's positions is on (a dense output's pixels; next-token scores' tokens, "
            "the token cls explained after them); a click on the output picks one",
            value=Value.REGION,
            effect=Effect.BACKWARD,
            check=checks.region,
            # Chosen at the output for the 'region' kind, and for nothing else.
            settle=choices.region_kept,
            follows=("target_kind",),
        ),
        "target": Row(
            default=0,
            help="class explained when target_kind is 'class': an index, or a name (kept as "
            "its index)",
            value=Value.CLASS,
            effect=Effect.BACKWARD,
            check=checks.target,
            controls=(Control("class_index", Widget.WHOLE_BOX, Place(Line.TARGET, 1), "class #"),),
            # What the top-5 buttons offer: the classes drawn ahead.
            choices=choices.top_classes,
            shown=lambda session: not choices.detector(session),
            settle=choices.predicted_class,
            # With a region explained, the top-5 are its classes (the tokens that follow it).
            follows=("region",),
            ahead=Ahead(Steps.NEIGHBOURS, when=moves.class_picked, moves=moves.class_moved),
        ),
        "percentile": Row(
            default=PERCENTILE,
            help="percentile of |attribution| that saturates",
            value=Value.NUMBER,
            effect=Effect.RENDER,
            check=checks.percentile,
            controls=(
                Control("percentile", Widget.NUMBER_SLIDER, Place(Line.DISPLAY, 1), "clip %"),
            ),
            bounds=(*PERCENTILE_RANGE, 0.1),
            to_view=view_field("percentile"),
            ahead=Ahead(Steps.KEYS),
        ),
        "site": Row(
            default=0,
            help="index of the ReLU site shown, in forward order",
            value=Value.WHOLE,
            effect=Effect.RENDER,
            check=checks.site,
            controls=(
                Control("site_slider", Widget.SLIDER, Place(Line.SITE, 0), "site"),
                Control("site_name", Widget.MENU, Place(Line.SITE, 1)),
            ),
            choices=choices.sites,
            to_view=moves.site_moved,
            ahead=Ahead(Steps.NEIGHBOURS, when=moves.output_picked),
        ),
        "channel": Row(
            default=ALL_CHANNELS,
            help="channel shown at the site; -1 for all",
            value=Value.WHOLE,
            effect=Effect.RENDER,
            check=checks.channel,
            controls=(Control("channel", Widget.MENU, Place(Line.SITE, 2), "channel"),),
            choices=choices.channels,
            follows=("site", Effect.BACKWARD),
            to_view=view_field("channel"),
            # The menu's first entries as well: all channels, then those most let through.
            ahead=Ahead(Steps.NEIGHBOURS, first=4, when=moves.output_picked),
        ),
        "grid_size": Row(
            default=GRID_SIZE,
            help="how many of the site's channels its grid shows, those that pass the most "
            "first (a token site: the unit columns of its token x unit grids)",
            value=Value.WHOLE,
            effect=Effect.RENDER,
            check=checks.grid_size,
            controls=(Control("grid_size", Widget.WHOLE_BOX, Place(Line.SITE, 3), "grid"),),
            settle=choices.grid_kept,
            to_view=view_field("grid_size"),
        ),
        "slice": Row(
            default=0,
            help="volumes: the index of the slice shown along axis",
            value=Value.WHOLE,
            effect=Effect.RENDER,
            check=checks.slice,
            controls=(Control("slice", Widget.SLIDER, Place(Line.ITEMS, 4), "slice"),),
            choices=choices.slices,
            shown=choices.volumes,
            follows=("axis", "input_index"),
            to_view=moves.slice_moved,
            ahead=Ahead(Steps.NEIGHBOURS),
        ),
        "unit": Row(
            default=(),
            help="position at the site of the unit explained, for 'unit'",
            value=Value.POSITION,
            effect=Effect.BACKWARD,
            check=checks.unit,
            settle=choices.cleared(()),
        ),
        "detection": Row(
            default=None,
            help="detection index, for 'detection'",
            value=Value.MAYBE_WHOLE,
            effect=Effect.BACKWARD,
            check=checks.detection,
            controls=(Control("detection", Widget.MENU, Place(Line.DETECTION, 0), "detection"),),
            choices=choices.detections,
            shown=choices.detector,
            settle=choices.best_detection,
            follows=("score_threshold",),
        ),
        "compare": Row(
            default=False,
            help="show Gradient, DeconvNet and Guided side by side",
            value=Value.FLAG,
            effect=Effect.RENDER,
            check=checks.anything,
            controls=(Control("compare", Widget.TOGGLE, Place(Line.RULE, 2), "compare rules"),),
        ),
        # The webcam's three toggles are drawn by the webcam bar (widgets/camera.py), which
        # also holds the camera, so they have no control of their own here.
        "webcam": Row(
            default=False,
            help="explain the browser's camera, frame by frame, as it comes (image models)",
            value=Value.FLAG,
            effect=Effect.RENDER,
            check=checks.webcam,
        ),
        "freeze": Row(
            default=False,
            help="with the webcam: hold the frame shown, as an uploaded photo (the f key too)",
            value=Value.FLAG,
            effect=Effect.RENDER,
            check=checks.anything,
        ),
        "follow_top": Row(
            default=True,
            help="with the webcam: explain each frame's top class (off: the class chosen stays)",
            value=Value.FLAG,
            effect=Effect.RENDER,
            check=checks.anything,
        ),
    },
    # Controls that are no trait's own: the upload, the webcam bar, the save button and the
    # class pickers (the top-5 buttons and the name box), made by the widget.
    others={
        "upload": Place(Line.SOURCE, 1),
        "save": Place(Line.SOURCE, 4),
        "camera": Place(Line.ITEMS, 0),
        "top": Place(Line.TOP, 0),
        "class_name": Place(Line.TARGET, 2),
    },
)
"""Every trait of the Explorer, by name."""

problem = STATE.problem
options = STATE.options
settled = STATE.settled
traits_with = STATE.traits_with
