// Ember's browser runtime: load an ONNX model with onnxruntime-web (WASM backend), run it, and draw digits.
// Used by the pages `ember.export.web` writes and by the demo page of `ember serve`.

let ort = null;

// Load onnxruntime-web from `ortBase` (a folder URL holding ort.wasm.min.mjs and its WASM files).
export async function loadRuntime(ortBase) {
  if (ort) return ort;
  const base = new URL(ortBase, location.href).href;  // the WASM paths must be an absolute URL
  ort = await import(base + "ort.wasm.min.mjs");
  ort.env.wasm.wasmPaths = base;
  ort.env.wasm.numThreads = 1;  // no cross-origin isolation needed on a plain static server
  return ort;
}

export async function loadModel(modelUrl, ortBase) {
  const runtime = await loadRuntime(ortBase);
  return runtime.InferenceSession.create(modelUrl, { executionProviders: ["wasm"] });
}

const ARRAYS = { float32: Float32Array, float64: Float64Array, int32: Int32Array, int64: BigInt64Array,
                 uint8: Uint8Array, int8: Int8Array };

// inputs: {name: {data: array of numbers, dims: [..], dtype?: "float32"}} -> {name: {data: [..], dims: [..]}}
export async function runModel(session, inputs) {
  const feeds = {};
  for (const [name, { data, dims, dtype = "float32" }] of Object.entries(inputs)) {
    const Kind = ARRAYS[dtype];
    const values = dtype === "int64" ? Array.from(data, (v) => BigInt(v)) : data;
    feeds[name] = new ort.Tensor(dtype, Kind.from(values), dims);
  }
  const results = await session.run(feeds);
  const out = {};
  for (const [name, tensor] of Object.entries(results)) {
    out[name] = { data: Array.from(tensor.data, Number), dims: Array.from(tensor.dims) };
  }
  return out;
}

// A drawing pad: white strokes on black, like MNIST. `onStroke` runs when a stroke ends.
export function drawingPad(canvas, onStroke) {
  const ctx = canvas.getContext("2d");
  const clear = () => { ctx.fillStyle = "black"; ctx.fillRect(0, 0, canvas.width, canvas.height); };
  clear();
  let drawing = false;
  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height];
  };
  canvas.addEventListener("pointerdown", (e) => {
    drawing = true;
    const [x, y] = at(e);
    ctx.strokeStyle = "white"; ctx.lineWidth = canvas.width / 14; ctx.lineCap = "round"; ctx.lineJoin = "round";
    ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x + 0.1, y); ctx.stroke();
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    const [x, y] = at(e);
    ctx.lineTo(x, y); ctx.stroke();
  });
  const end = () => { if (drawing) { drawing = false; onStroke(); } };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointerleave", end);
  return { clear };
}

// The drawing as MNIST sees digits: the ink's bounding box scaled into 20x20, centred in 28x28, values in
// [0, 1], then (v - mean) / std. Returns a Float32Array of size*size values (row-major).
export function digitPixels(canvas, normalize = null, size = 28) {
  const src = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  let x0 = canvas.width, y0 = canvas.height, x1 = -1, y1 = -1;
  for (let y = 0; y < canvas.height; y++) {
    for (let x = 0; x < canvas.width; x++) {
      if (src.data[(y * canvas.width + x) * 4] > 20) {
        x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
      }
    }
  }
  const small = document.createElement("canvas");
  small.width = small.height = size;
  const sctx = small.getContext("2d");
  sctx.fillStyle = "black"; sctx.fillRect(0, 0, size, size);
  if (x1 >= 0) {
    const w = x1 - x0 + 1, h = y1 - y0 + 1, box = size * 20 / 28, scale = box / Math.max(w, h);
    sctx.imageSmoothingEnabled = true; sctx.imageSmoothingQuality = "high";
    sctx.drawImage(canvas, x0, y0, w, h, (size - w * scale) / 2, (size - h * scale) / 2, w * scale, h * scale);
  }
  const pixels = sctx.getImageData(0, 0, size, size).data;
  const [mean, std] = normalize || [0, 1];
  const out = new Float32Array(size * size);
  for (let i = 0; i < size * size; i++) out[i] = (pixels[i * 4] / 255 - mean) / std;
  return out;
}

// If an input spec looks like one grayscale image, the dims of a batch of one such image; else null.
export function imageDims(spec) {
  const d = spec.shape.slice(1);
  const is = (a) => a.length === d.length && a.every((v, i) => v === d[i]);
  for (const s of [28]) {
    if (is([1, s, s]) || is([s, s, 1]) || is([s, s]) || is([s * s])) return [1, ...d];
  }
  return null;
}

// A flat array as nested lists of `dims` (for TF Serving's JSON).
export function nest(flat, dims) {
  if (dims.length === 0) return flat[0];
  const step = flat.length / dims[0];
  return Array.from({ length: dims[0] }, (_, i) => nest(flat.slice(i * step, (i + 1) * step), dims.slice(1)));
}

export function softmax(xs) {
  const m = Math.max(...xs), e = xs.map((v) => Math.exp(v - m)), s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

export function argmax(xs) { return xs.indexOf(Math.max(...xs)); }

// Bars of class probabilities into `element`, with the winning class highlighted.
export function showScores(element, logits) {
  const probs = softmax(logits), best = argmax(logits);
  element.innerHTML = probs.map((p, i) =>
    `<div class="bar${i === best ? " best" : ""}"><span>${i}</span><i style="width:${(p * 100).toFixed(1)}%"></i>` +
    `<em>${(p * 100).toFixed(1)}%</em></div>`).join("");
}
