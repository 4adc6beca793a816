"""Test-suite settings: compiled graphs are verified after every optimisation pass (users get one final check),
so a pass that breaks a graph fails the test that compiles it, naming the pass's damage."""
import os

os.environ.setdefault("EMBER_VERIFY_PASSES", "1")
