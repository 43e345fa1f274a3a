import os

# Tests never reach a model hub: a missing model must fail fast with a clear error.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

import textgym  # noqa: E402,F401  (registers the environments)

# Small models and tensors: one thread avoids oversubscribing a 2-core machine (pytest-xdist-free).
torch.set_num_threads(1)
