// The browser side of Camera (camera.py): the webcam, open only while `active` is on.
//
// Two frames with the kernel at a time: while it explains one, the next is already on its
// way, so the kernel does not idle for the round trip. A frame is grabbed and sent when
// the kernel answers one (drawn or dropped); frames the camera makes in between are never
// sent, so nothing piles up. On two cores, with the kernel leaving a core to the browser,
// two in flight made 8.5 frames a second at a median of 226 ms from capture to canvas;
// one in flight 6.3 at 149 ms (benchmarks/webcam.py).
// Each frame's time from capture to the kernel's answer (which comes after the canvas's
// pictures for it) is kept on the element, for anyone to read: data-latencies (ms, the
// last 200) and data-frames.

const IN_FLIGHT = 2;

function render({ model, el }) {
  const video = document.createElement("video");
  video.muted = true;
  video.playsInline = true;
  const grab = document.createElement("canvas");
  // The toggles look and behave as ipywidgets' ToggleButtons; a click sets the model's
  // attribute and the kernel may put it back (it then says why in the status line).
  const toggle = (label, attribute, tip) => {
    const button = document.createElement("button");
    button.className = "jupyter-widgets jupyter-button widget-toggle-button";
    button.textContent = label;
    button.title = tip;
    button.dataset.attribute = attribute;
    button.addEventListener("click", () => {
      model.set(attribute, !model.get(attribute));
      model.save_changes();
    });
    const shown = () => button.classList.toggle("mod-active", Boolean(model.get(attribute)));
    model.on(`change:${attribute}`, shown);
    shown();
    return button;
  };
  const bar = document.createElement("div");
  bar.style.display = "flex";
  bar.style.alignItems = "center";
  bar.style.gap = "4px";
  const readout = document.createElement("span");
  readout.className = "gbp-camera-readout";
  readout.style.fontSize = "12px";
  readout.style.padding = "0 6px";
  readout.style.whiteSpace = "nowrap";
  bar.append(
    toggle("webcam", "active", "explain the browser's camera, frame by frame"),
    toggle("freeze", "paused", "hold the frame shown (the f key on a canvas too)"),
    toggle("top class", "follow", "explain each frame's top class; off: the class chosen stays"),
    readout,
  );
  el.classList.add("gbp-camera");
  el.append(bar);
  let stream = null;
  const inFlight = new Map(); // frame id -> capture time, for the frames the kernel has
  let nextId = 0;
  const latencies = [];
  let frames = 0;

  const say = state => {
    el.dataset.state = state;
    if (model.get("state") !== state) {
      model.set("state", state);
      model.save_changes();
    }
  };
  const stop = () => {
    if (stream) for (const track of stream.getTracks()) track.stop();
    stream = null;
    inFlight.clear();
    video.srcObject = null;
    el.dataset.open = "false";
  };

  const next = () => {
    if (!stream || inFlight.size >= IN_FLIGHT || !model.get("active") || model.get("paused")) return;
    if (video.readyState < 2 || !video.videoWidth) {
      requestAnimationFrame(next);
      return;
    }
    const size = model.get("size");
    grab.width = size;
    grab.height = size;
    const side = Math.min(video.videoWidth, video.videoHeight);
    const ctx = grab.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(
      video, (video.videoWidth - side) / 2, (video.videoHeight - side) / 2, side, side, 0, 0, size, size,
    );
    const pixels = ctx.getImageData(0, 0, size, size).data;
    nextId += 1;
    inFlight.set(nextId, performance.now());
    // (content, callbacks, buffers): the widget model's send, as ipywidgets defines it.
    model.send({ event: "frame", id: nextId }, undefined, [pixels.buffer]);
    // With room for another, it comes a paint later, so it is another of the camera's.
    requestAnimationFrame(next);
  };

  const start = async () => {
    if (!window.isSecureContext) return say("insecure");
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return say("unavailable");
    say("asking");
    let opened;
    try {
      opened = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
    } catch (err) {
      return say(err && err.name === "NotAllowedError" ? "refused" : "unavailable");
    }
    if (!model.get("active")) {
      for (const track of opened.getTracks()) track.stop();
      return;
    }
    stream = opened;
    el.dataset.open = "true";
    video.srcObject = stream;
    await video.play();
    say("on");
    next();
  };

  const activeChanged = () => {
    if (model.get("active")) {
      if (!stream) start();
    } else {
      stop();
      say("off");
    }
  };

  const onMessage = message => {
    if (message.done === undefined || !inFlight.has(message.done)) return;
    const captured = inFlight.get(message.done);
    inFlight.delete(message.done);
    // The canvas's pictures for this frame came before this answer; they show at the next
    // paint, so the frame's latency ends there.
    requestAnimationFrame(() => {
      if (message.drawn) {
        frames += 1;
        latencies.push(performance.now() - captured);
        if (latencies.length > 200) latencies.shift();
        el.dataset.latencies = JSON.stringify(latencies);
        el.dataset.frames = String(frames);
      }
      next();
    });
  };

  const words = () => {
    readout.textContent = model.get("readout");
  };
  model.on("change:active", activeChanged);
  model.on("change:paused", next);
  model.on("change:readout", words);
  model.on("msg:custom", onMessage);
  el.dataset.open = "false";
  words();
  activeChanged();
  return () => {
    stop();
    model.off("change:active", activeChanged);
    model.off("change:paused", next);
    model.off("change:readout", words);
    model.off("msg:custom", onMessage);
  };
}

export default { render };
