"""tools/make_demo_data.py --clip: pretrains the config's demo CLIP into its cache (in-process)."""

import pytest

from tests.test_models.test_weights_providers.test_demo_clip_weights import RECIPE, TINY
from tests.test_tools import load_tool


def _config(tmp_path, pretrained):
    encoder = dict(type='MaskCLIPEncoder', pretrained=pretrained, model_cfg=TINY)
    path = tmp_path / 'cfg.py'
    path.write_text(f'model = {dict(type="SAIR", sir=dict(encoder=encoder))!r}\n')
    return str(path)


def test_clip_step_builds_the_cache(tmp_path, capsys):
    cache = tmp_path / 'demo_clip'
    cfg = _config(tmp_path, dict(type='DemoCLIPWeights', cache_dir=str(cache), **RECIPE))
    args = ['--out', str(tmp_path / 'd'), '--size', '32', '--num-train', '2', '--num-val', '1',
            '--clip', '--config', cfg]
    assert load_tool('make_demo_data').main(args) == 0
    out = capsys.readouterr().out
    assert f'{cache}/open_clip_model.safetensors' in out
    assert (cache / 'meta.json').is_file()


def test_clip_step_without_weights_is_one_line(tmp_path, capsys):
    args = ['--out', str(tmp_path / 'd'), '--size', '32', '--num-train', '2', '--num-val', '1',
            '--clip', '--config', _config(tmp_path, None)]
    with pytest.raises(SystemExit) as exit_info:
        load_tool('make_demo_data').main(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'pretrained=None' in err[0]
