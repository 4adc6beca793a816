"""``keras.datasets``: mnist, fashion_mnist, cifar10, cifar100, imdb, reuters, boston_housing and california_housing
``load_data()``. The Keras-hosted ones use Keras's URLs, cache layout (``~/.keras/datasets``) and checksums
through ``keras.utils.get_file``; pickled files are read by a code-free pickle *data* reader."""

from . import boston_housing, california_housing, cifar10, cifar100, fashion_mnist, imdb, mnist, reuters  # noqa: F401
