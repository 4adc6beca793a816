"""``keras.preprocessing``: Keras 3's legacy-named entry points for image and sequence utilities and the
dataset builders (the same functions as ``keras.utils``).

>>> from ember import keras
>>> keras.preprocessing.sequence.pad_sequences([[1, 2], [3]], maxlen=3).tolist()
[[0, 1, 2], [0, 0, 3]]
"""
from ..utils import image_dataset_from_directory, text_dataset_from_directory, timeseries_dataset_from_array
from . import image, sequence

__all__ = ["image", "sequence", "image_dataset_from_directory", "text_dataset_from_directory",
           "timeseries_dataset_from_array"]
