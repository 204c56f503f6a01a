"""What the Explorer shows as HTML: the hover read-out and the colour keys. Pure functions."""

from __future__ import annotations

import html

from gbp_widgets.pictures.colour_keys import ColourKey, LabelKey


def status_html(text: str, problem: bool) -> str:
    """The status line: a problem in red, a warning in amber, nothing for no text."""
    if not text:
        return ""
    colour = "#b00020" if problem else "#8a6d00"
    return f"<span style='color:{colour}'>&#9888; {html.escape(text)}</span>"


def readout_html(values: dict[str, object]) -> str:
    """The hover read-out: every field whole, the fields wrapping onto more lines where
    the notebook is narrow (a field is never cut off or split)."""
    numbers = ", ".join(f"{v:+.3g}" for v in values["attribution"])
    fields = [values["where"]]
    if "rgb" in values:
        fields.append(f"input RGB {values['rgb']}")
    elif "token" in values:
        fields.append(f"token {values['token']!r} (id {values['token_id']})")
    else:
        fields.append("input " + ", ".join(f"{v:+.3g}" for v in values["input"]))
    if "token" in values:
        total, norm = values["attribution"]
        fields.append(f"attribution: x input {total:+.3g}, norm {norm:.3g}")
    else:
        fields.append(f"attribution ({numbers})")
    if "predicted" in values:
        fields.append(f"predicted: {values['predicted']}")
    if "pre_activation" in values:
        channel, noun = values["site_channel"], values.get("site_rows", "channel")
        unit = f"mean over {noun}s" if channel is None else f"{noun} {channel}"
        fields += [
            f"site unit {tuple(values['site_position'])}, {unit}",
            f"x = {values['pre_activation']:+.4g}",
            f"output = {values['output']:.4g}",
            f"g = {values['gradient']:+.4g}",
            f"forward {values['forward']:.3g} · backward {values['backward']:.3g} · "
            f"product {values['product']:.3g}",
        ]
    cells = "".join(
        f"<span style='white-space:nowrap'><code>{html.escape(f)}</code></span>" for f in fields
    )
    return f"<div style='display:flex;flex-wrap:wrap;gap:0.15em 1.2em'>{cells}</div>"


def key_html(key: ColourKey | LabelKey | None, width: int) -> str:
    """A colour key ``width`` CSS pixels wide: the ramp as a gradient bar, its words under
    the ends and the middle, or a label map's class swatches; ``""`` for no key."""
    if key is None:
        return ""
    if isinstance(key, LabelKey):
        return _label_key_html(key, width)
    stops = ", ".join(
        f"rgb({r},{g},{b}) {100 * i / 15:.0f}%"
        for i, (r, g, b) in enumerate(key.ramp[:: max(1, len(key.ramp) // 15)][:16])
    )
    left, middle, right = (html.escape(word) for word in key.words)
    # The ends never shrink; a middle too long for a small panel wraps rather than
    # being cut ("s(x) 1[g>0], mean of channels" under a 160-pixel panel).
    end, wraps = "flex:none", "flex:1 1 0;text-align:center;overflow-wrap:anywhere"
    return (
        f"<div class='gbp-key' style='width:{width}px;font-size:10px;line-height:12px;color:#444'>"
        f"<div style='height:6px;border:1px solid #aaa;background:linear-gradient("
        f"to right, {stops})'></div>"
        f"<div style='display:flex;justify-content:space-between;gap:4px'>"
        f"<span style='{end}'>{left}</span><span style='{wraps}'>{middle}</span>"
        f"<span style='{end}'>{right}</span></div></div>"
    )


def _label_key_html(key: LabelKey, width: int) -> str:
    swatches = "".join(
        f"<span style='white-space:nowrap;margin-right:6px'><span style='display:inline-block;"
        f"width:9px;height:9px;border:1px solid #999;background:rgb{colour};"
        f"vertical-align:middle'></span> {html.escape(name)}</span>"
        for colour, name in key.swatches
    )
    more = f"<span>+{key.more} more</span>" if key.more else ""
    return (
        f"<div class='gbp-key' style='width:{width}px;font-size:10px;line-height:13px;color:#444;"
        f"display:flex;flex-wrap:wrap'>{swatches}{more}</div>"
    )
