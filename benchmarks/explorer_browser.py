"""Explorer responsiveness in a real browser: from the DOM event to the changed canvas.

Starts JupyterLab on 127.0.0.1, opens an Explorer in headless Chromium at 1440 x 900 (the
default EfficientNet-Lite0 on a photo; with ``--kind signal`` notebook 07's 1-D pulse
network on 8 signals; with ``--kind segmentation`` its segmenter on 4 pictures; with
``--kind text`` the shipped character GPT on a line of Python, with gates, CPU), and
for each control fires its DOM event (a click, a key on a slider, a ``change`` on a menu, a
``mousemove`` on the canvas) inside the page, then looks at the canvas region that control
changes after every draw onto that canvas, until its pixels differ. The time between is
what a person waits, whether the browser drew a picture it already had (a picture ahead,
the crosshair) or the kernel's. The kernel's own redraw time (and the read-out's, for a
hover), which the Explorer logs at DEBUG, is recorded alongside, so a wait that went
through the kernel can be split into the event reaching it, its work, and the rest.

Between changes it waits ``--pause`` seconds after the canvas changed, as a person looking
at each picture does (0.4 s by default, a fast one); the Explorer uses that time to draw
pictures ahead, those that need a new backward pass last.

Targets: rule and target changes <= 100 ms, site / channel / display / clip / item <= 50
ms, hover <= 30 ms (medians); on text, a token clicked (the prediction after it explained)
or a sentence typed (Enter) <= 100 ms.

    python benchmarks/explorer_browser.py [--kind image|signal|segmentation|text] [--repeats 8]
        [--pause 0.4]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from options import repeats  # noqa: E402 - this folder, on the path as the script runs

from tests.jupyterlab import (  # noqa: E402 - after the path is set
    chromium_page,
    jupyterlab,
    open_and_run,
    wait_for,
    write_notebook,
)

PANEL, GAP = 224, 8
TARGETS_MS = {"rule": 100, "target": 100, "site": 50, "channel": 50, "display": 50}
TARGETS_MS |= {"clip": 50, "hover": 30}

TARGETS_MS |= {"item": 50, "token": 100, "typed": 100}

OPEN = {
    "image": "from gbp_widgets import Explorer\nexplorer = Explorer()\nexplorer",
    "signal": f"import sys\nsys.path.insert(0, {str(ROOT)!r})\nimport torch\n"
    "from gbp_widgets import Explorer\nfrom tests.kinds import PulseNet, built\n"
    "torch.manual_seed(0)\n"
    "explorer = Explorer(model=built(PulseNet(2)), inputs=torch.randn(8, 2, 96), site=1)\n"
    "explorer",
    "segmentation": f"import sys\nsys.path.insert(0, {str(ROOT)!r})\nimport torch\n"
    "from gbp_widgets import Explorer\nfrom tests.kinds import TinySegmenter, built\n"
    "torch.manual_seed(0)\n"
    "explorer = Explorer(model=built(TinySegmenter()), inputs=torch.randn(4, 3, 32, 32))\n"
    "explorer",
    "text": "from gbp_widgets import Explorer\n"
    "explorer = Explorer(text='for item in items:', activations='gated')\nexplorer",
}
# Two lines of Python of one length, typed in turn (the same cells, other texts).
TYPED = ("for item in items:", "while x in things:")

NOTEBOOK = [
    "",
    # Kernel-side clocks (wall time, comparable with the page's): when a control's new
    # value arrives, and when each redraw or hover starts and ends. Read back at the end.
    "import json, logging, time\n"
    "kernel = {'arrived': [], 'draw': [], 'hover': []}\n"
    "class Timings(logging.Handler):\n"
    "    def emit(self, record):\n"
    "        kernel[record.work].append((record.created - record.seconds, record.created))\n"
    "log = logging.getLogger('gbp_widgets.widgets.explorer')\n"
    "log.setLevel(logging.DEBUG)\n"
    "log.addHandler(Timings())\n"
    "log.propagate = False\n"
    "explorer.observe(lambda change: kernel['arrived'].append(time.time()),\n"
    "    ['rule', 'target', 'display', 'percentile', 'site', 'channel', 'item', 'region',\n"
    "     'text'])\n"
    "print('ready')",
    "json.dump(kernel, open('kernel_ms.json', 'w'))",
]

# Installed once in the page: time(action, watch) runs the action and resolves with the
# milliseconds until the watched canvas region changes.
HARNESS = """
() => {
  const rows = () => [...document.querySelectorAll('canvas')]
    .filter(c => c.height === %d && c.width > %d);
  const sample = ([index, panel]) => {
    const canvas = rows()[index];
    const data = canvas.getContext('2d').getImageData(panel * %d, 0, %d, %d).data;
    let sum = 0;
    // Every 7th byte: all four channels take turns, so a cyan line on black counts too.
    for (let i = 0; i < data.length; i += 7) sum = (sum * 31 + data[i]) | 0;
    return sum;
  };
  const button = text => [...document.querySelectorAll('button')]
    .find(b => b.textContent.trim() === text);
  const select = label => [...document.querySelectorAll('.widget-dropdown')]
    .find(s => s.textContent.includes(label)).querySelector('select');
  window.gbpActions = {
    rule: i => button(['Gradient', 'Guided'][i %% 2]).click(),
    target: i => { const top = [...document.querySelectorAll('button')]
      .filter(b => b.textContent.includes('%%'));
      const off = top.filter(b => !b.classList.contains('mod-active'));
      (top.length > 2 ? top[1 + (i %% 2)] : off[0]).click(); },
    display: i => button(['saliency', 'gradient image'][i %% 2]).click(),
    channel: i => { const s = select('channel'); s.selectedIndex = 1 + (i %% 2);
      s.dispatchEvent(new Event('change', {bubbles: true})); },
    // A click on a token's cell of the input: 18 tokens in 5 columns of 4 rows.
    token: i => { const c = rows()[0]; const r = c.getBoundingClientRect();
      const cell = [3, 7][i %% 2]; const x = (cell %% 5 + 0.5) * %d / 5;
      const y = (Math.floor(cell / 5) + 0.5) * %d / 4;
      c.dispatchEvent(new MouseEvent('mousedown',
        {clientX: r.left + x, clientY: r.top + y, bubbles: true})); },
    site: i => { const s = [...document.querySelectorAll('select')]
        .find(m => [...m.options].some(o => o.text.includes('#')));
      const a = Math.max(0, Math.min(3, s.options.length - 2));
      s.selectedIndex = s.selectedIndex === a ? a + 1 : a;
      s.dispatchEvent(new Event('change', {bubbles: true})); },
  };
  // Synthetic events for clicks, menus and the mouse; keys on a slider need trusted ones,
  // so for those the page starts the clock and Playwright presses the key.
  // The watched canvas is looked at right after every draw onto it (the pixels are final
  // when the drawing task ends) instead of in a busy loop, which would take a core from
  // the kernel and the server on a small machine and slow what it measures. The first
  // changed look is when the canvas changed, even if it came before gbpWait was called
  // (a key pressed by Playwright can be drawn before its call returns).
  window.gbpStart = watch => {
    window.gbpWatch = [watch, rows()[watch[0]], sample(watch), performance.now()];
    window.gbpPainted = null;
    window.gbpWake = () => {
      if (window.gbpPainted === null && sample(watch) !== window.gbpWatch[2]) {
        window.gbpPainted = performance.now();
      }
    };
  };
  // (This script runs until the canvases are there: the methods are wrapped once.)
  window.gbpWake = () => {};
  const proto = CanvasRenderingContext2D.prototype;
  for (const method of window.gbpWrapped ? [] : ['drawImage', 'putImageData', 'clearRect']) {
    const original = proto[method];
    proto[method] = function (...args) {
      const result = original.apply(this, args);
      if (window.gbpWatch && this.canvas === window.gbpWatch[1]) {
        queueMicrotask(() => window.gbpWake());
      }
      return result;
    };
  }
  window.gbpWrapped = true;
  // Resolves with [event, painted] in wall-clock milliseconds, or null after 5 s.
  window.gbpWait = () => new Promise(resolve => {
    const start = window.gbpWatch[3];
    const origin = performance.timeOrigin;
    const done = value => { clearInterval(slow); window.gbpWake = () => {}; resolve(value); };
    const look = window.gbpWake;
    const wake = () => {
      look();
      if (window.gbpPainted !== null) done([origin + start, origin + window.gbpPainted]);
    };
    window.gbpWake = wake;
    // A slow look as well, in case a canvas is redrawn by a path not wrapped above.
    const slow = setInterval(() => {
      wake();
      if (performance.now() - start > 5000) done(null);
    }, 25);
    wake();
  });
  window.gbpTime = async (name, i, watch) => {
    window.gbpStart(watch);
    window.gbpActions[name](i);
    return window.gbpWait();
  };
  return rows().length;
}
"""
HARNESS = (
    HARNESS.replace("* %d / 5", f"* {PANEL} / 5")
    .replace("* %d / 4", f"* {PANEL} / 4")
    .replace("%%", "%")
    .replace("c.height === %d && c.width > %d", f"c.height === {PANEL} && c.width > {PANEL}")
    .replace(
        "getImageData(panel * %d, 0, %d, %d)",
        f"getImageData(panel * {PANEL + GAP}, 0, {PANEL}, {PANEL})",
    )
)
# Slider keys, pressed by Playwright: (slider label, keys to alternate).
KEYS = {"clip": ("clip", ("PageDown", "PageUp")), "item": ("item", ("ArrowRight", "ArrowLeft"))}

# Which row's canvas (ipycanvas shows each MultiCanvas as one canvas, its layers
# composited) and which panel of it each control changes; the crosshair of a hover is
# drawn on every panel.
WATCH = {
    "rule": [0, 1],
    "target": [0, 1],
    "display": [0, 1],
    "clip": [0, 1],
    "site": [1, 0],
    "channel": [1, 0],
    "hover": [1, 0],
    "token": [0, 1],
    "typed": [0, 0],
}
# Per kind: the controls timed (the photo has one item) and where the attribution is drawn
# (a dense output puts its label map before it).
PICTURE_CONTROLS = ["rule", "target", "display", "clip", "site", "channel", "hover"]
CONTROLS = {
    "image": PICTURE_CONTROLS,
    "signal": [*PICTURE_CONTROLS, "item"],
    "segmentation": [*PICTURE_CONTROLS, "item"],
    "text": ["token", "typed", "rule", "target", "hover"],
}


def watched(kind: str) -> dict[str, list[int]]:
    attribution = 2 if kind == "segmentation" else 1
    where = {name: ([0, attribution] if spot == [0, 1] else spot) for name, spot in WATCH.items()}
    where["item"] = [0, 0]
    where["typed"] = [0, 0]
    return {name: where[name] for name in CONTROLS[kind]}


def measure(
    kind: str, repeats: int, pause: float
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    watch_of = watched(kind)
    with tempfile.TemporaryDirectory() as folder, jupyterlab(Path(folder)) as lab:
        write_notebook(Path(folder) / "bench.ipynb", [OPEN[kind], *NOTEBOOK[1:]])
        with chromium_page(1440, 900) as page:
            open_and_run(page, lab, "bench.ipynb")
            wait_for(lambda: "ready" in page.content(), 120, "the explorer did not open")
            wait_for(lambda: page.evaluate(HARNESS) >= 2, 60, "the canvases did not appear")
            time.sleep(2.0)
            browser_ms: dict[str, list[float]] = {name: [] for name in watch_of}
            for _ in range(1 + repeats):  # the first round warms the caches up, not counted
                for name, watch in watch_of.items():
                    index = len(browser_ms[name])
                    if name == "hover":
                        # A trusted mouse move over the masks row, alternating between points.
                        # Scrolled into view where needed: a mouse outside the viewport
                        # moves over nothing.
                        box = page.evaluate(
                            "() => { const c = [...document.querySelectorAll('canvas')]"
                            f".filter(c => c.height === {PANEL} && c.width > {PANEL})[1];"
                            " let r = c.getBoundingClientRect();"
                            " if (r.bottom > window.innerHeight) {"
                            " c.scrollIntoView({block: 'center'}); r = c.getBoundingClientRect(); }"
                            " return [r.left, r.top]; }"
                        )
                        page.evaluate("w => window.gbpStart(w)", watch)
                        page.mouse.move(
                            box[0] + 40 + 30 * (index % 2), box[1] + 60 + 20 * (index % 2)
                        )
                        elapsed = page.evaluate("() => window.gbpWait()")
                        # Off the canvas again: the crosshair it clears must not be taken
                        # for the next control's change.
                        page.mouse.move(2, 2)
                    elif name == "typed":
                        # A sentence typed, then Enter: the clock starts at the key.
                        box = page.locator(".widget-text").filter(has_text="text")
                        box = box.locator("input").first
                        box.fill(TYPED[(index + 1) % 2])
                        page.evaluate("w => window.gbpStart(w)", watch)
                        box.press("Enter")
                        elapsed = page.evaluate("() => window.gbpWait()")
                    elif name in KEYS:
                        label, keys = KEYS[name]
                        handle = page.locator(".widget-hslider").filter(has_text=label)
                        handle = handle.locator(".noUi-handle").first
                        handle.focus()
                        page.evaluate("w => window.gbpStart(w)", watch)
                        handle.press(keys[index % 2])
                        elapsed = page.evaluate("() => window.gbpWait()")
                    else:
                        elapsed = page.evaluate(
                            "([n, i, w]) => window.gbpTime(n, i, w)", [name, index, watch]
                        )
                    if elapsed is None:
                        raise AssertionError(f"the canvas did not change after {name}")
                    browser_ms[name].append(elapsed)
                    time.sleep(pause)
            # Run the last cell again: it writes the kernel's timings next to the notebook.
            kernel_file = Path(folder) / "kernel_ms.json"
            kernel_file.unlink(missing_ok=True)
            page.evaluate(
                "() => { const nb = window.jupyterapp.shell.currentWidget.content;"
                " nb.activeCellIndex = nb.widgets.length - 1;"
                " return window.jupyterapp.commands.execute('notebook:run-cell'); }"
            )
            wait_for(kernel_file.exists, 60, "the kernel timings were not written")
            time.sleep(0.3)
            kernel_ms = json.loads(kernel_file.read_text())
    return {k: v[1:] for k, v in browser_ms.items()}, kernel_ms


def breakdown(events: list[list[float]], kernel: dict, hover: bool) -> tuple[float, ...]:
    """Median milliseconds from the event to the kernel, inside the kernel, and from the
    kernel's last send to the changed canvas, matched by wall clock."""
    to_kernel, inside, to_screen = [], [], []
    runs = kernel["hover" if hover else "draw"]
    for event, painted in events:
        event_s, painted_s = event / 1000, painted / 1000
        arrived = [t for t in kernel["arrived"] if event_s <= t <= painted_s]
        started = [start for start, end in runs if event_s <= start <= painted_s]
        ended = [end for start, end in runs if event_s <= end <= painted_s]
        if not ended:
            continue
        first = arrived[0] if arrived and not hover else (started[0] if started else ended[0])
        to_kernel.append(1000 * (first - event_s))
        inside.append(1000 * (ended[-1] - first))
        to_screen.append(1000 * (painted_s - ended[-1]))
    if not inside:
        return (float("nan"),) * 3
    return tuple(statistics.median(v) for v in (to_kernel, inside, to_screen))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=sorted(OPEN), default="image")
    parser.add_argument("--repeats", type=repeats, default=8)
    parser.add_argument("--pause", type=float, default=0.4, help="seconds between changes")
    args = parser.parse_args()
    if args.pause < 0:
        parser.error(f"--pause is seconds to wait, 0 or more, not {args.pause:g}")
    events, kernel = measure(args.kind, args.repeats, args.pause)
    print(
        f"{args.kind}: {platform.processor() or platform.machine()}, "
        f"{args.repeats} repeats per control, {args.pause:g} s after each change"
    )
    print(
        "| control | median (ms) | min | max | target (ms) | met "
        "| to kernel | in kernel | kernel to canvas |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, pairs in events.items():
        values = [painted - event for event, painted in pairs]
        median = statistics.median(values)
        met = "yes" if median <= TARGETS_MS[name] else "no"
        parts = breakdown(pairs, kernel, hover=name == "hover")
        print(
            f"| {name} | {median:.0f} | {min(values):.0f} | {max(values):.0f} "
            f"| {TARGETS_MS[name]} | {met} | " + " | ".join(f"{p:.0f}" for p in parts) + " |"
        )


if __name__ == "__main__":
    main()
