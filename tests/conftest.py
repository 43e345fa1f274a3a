import os

# Tests never reach a model hub: a missing model must fail fast with a clear error.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

import textgym  # noqa: E402,F401  (registers the environments)

# Small models and tensors: one thread avoids oversubscribing a 2-core machine (pytest-xdist-free).
torch.set_num_threads(1)

#: the hypothesis profile of CI runs (the CI environment variable set, as .ci/run sets it): every run draws the same
#: examples (derandomize; no example database to replay from), and neither a slow machine's timing (deadline, the
#: too_slow health check) nor a previous run can fail a test. Loaded here, before any test module builds its own
#: ``@settings(...)``: those take what they leave unset from this profile. Local runs keep hypothesis' own choice
#: (random examples, saved to .hypothesis/): they explore.
CI_PROFILE = "textgym-ci"
settings.register_profile(
    CI_PROFILE, derandomize=True, database=None, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
if "CI" in os.environ:
    settings.load_profile(CI_PROFILE)
