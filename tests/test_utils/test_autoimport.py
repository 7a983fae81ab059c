"""A component written in a new file of a component folder registers itself: no other edit."""
import sys
import textwrap

import pytest
import torch

from sair_toolbox.registry import SEMANTIC_ENCODERS
from sair_toolbox.utils.autoimport import import_submodules


def test_new_file_in_a_component_package_is_registered(tmp_path, monkeypatch):
    pkg = tmp_path / 'my_encoders'
    pkg.mkdir()
    # The same two lines as sair_toolbox/models/semantic_encoders/__init__.py.
    (pkg / '__init__.py').write_text(
        'from sair_toolbox.utils.autoimport import import_submodules\n'
        'import_submodules(__name__, __path__)\n')
    (pkg / 'avg_encoder.py').write_text(textwrap.dedent('''
        import torch.nn.functional as F
        from sair_toolbox.models.semantic_encoders.base import BaseSemanticEncoder
        from sair_toolbox.registry import SEMANTIC_ENCODERS

        @SEMANTIC_ENCODERS.register_module(force=True)
        class AvgPoolEncoderForTest(BaseSemanticEncoder):
            out_channels, patch_size = 3, 4

            def __init__(self):
                super().__init__()
                self.freeze()

            def encode(self, img):
                return F.avg_pool2d(img, 4)
    '''))
    (pkg / '_private.py').write_text('raise RuntimeError("private modules are not imported")\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        import my_encoders  # noqa: F401
        enc = SEMANTIC_ENCODERS.build(dict(type='AvgPoolEncoderForTest'))
        assert enc(torch.rand(1, 3, 8, 12)).shape == (1, 3, 2, 3)
        # And it plugs into SAIR from a config without naming channel counts.
        from sair_toolbox.registry import MODELS
        model = MODELS.build(dict(
            type='SAIR', sir=dict(encoder=dict(type='AvgPoolEncoderForTest'),
                                  head=dict(type='LIIFHead', hidden_channels=(8, ))),
            air_head=dict(type='LIIFHead', hidden_channels=(8, ))))
        assert model.sir.head.in_channels == 4 and model.air_head.in_channels == 3
    finally:
        SEMANTIC_ENCODERS._module_dict.pop('AvgPoolEncoderForTest', None)
        for name in [m for m in sys.modules if m.startswith('my_encoders')]:
            del sys.modules[name]


def test_import_submodules_skips_private_modules(tmp_path, monkeypatch):
    pkg = tmp_path / 'pkg_private'
    pkg.mkdir()
    (pkg / '__init__.py').write_text('')
    (pkg / '_hidden.py').write_text('raise RuntimeError("imported")\n')
    (pkg / 'visible.py').write_text('VALUE = 1\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    import pkg_private
    import_submodules(pkg_private.__name__, pkg_private.__path__)
    assert sys.modules['pkg_private.visible'].VALUE == 1
    assert 'pkg_private._hidden' not in sys.modules
    with pytest.raises(RuntimeError):
        import pkg_private._hidden  # noqa: F401
