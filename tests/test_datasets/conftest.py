"""Shared fixtures of the data tests: a small generated demo data set."""
import pytest

from sair_toolbox.datasets.demo_scenes import ensure_demo_data

#: Small demo data: fast to generate, enough for sampling tests.
SMALL_DEMO = dict(image_size=32, num_train=24, num_val=6, seed=0)


@pytest.fixture(scope='session')
def demo_args():
    """Generation arguments of ``demo_root`` (pass them to DemoDataset too)."""
    return dict(SMALL_DEMO)


@pytest.fixture(scope='session')
def demo_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('demo') / 'demo'
    ensure_demo_data(str(root), **SMALL_DEMO)
    return str(root)
