"""``ember.fx.passes``: analyses over fx graphs (``torch.fx.passes``); ``shape_prop.ShapeProp`` so far."""
from . import shape_prop  # noqa: F401
