"""The layers point down only: setup.cfg's import-linter contract is kept, and it bites.

From the ground up: ``utils`` / ``structures`` / ``registry`` -> ``datasets`` -> ``models`` ->
``evaluation`` -> ``visualization`` -> ``engine`` -> ``apis`` -> ``experiments`` (-> ``tools``,
outside the package). A module may import from its own layer and the layers below, never from
above; imports inside functions count too. Run by hand with ``lint-imports``.
"""
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest

pytest.importorskip('importlinter')

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
#: ``lint-imports`` of the installed import-linter, without relying on the script being on PATH.
LINT = ('import sys; from importlinter.cli import lint_imports_command; '
        'sys.exit(lint_imports_command())')


def lint(root: str):
    """Run the contract of ``root/setup.cfg`` on the ``sair_toolbox`` found first in ``root``."""
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get('PYTHONPATH', ''))
    return subprocess.run([sys.executable, '-c', LINT, '--config', osp.join(root, 'setup.cfg'),
                           '--no-cache'], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120)


def test_the_layer_contract_is_kept():
    proc = lint(ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert '1 kept, 0 broken' in proc.stdout


def test_an_upward_import_is_caught(tmp_path):
    """A lazy import of the user API inside a model module breaks the contract, by name."""
    shutil.copytree(osp.join(ROOT, 'sair_toolbox'), tmp_path / 'sair_toolbox',
                    ignore=shutil.ignore_patterns('__pycache__'))
    shutil.copy(osp.join(ROOT, 'setup.cfg'), tmp_path / 'setup.cfg')
    with open(tmp_path / 'sair_toolbox' / 'models' / 'sir.py', 'a', encoding='utf-8') as f:
        f.write('\n\ndef _upward():\n    from sair_toolbox.apis import inferencer  # noqa\n'
                '    return inferencer\n')
    proc = lint(str(tmp_path))
    out = ' '.join(proc.stdout.split())  # the report wraps long lines
    assert proc.returncode != 0, out
    assert '0 kept, 1 broken' in out
    assert 'sair_toolbox.models is not allowed to import sair_toolbox.apis' in out
    assert 'sair_toolbox.models.sir -> sair_toolbox.apis.inferencer' in out
