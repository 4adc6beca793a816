"""The differential test's pieces: the harness (run eagerly and compiled, compare) and its row tables."""
