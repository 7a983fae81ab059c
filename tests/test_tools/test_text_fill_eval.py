"""tools/text_fill_eval.py end to end: a tiny model on a few generated demo images."""
import json

import pytest

from tests.tiny_sair import TINY_CLASSES, save_tiny_sair
from tests.test_tools import load_tool


@pytest.fixture(scope='module')
def tiny_with_val(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('tfe')
    config, ckpt = save_tiny_sair(tmp)
    pipeline = [dict(type='LoadImage'), dict(type='GenerateMask', bins=[(0.2, 0.4)]),
                dict(type='PackInpaintInputs', bins=[(0.2, 0.4)])]
    dataset = dict(type='DemoDataset', data_root=str(tmp / 'demo'), split='val', image_size=32,
                   num_train=1, num_val=3, test_mode=True, pipeline=pipeline)
    loader = dict(batch_size=2, num_workers=0, sampler=dict(type='DefaultSampler',
                                                            shuffle=False), dataset=dataset)
    with open(config, 'a') as f:
        f.write(f'val_dataloader = {loader!r}\n')
    return config, ckpt, tmp


def test_table_and_json(tiny_with_val, capsys):
    config, ckpt, tmp = tiny_with_val
    out = tmp / 'fill.json'
    result = load_tool('text_fill_eval').main([config, ckpt, '--classes', 'Water', 'sky', '--out', str(out),
                           '--device', 'cpu'])
    assert [r['class'] for r in result['targets']] == ['water', 'sky']
    assert result['num_images'] == 3 and result['num_hole_pixels'] > 0
    assert json.loads(out.read_text())['targets'][0]['class'] == 'water'
    text = capsys.readouterr().out
    assert '| water |' in text and '| sky |' in text and '| mean |' in text
    assert set(TINY_CLASSES) >= {r['class'] for r in result['targets']}


def test_unknown_class_is_one_line(tiny_with_val, capsys):
    config, ckpt, _ = tiny_with_val
    with pytest.raises(SystemExit) as exc:
        load_tool('text_fill_eval').main([config, ckpt, '--classes', 'lava', '--device', 'cpu'])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown classes ['lava']" in err[0]
