// The browser side of PictureCanvas (picture_canvas.py).
//
// The kernel sends pictures as raw RGBA bytes: putImageData shows them without the PNG
// decode (6 ms and up per picture in Chromium) that ipycanvas's Image route costs.
// Pictures go to a layer of their own; the visible canvas is that layer with the crosshair
// over it, so a crosshair moves without resending a picture.
//
// Pictures "ahead" (widgets/ahead.py) are the ones a control's next value would show.
// The canvas watches the controls' own browser models and draws those pictures as soon
// as a control takes that value, if no other control changed since they were made.

const ARROWS = new Set(["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight"]);

function render({ model, el }) {
  const canvas = document.createElement("canvas");
  const pictures = document.createElement("canvas");
  canvas.className = "gbp-picture-canvas";
  // Focusable, so arrow keys reach the kernel once the canvas is clicked.
  canvas.tabIndex = 0;
  canvas.style.display = "block";
  canvas.style.outline = "none";
  // The words over and under the pictures (captions, colour keys), as the kernel wrote
  // them; a notebook narrower than the canvas scrolls it sideways rather than clip it.
  const header = document.createElement("div");
  const footer = document.createElement("div");
  header.className = "gbp-header";
  footer.className = "gbp-footer";
  const words = () => {
    header.innerHTML = model.get("header");
    footer.innerHTML = model.get("footer");
  };
  el.style.overflowX = "auto";
  el.append(header, canvas, footer);
  words();
  model.on("change:header", words);
  model.on("change:footer", words);
  let cross = null;
  let pointerInside = false;

  const resize = (width, height) => {
    if (canvas.width === width && canvas.height === height) return;
    for (const c of [canvas, pictures]) {
      c.width = width;
      c.height = height;
    }
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
  };

  const paint = () => {
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(pictures, 0, 0);
    const panel = model.get("panel");
    if (cross === null || panel <= 0) return;
    const [row, column] = cross;
    ctx.strokeStyle = model.get("crosshair_colour");
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let left = 0; left + panel <= canvas.width; left += panel + model.get("gap")) {
      ctx.moveTo(left, row + 0.5);
      ctx.lineTo(left + panel, row + 0.5);
      ctx.moveTo(left + column + 0.5, 0);
      ctx.lineTo(left + column + 0.5, panel);
    }
    ctx.stroke();
  };

  const put = ([x, y, width, height, scale], view) => {
    const bytes = new Uint8ClampedArray(view.buffer, view.byteOffset, view.byteLength);
    const image = new ImageData(bytes, width, height);
    const ctx = pictures.getContext("2d");
    if (scale === 1) {
      ctx.putImageData(image, x, y);
      return;
    }
    // A small mask goes as it is and is scaled here, block by block.
    const small = document.createElement("canvas");
    small.width = width;
    small.height = height;
    small.getContext("2d").putImageData(image, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.clearRect(x, y, width * scale, height * scale);
    ctx.drawImage(small, x, y, width * scale, height * scale);
  };

  // The pictures ahead for the controls' values in `watch`: [{when, puts, bitmaps}].
  let ahead = { key: null, watch: [], entries: [] };
  const controls = new Map();
  const listeners = [];
  const same = (a, b) =>
    typeof a === "number" && typeof b === "number" ? Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a)) : a === b;

  const watchControls = watch => {
    for (const [id, attribute] of watch) {
      const key = `${id} ${attribute}`;
      if (controls.has(key)) continue;
      controls.set(key, null);
      model.widget_manager.get_model(id).then(control => {
        controls.set(key, control);
        const listener = () => controlChanged(id, attribute, control.get(attribute));
        control.on(`change:${attribute}`, listener);
        listeners.push([control, `change:${attribute}`, listener]);
      });
    }
  };

  // How many sets of pictures ahead are ready to draw, on the element for anyone to read.
  const countReady = () => {
    canvas.dataset.aheadReady = String(ahead.entries.filter(e => !e.bitmaps.includes(null)).length);
  };

  const controlChanged = (id, attribute, value) => {
    const { watch, entries } = ahead;
    ahead = { key: null, watch: [], entries: [] };
    countReady();
    const unchanged = watch.every(([other, otherAttribute, recorded]) => {
      if (other === id && otherAttribute === attribute) return true;
      const control = controls.get(`${other} ${otherAttribute}`);
      return control && same(control.get(otherAttribute), recorded);
    });
    if (!unchanged) return;
    const entry = entries.find(e =>
      e.when.some(([other, otherAttribute, v]) => other === id && otherAttribute === attribute && same(v, value)),
    );
    if (!entry) return;
    // Only once every picture of the entry is decoded; else the kernel's redraw shows it.
    if (entry.bitmaps.some(bitmap => bitmap === null)) return;
    const ctx = pictures.getContext("2d");
    ctx.imageSmoothingEnabled = false;
    entry.puts.forEach(([x, y, width, height, scale], i) => {
      ctx.clearRect(x, y, width * scale, height * scale);
      ctx.drawImage(entry.bitmaps[i], x, y, width * scale, height * scale);
    });
    paint();
  };

  const keepAhead = ({ watch, when, puts }, buffers) => {
    const key = JSON.stringify(watch);
    if (ahead.key !== key) ahead = { key, watch, entries: [] };
    const entry = { when, puts, bitmaps: puts.map(() => null) };
    // A set sent again (after a replay) replaces the one for the same values.
    const sameWhen = JSON.stringify(when);
    ahead.entries = ahead.entries.filter(e => JSON.stringify(e.when) !== sameWhen);
    ahead.entries.push(entry);
    countReady();
    buffers.forEach((view, i) => {
      const png = new Blob([view], { type: "image/png" });
      const exact = { premultiplyAlpha: "none", colorSpaceConversion: "none" };
      createImageBitmap(png, exact).then(bitmap => {
        entry.bitmaps[i] = bitmap;
        countReady();
      });
    });
    watchControls(watch);
  };

  const onMessage = (message, buffers) => {
    if (message.ahead) {
      keepAhead(message.ahead, buffers);
      return;
    }
    if (message.size) resize(...message.size);
    if (message.clear) pictures.getContext("2d").clearRect(0, 0, pictures.width, pictures.height);
    (message.puts || []).forEach((where, i) => put(where, buffers[i]));
    // The pointer over this canvas decides its own crosshair; the kernel's echo of an
    // older position would make it jump back.
    if ("cross" in message && !pointerInside) cross = message.cross;
    paint();
  };

  // Canvas pixels under a pointer event (one canvas pixel per CSS pixel unless zoomed).
  const point = event => {
    const box = canvas.getBoundingClientRect();
    return [
      ((event.clientX - box.left) * canvas.width) / box.width,
      ((event.clientY - box.top) * canvas.height) / box.height,
    ];
  };

  // The crosshair follows the pointer here at once; the kernel is told for its read-out.
  const followPointer = (x, y) => {
    const panel = model.get("panel");
    if (!model.get("follow") || panel <= 0) return;
    const column = Math.floor(x) % (panel + model.get("gap"));
    const row = Math.floor(y);
    if (column >= panel || row < 0 || row >= panel) return;
    cross = [row, column];
    paint();
  };

  canvas.addEventListener("mousemove", event => {
    pointerInside = true;
    const [x, y] = point(event);
    followPointer(x, y);
    model.send({ event: "move", x, y });
  });
  canvas.addEventListener("mouseleave", event => {
    pointerInside = false;
    if (model.get("follow")) {
      cross = null;
      paint();
    }
    const [x, y] = point(event);
    model.send({ event: "leave", x, y });
  });
  canvas.addEventListener("mousedown", event => {
    canvas.focus();
    const [x, y] = point(event);
    model.send({ event: "down", x, y });
  });
  canvas.addEventListener("keydown", event => {
    // Arrow keys belong to the canvas while it has focus, not to the notebook around it.
    if (ARROWS.has(event.key)) {
      event.preventDefault();
      event.stopPropagation();
    }
    model.send({
      event: "key",
      key: event.key,
      shift: event.shiftKey,
      ctrl: event.ctrlKey,
      meta: event.metaKey,
    });
  });

  model.on("msg:custom", onMessage);
  resize(model.get("width"), model.get("height"));
  // A view made after the pictures were sent (a reload, a second tab, a re-shown output)
  // has none: it asks the kernel for them.
  model.send({ event: "ready" });
  return () => {
    model.off("msg:custom", onMessage);
    model.off("change:header", words);
    model.off("change:footer", words);
    for (const [control, event, listener] of listeners) control.off(event, listener);
  };
}

export default { render };
