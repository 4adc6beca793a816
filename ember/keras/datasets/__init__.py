"""``keras.datasets``: mnist and fashion_mnist ``load_data()``, via Ember's shared downloader."""

from . import fashion_mnist, mnist  # noqa: F401
