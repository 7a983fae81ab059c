"""The API reference lists every registry that holds a sair-toolbox component (the pages build
one autodoc entry per registered class with ``docs/conf.py``'s ``sair-registry`` directive)."""
import ast
import glob
import os.path as osp
import re

from sair_toolbox import registry
from sair_toolbox.engine.setup import register_all_modules
from tests.test_docs.commands import ROOT


def _conf_registries():
    tree = ast.parse(open(osp.join(ROOT, 'docs', 'conf.py'), encoding='utf-8').read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], 'id', None) == 'REGISTRIES':
            return set(ast.literal_eval(node.value))
    raise AssertionError('docs/conf.py has no REGISTRIES')


def test_every_populated_registry_has_an_api_page():
    register_all_modules(init_default_scope=False)
    # Components of the package itself: tests register stand-ins of their own (a fake
    # visualisation backend), which are no part of the API reference.
    populated = {name for name, value in vars(registry).items()
                 if isinstance(value, registry.Registry) and not name.startswith('MMENGINE_')
                 and any(getattr(cls, '__module__', '').startswith('sair_toolbox')
                         for cls in value.module_dict.values())}
    listed = _conf_registries()
    assert populated <= listed, f'not in docs/conf.py REGISTRIES: {sorted(populated - listed)}'
    pages = ''.join(open(p, encoding='utf-8').read()
                    for p in glob.glob(osp.join(ROOT, 'docs', 'api', '*.md')))
    on_pages = set(re.findall(r'```\{sair-registry\} (\w+)', pages))
    assert listed <= on_pages, f'no API page shows {sorted(listed - on_pages)}'
    assert set(registry.__dict__) >= on_pages


def test_user_api_page():
    page = open(osp.join(ROOT, 'docs', 'api', 'apis.md'), encoding='utf-8').read()
    assert '.. automodule:: sair_toolbox.apis' in page
