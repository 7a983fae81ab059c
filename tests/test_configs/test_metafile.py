"""configs/sair/metafile.yml (OpenMMLab model-index) agrees with the configs on disk, both ways,
every config it names loads, and every measured number it gives is the one in the results file
or report it cites."""
import glob
import json
import os.path as osp
import re

import pytest
import yaml
from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
METAFILE = osp.join(ROOT, 'configs', 'sair', 'metafile.yml')
NOT_TRAINED = {'Measured': 'not trained here'}


def _load():
    with open(METAFILE, encoding='utf-8') as f:
        return yaml.safe_load(f)


META = _load()
MODELS = META['Models']


def _configs_on_disk():
    pattern = [osp.join(ROOT, 'configs', 'sair', '*.py'),
               osp.join(ROOT, 'configs', 'sair', 'ablations', '*.py')]
    return sorted(osp.relpath(p, ROOT) for pat in pattern for p in glob.glob(pat))


def _fmt(stat, key):
    """A mean ± std cell as ``tables.md`` writes it (the minus sign is U+2212)."""
    digits = 4 if key.endswith(('L1', 'KID')) else 3 if key.endswith(('SSIM', 'IDS')) else 2
    return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}".replace('-', '−')


def test_collection():
    (collection,) = META['Collections']
    assert collection['Name'] == 'SAIR'
    assert osp.isfile(osp.join(ROOT, collection['README']))
    assert collection['Paper']['Title']


def test_metafile_and_configs_agree_both_ways():
    named = [m['Config'] for m in MODELS]
    assert len(named) == len(set(named)), 'a config is listed twice'
    on_disk = _configs_on_disk()
    assert sorted(named) == on_disk, (
        f'missing from the metafile: {sorted(set(on_disk) - set(named))}; '
        f'named but not on disk: {sorted(set(named) - set(on_disk))}')
    for model in MODELS:
        assert model['Name'] == osp.splitext(osp.basename(model['Config']))[0]
        assert model['In Collection'] == 'SAIR'


@pytest.mark.parametrize('model', MODELS, ids=[m['Name'] for m in MODELS])
def test_model_entry(model):
    cfg = Config.fromfile(osp.join(ROOT, model['Config']))
    meta = model['Metadata']
    assert meta['Paper Table'] and meta['Changes'] and meta['Train']
    assert model['Config'] in meta['Train']
    assert meta['Iterations'] == cfg.train_cfg.max_iters
    if meta['Test'] is None:
        assert meta['Note'], 'a config without a test command says why'
    else:
        assert meta['Test'].startswith(f"python tools/test.py {model['Config']} ")
        assert meta['Test'].split()[3].endswith(f"/iter_{cfg.train_cfg.max_iters}.pth")
    assert model['Results']
    demo = meta['Training Data'] == 'Demo scenes'
    for result in model['Results']:
        assert result['Task'] == 'Image Inpainting'
        assert result['Dataset'] and result['Metrics']
        if not demo:
            assert result['Metrics'] == NOT_TRAINED
            assert result['Dataset'] == meta['Training Data']
            continue
        if 'Source' in result:  # mean ± std over seeds from a results.json
            source = json.load(open(osp.join(ROOT, result['Source']['File']), encoding='utf-8'))
            row = result['Source']['Row']
            assert source['results'][row]['config'] == model['Config']
            for key, value in result['Metrics'].items():
                assert value == _fmt(source['summary'][row][key], key), (row, key)
            assert f"{source['num_val']} val images, {source['iters']} iterations" in \
                result['Dataset']
        elif 'Report' in result:  # one run: the numbers are those of the report that gives them
            report = open(osp.join(ROOT, result['Report']), encoding='utf-8').read()
            for key, value in result['Metrics'].items():
                assert re.search(rf'(?<![\d.]){re.escape(value)}(?![\d])', report), (key, value)
        else:
            assert set(result['Metrics']) == {'Measured'}
        if 'Report' in result:
            assert osp.isfile(osp.join(ROOT, result['Report']))


def test_readme_names_every_config():
    readme = open(osp.join(ROOT, 'configs', 'sair', 'README.md'), encoding='utf-8').read()
    for model in MODELS:
        short = model['Config'].replace('configs/sair/', '')
        assert f'`{short}`' in readme, short
        assert model['Metadata']['Train'] in readme, model['Metadata']['Train']
