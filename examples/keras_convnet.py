"""A Keras convnet on MNIST in the style of keras.io's "Simple MNIST convnet", trained with callbacks:
EarlyStopping (restoring the best weights), ModelCheckpoint (the best model as a ``.keras`` file),
ReduceLROnPlateau, CSVLogger and a LambdaCallback; the saved model is reloaded and evaluated again.

    python examples/keras_convnet.py --epochs 4

Data: ``--data DIR`` (a folder with MNIST's IDX files; the full training split when present), else the
10,000-image test split shipped in examples/data/mnist (8,000 images train, 2,000 test).
Writes into ``--out`` (default ``keras_convnet_out``): ``best.keras`` and ``training_log.csv``.
"""
from __future__ import annotations

import argparse
import os

import numpy as np

from ember import keras
from ember.keras import layers
from ember.vision import datasets

SHIPPED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "mnist")


def load_mnist(root):
    """(x_train, y_train), (x_test, y_test) as float32 images in [0, 1] with a channel axis, and int labels."""
    def arrays(split):
        ds = datasets.MNIST(root, train=split)
        return (ds.data.numpy().astype("float32") / 255.0)[..., None], ds.targets.numpy()

    try:
        return arrays(True), arrays(False)
    except RuntimeError:  # only the test split: 8,000 / 2,000
        x, y = arrays(False)
        return (x[:8000], y[:8000]), (x[8000:], y[8000:])


def build_model():
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ])


def main():
    parser = argparse.ArgumentParser(description="Keras MNIST convnet with callbacks on Ember")
    parser.add_argument("--data", default=SHIPPED, help="folder with MNIST's IDX files")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--max-samples", type=int, default=None, help="train on the first N images only")
    parser.add_argument("--out", default="keras_convnet_out")
    args = parser.parse_args()

    keras.utils.set_random_seed(1)
    (x_train, y_train), (x_test, y_test) = load_mnist(args.data)
    if args.max_samples:
        x_train, y_train = x_train[:args.max_samples], y_train[:args.max_samples]
    print(f"train {x_train.shape}, test {x_test.shape}")

    model = build_model()
    model.summary()
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    os.makedirs(args.out, exist_ok=True)
    best = os.path.join(args.out, "best.keras")
    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True),
        keras.callbacks.ModelCheckpoint(best, monitor="val_loss", save_best_only=True),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1),
        keras.callbacks.CSVLogger(os.path.join(args.out, "training_log.csv")),
        keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: print(f"epoch {epoch + 1}: val_accuracy {logs['val_accuracy']:.4f}")),
    ]
    model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, validation_split=0.1,
              callbacks=callbacks, verbose=2)

    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"Test loss: {loss:.4f}  Test accuracy: {accuracy:.4f}")
    reloaded = keras.models.load_model(best)
    loss2, accuracy2 = reloaded.evaluate(x_test, y_test, verbose=0)
    print(f"Reloaded {best}: test loss {loss2:.4f}  test accuracy {accuracy2:.4f}")
    probs = reloaded.predict(x_test[:5], verbose=0)
    print("first predictions", np.argmax(probs, axis=1).tolist(), "labels", y_test[:5].tolist())


if __name__ == "__main__":
    main()
