"""Export Ember graphs to other formats: ``ember.export.onnx`` (optional ``onnx`` extra)."""
