"""tools/demo_tables.py and tools/data_size_sweep.py: where their runs go by default."""
import importlib.util
import os.path as osp

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _tool(name):
    spec = importlib.util.spec_from_file_location(name, osp.join(ROOT, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('tool, default_out', [('demo_tables', 'demo_tables'),
                                               ('data_size_sweep', 'demo_datasize')])
def test_runs_go_to_a_work_root_named_for_the_output(tool, default_out):
    # The defaults keep the committed results' work dirs; another --out gets its own, so a
    # quick run (e.g. the issue's --seeds 0 1 --iters 20 check) cannot overwrite them.
    parse_args = _tool(tool).parse_args
    assert parse_args([]).work_root == osp.join('work_dirs', default_out)
    assert parse_args(['--out', '/tmp/quick/']).work_root == osp.join('work_dirs', 'quick')
    assert parse_args(['--out', 'x', '--work-root', 'w']).work_root == 'w'


@pytest.mark.parametrize('tool', ['demo_tables', 'data_size_sweep'])
def test_fresh_and_checkpoint_interval_flags(tool):
    # Without --fresh a stopped table continues; --ckpt-interval defaults to every val point.
    parse_args = _tool(tool).parse_args
    args = parse_args([])
    assert args.fresh is False and args.ckpt_interval is None
    args = parse_args(['--fresh', '--ckpt-interval', '50'])
    assert args.fresh is True and args.ckpt_interval == 50
