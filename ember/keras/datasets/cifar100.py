"""CIFAR-100: ``keras.datasets.cifar100.load_data(label_mode="fine" | "coarse")``; uint8 images
(N, 32, 32, 3) and uint8 labels (N, 1), from Keras's ``cifar-100-python.tar.gz`` (sha256-checked) in
``~/.keras/datasets/cifar-100-python-target``, read without unpickling."""

from ._cifar import fetch, join, load_batch, to_keras_layout

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
SHA256 = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"
DIRNAME = "cifar-100-python-target"


def load_data(label_mode="fine"):
    if label_mode not in ("fine", "coarse"):
        raise ValueError(f'cifar100.load_data: label_mode must be "fine" or "coarse", got {label_mode!r}')
    folder = join(fetch(DIRNAME, ORIGIN, SHA256), "cifar-100-python")
    x_train, y_train = load_batch(join(folder, "train"), label_key=f"{label_mode}_labels")
    x_test, y_test = load_batch(join(folder, "test"), label_key=f"{label_mode}_labels")
    return to_keras_layout(x_train, y_train, x_test, y_test)
