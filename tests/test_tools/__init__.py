"""Tests of the command-line tools under ``tools/``."""
import importlib.util
import os.path as osp
from types import ModuleType

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool(name: str) -> ModuleType:
    """``tools/<name>.py`` imported as a fresh module (the tools are scripts, not a package), so
    a test can call its ``main(argv)`` in-process."""
    spec = importlib.util.spec_from_file_location(f'tool_{name}',
                                                  osp.join(ROOT, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
