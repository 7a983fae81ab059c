"""Test-wide settings: offline, CPU, quiet."""
import os

import pytest

# Nothing may touch the network: open_clip / huggingface_hub fail fast instead of retrying.
os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('HF_DATASETS_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')

# The suite allocates many tensors of varying size; keep freed memory in the process (see
# sair_toolbox.utils.setup_env.tune_cpu_allocator), as the tools do.
from sair_toolbox.utils.setup_env import tune_cpu_allocator  # noqa: E402
from tests.web_demo_server import MAX_QUEUE, MAX_SIDE, running_demo  # noqa: E402

tune_cpu_allocator()


# One running web demo shared by the API tests (tests/test_apis) and the load test
# (tests/test_experiments/test_web_demo_load.py): one server start for both.

@pytest.fixture(scope='session')
def web_demo(tmp_path_factory):
    """``(url, server process)`` of ``tools/web_demo.py --max-queue 4 --max-side 64
    --max-pixels 65536``: small limits, so that modest uploads exceed them."""
    pytest.importorskip('gradio_client')
    with running_demo(tmp_path_factory.mktemp('web_demo_api'), '--max-queue', str(MAX_QUEUE),
                      '--max-side', str(MAX_SIDE), '--max-pixels',
                      str((4 * MAX_SIDE) ** 2)) as server:
        yield server
