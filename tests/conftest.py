import os
import sys
from pathlib import Path

from hypothesis import settings

sys.path.insert(0, str(Path(__file__).parent))

# The suite is deterministic: hypothesis derives its examples from each test's name, so CI
# never fails on an example no earlier run saw. HYPOTHESIS_PROFILE=explore draws fresh random
# examples (1,000 where a test sets no count) to hunt for new failures by hand.
settings.register_profile("deterministic", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False, max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))
