"""Test-wide settings: offline, CPU, quiet."""
import os

# Nothing may touch the network: open_clip / huggingface_hub fail fast instead of retrying.
os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('HF_DATASETS_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')

# The suite allocates many tensors of varying size; keep freed memory in the process (see
# sair_toolbox.utils.setup_env.tune_cpu_allocator), as the tools do.
from sair_toolbox.utils.setup_env import tune_cpu_allocator  # noqa: E402

tune_cpu_allocator()
