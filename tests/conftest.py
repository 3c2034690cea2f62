"""Suite-wide settings."""

import os

from hypothesis import settings

# CI must not fail on an example nobody can reproduce: there the fuzzers replay a fixed (still large)
# pseudo-random set. Locally they explore anew on every run, which is how they find new bugs.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
