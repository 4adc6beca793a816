"""The op table's pieces: input specs, the Row record, and the rows themselves (one module per family)."""
