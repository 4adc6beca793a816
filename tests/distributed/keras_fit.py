"""Run under 2 ranks: keras DataParallel fit == one process fit with the same batch size."""
import numpy as np

from ember import keras


def train(parallel):
    keras.utils.set_random_seed(0)
    keras.distribution.set_distribution(keras.distribution.DataParallel() if parallel else None)
    model = keras.Sequential([keras.layers.Input((6,)), keras.layers.Dense(16, activation="tanh"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((96, 6)).astype("float32"), rng.integers(0, 3, 96)
    model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    return [w.numpy() for w in model.weights]


def run():
    par = train(True)
    keras.distribution.set_distribution(None)
    ref = train(False)
    worst = max(float(np.abs(a - b).max()) for a, b in zip(par, ref))
    rank = keras.distribution.DataParallel().rank
    print(f"rank {rank} keras_data_parallel {'OK' if worst < 1e-5 else 'FAIL'} max_abs_diff={worst:.2e}",
          flush=True)


if __name__ == "__main__":
    run()
