"""int8 quantisation of the MNIST CNN: file size, accuracy and batch-1 latency, float32 vs int8.

The CNN is trained briefly on real MNIST (the 10,000-image test split: 8,000 images to train, 2,000 held out to
measure), exported as float ONNX and as static int8 ONNX (``ember.quantization.quantize``, calibrated on 10
training batches), and run in onnxruntime; the float TFLite file runs in LiteRT for the latency row.

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
    return latency_ms(lambda: sess.run(None, {"input": x1}))


def litert_latency(data, x1):
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=data, num_threads=1)
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0]["index"], interp.get_output_details()[0]["index"]

    def run():
        interp.set_tensor(inp, x1)
        interp.invoke()
        return interp.get_tensor(out)

    return latency_ms(run)


def main(argv=None):
    import ember

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
        f32, i8 = float_and_int8(model, xt, folder)
        x1 = xv[:1]
        rows = [("float32 ONNX", f32), ("int8 ONNX (static, QDQ)", i8)]
        print(f"{'model':28s} {'size KB':>9s} {'accuracy':>9s} {'ORT b=1 ms':>11s}")
        for name, p in rows:
            print(f"{name:28s} {os.path.getsize(p) / 1024:9.1f} {100 * onnx_accuracy(p, xv, yv):8.2f}% "
                  f"{ort_latency(p, x1):11.3f}")
        print(f"size ratio float/int8: {os.path.getsize(f32) / os.path.getsize(i8):.2f}x")
        try:
            data = ember.export.tflite(model, (ember.tensor(x1),))
            print(f"float32 TFLite: {len(data) / 1024:.1f} KB, LiteRT b=1 {litert_latency(data, x1):.3f} ms "
                  "(int8 TFLite not written yet)")
        except ImportError:
            print("LiteRT not installed: TFLite row skipped")
    print("(one thread each; medians of 200 runs; the machine is shared, so latencies are noisy)")


if __name__ == "__main__":
    main()
