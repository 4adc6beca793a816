"""int8 quantisation of the MNIST CNN: file size, accuracy and latency (batch 1 and 64), float32 vs int8.

The CNN is trained briefly on real MNIST (the 10,000-image test split: 8,000 images to train, 2,000 held out to
measure), exported as float ONNX / TFLite and as static int8 ONNX (QDQ) / TFLite (full-integer) with
``ember.quantization.quantize`` (calibrated on 10 training batches), and run in onnxruntime and in LiteRT (one
thread each).

    python -m bench.bench_quantize [--data DIR] [--epochs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = [os.environ.get("EMBER_MNIST", ""), "/work/shared/data/mnist",
                os.path.join(HERE, "..", "..", "shared", "data", "mnist"), os.path.join(HERE, "..", "examples", "data",
                                                                                        "mnist")]


def find_mnist(candidates=DEFAULT_DATA):
    for d in candidates:
        if d and os.path.exists(os.path.join(d, "t10k-images-idx3-ubyte.gz")):
            return d
    return None


def load_mnist(root):
    from ember.vision.datasets import read_idx

    x = read_idx(os.path.join(root, "t10k-images-idx3-ubyte.gz")).astype(np.float32) / 255.0
    y = read_idx(os.path.join(root, "t10k-labels-idx1-ubyte.gz")).astype(np.int64)
    x = ((x - 0.1307) / 0.3081)[:, None]
    return (x[:8000], y[:8000]), (x[8000:], y[8000:])


def mnist_cnn():
    from ember import nn

    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(),
                         nn.Linear(128, 10))


def train(x, y, epochs=1, batch=64, seed=0):
    import ember
    from ember import nn

    ember.manual_seed(seed)
    model = mnist_cnn()
    opt = ember.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for i in range(0, len(x) - batch + 1, batch):
            idx = order[i:i + batch]
            opt.zero_grad()
            loss = loss_fn(model(ember.tensor(x[idx])), ember.tensor(y[idx]))
            loss.backward()
            opt.step()
    return model.eval()


def onnx_accuracy(path, x, y):
    import onnxruntime

    sess = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    logits = np.concatenate([sess.run(None, {"input": x[i:i + 500]})[0] for i in range(0, len(x), 500)])
    return float((logits.argmax(1) == y).mean())


def float_and_int8(model, x_train, folder):
    """Write the float and the static int8 ONNX files; returns their paths."""
    import ember

    f32, i8 = os.path.join(folder, "cnn.onnx"), os.path.join(folder, "cnn.int8.onnx")
    ember.onnx.export(model, (ember.tensor(x_train[:2]),), f32, input_names=["input"],
                      dynamic_axes={"input": {0: "batch"}})
    ember.quantization.quantize(model, [x_train[i:i + 64] for i in range(0, 640, 64)], i8)
    return f32, i8


def tflite_float_and_int8(model, x_train, folder):
    """Write the float and the static int8 TFLite files; returns their paths."""
    import ember

    f32, i8 = os.path.join(folder, "cnn.tflite"), os.path.join(folder, "cnn.int8.tflite")
    ember.export.tflite(model, (ember.tensor(x_train[:2]),), f32, dynamic_batch=True)
    ember.quantization.quantize(model, [x_train[i:i + 64] for i in range(0, 640, 64)], i8, format="tflite")
    return f32, i8


def _litert(path, batch):
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=path, num_threads=1)
    inp = interp.get_input_details()[0]["index"]
    interp.resize_tensor_input(inp, [batch, 1, 28, 28])
    interp.allocate_tensors()
    return interp, inp, interp.get_output_details()[0]["index"]


def litert_accuracy(path, x, y, batch=500):
    interp, inp, out = _litert(path, batch)
    logits = []
    for i in range(0, len(x) - batch + 1, batch):
        interp.set_tensor(inp, x[i:i + batch])
        interp.invoke()
        logits.append(interp.get_tensor(out).copy())
    return float((np.concatenate(logits).argmax(1) == y[:len(logits) * batch]).mean())


def latency_ms(run, repeats=200):
    for _ in range(20):
        run()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def ort_latency(path, x1):
    import onnxruntime

    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = onnxruntime.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    return latency_ms(lambda: sess.run(None, {"input": x1}), repeats=200 if len(x1) == 1 else 40)


def litert_latency(path, x):
    interp, inp, out = _litert(path, len(x))

    def run():
        interp.set_tensor(inp, x)
        interp.invoke()
        return interp.get_tensor(out)

    return latency_ms(run, repeats=200 if len(x) == 1 else 40)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--epochs", type=int, default=1)
    args = ap.parse_args(argv)
    root = args.data or find_mnist()
    if root is None:
        print("MNIST not found (set EMBER_MNIST or pass --data): nothing measured")
        return
    (xt, yt), (xv, yv) = load_mnist(root)
    t = time.perf_counter()
    model = train(xt, yt, args.epochs)
    print(f"trained the MNIST CNN for {args.epochs} epoch(s) on 8,000 images in {time.perf_counter() - t:.0f} s")
    with tempfile.TemporaryDirectory() as folder:
        rows = [("float32 ONNX", "ort"), ("int8 ONNX (static, QDQ)", "ort")]
        rows = list(zip(rows, float_and_int8(model, xt, folder)))
        try:
            rows += list(zip([("float32 TFLite", "litert"), ("int8 TFLite (full-integer)", "litert")],
                             tflite_float_and_int8(model, xt, folder)))
        except ImportError:
            print("LiteRT not installed: TFLite rows skipped")
        print(f"{'model':28s} {'size KB':>9s} {'accuracy':>9s} {'b=1 ms':>8s} {'b=64 ms':>8s}")
        for (name, runtime), p in rows:
            acc = onnx_accuracy(p, xv, yv) if runtime == "ort" else litert_accuracy(p, xv, yv)
            lat = ort_latency if runtime == "ort" else litert_latency
            print(f"{name:28s} {os.path.getsize(p) / 1024:9.1f} {100 * acc:8.2f}% {lat(p, xv[:1]):8.3f} "
                  f"{lat(p, xv[:64]):8.3f}")
        for k in range(0, len(rows), 2):
            ratio = os.path.getsize(rows[k][1]) / os.path.getsize(rows[k + 1][1])
            print(f"size ratio {rows[k][0][0]} / int8: {ratio:.2f}x")
    print("(one thread each; medians of 200 runs at batch 1, 40 at batch 64; the machine is shared, so latencies "
          "are noisy)")


if __name__ == "__main__":
    main()
