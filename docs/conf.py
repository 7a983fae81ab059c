"""Sphinx configuration of the sair-toolbox documentation (Markdown pages through MyST).

Build: ``python -m sphinx -W --keep-going -b html docs docs/_build/html`` (``.ci/run`` does it,
warnings are errors). The API pages document the real package: nothing is mocked.
"""
import os
import sys

from docutils import nodes
from docutils.parsers.rst import Directive
from docutils.statemachine import StringList

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

project = 'sair-toolbox'
author = 'sair-toolbox contributors'
copyright = '2026, sair-toolbox contributors'

extensions = ['myst_parser', 'sphinx.ext.autodoc', 'sphinx.ext.napoleon', 'sphinx.ext.viewcode']
source_suffix = {'.md': 'markdown'}
root_doc = 'index'
exclude_patterns = ['_build']
myst_heading_anchors = 3
myst_enable_extensions = ['colon_fence']

html_theme = 'furo'
html_title = 'sair-toolbox'

autodoc_member_order = 'bysource'
autodoc_typehints = 'description'
autodoc_default_options = {'members': True, 'show-inheritance': True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False

# The registries whose components the API pages list (``sair_toolbox/registry.py``).
REGISTRIES = ('MODELS', 'SEMANTIC_ENCODERS', 'APPEARANCE_ENCODERS', 'IMPLICIT_HEADS',
              'SEMANTIC_FUSIONS', 'LOSSES', 'DISCRIMINATORS', 'WEIGHTS_PROVIDERS', 'DATASETS',
              'TRANSFORMS', 'DATA_SAMPLERS', 'METRICS', 'HOOKS', 'LOOPS', 'OPTIM_WRAPPERS',
              'OPTIM_WRAPPER_CONSTRUCTORS', 'VISUALIZERS')


def registered(name):
    """``[(registered name, 'module.Class')]`` of one registry, every module imported first."""
    from sair_toolbox import registry
    from sair_toolbox.engine.setup import register_all_modules
    register_all_modules(init_default_scope=False)
    reg = getattr(registry, name)
    return [(key, f'{cls.__module__}.{cls.__qualname__}')
            for key, cls in sorted(reg.module_dict.items())]


class RegistryDirective(Directive):
    """``{sair-registry} NAME``: every component registered in the named registry, one autodoc
    entry each (so a component added with ``register_module()`` appears here without editing
    the docs). The entries are ``autoclass`` directives inside MyST ``eval-rst`` blocks, so that
    autodoc's reStructuredText output is parsed as such."""

    required_arguments = 1

    def run(self):
        name = self.arguments[0]
        if name not in REGISTRIES:
            raise self.error(f'unknown registry {name!r}; one of {REGISTRIES}')
        entries = registered(name)
        if not entries:
            lines = ['Nothing of sair-toolbox is registered here yet.', '']
        else:
            lines = []
            for key, target in entries:
                lines += ['```{eval-rst}', f'.. autoclass:: {target}', '```', '']
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source=f'sair-registry {name}'),
                                self.content_offset, container)
        return container.children


def setup(app):
    app.add_directive('sair-registry', RegistryDirective)
