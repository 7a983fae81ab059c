"""A checkpoint argument that is not a checkpoint: one line saying what and where, exit status 2,
from every tool that takes one (before MMEngine's own torch.load sees the file)."""
import os.path as osp
import subprocess
import sys

import pytest
import torch

from tests.test_engine.tiny_run import CONFIG, REPO_ROOT, subprocess_env
from tests.test_tools import load_tool

TOOLS = {name: osp.join(REPO_ROOT, 'tools', f'{name}.py') for name in ('train', 'test', 'seg_eval')}
KINDS = {
    'empty': 'is an empty file',
    'text': 'is not a PyTorch checkpoint (not written by torch.save',
    'truncated': 'truncated or corrupt',
    'zip': 'is not a PyTorch checkpoint (a zip archive without data.pkl)',
    'folder': 'is a folder, not a checkpoint file',
}


def make_bad(path, kind):
    if kind == 'empty':
        path.write_bytes(b'')
    elif kind == 'text':
        path.write_text('model = dict(type="SAIR")\n')
    elif kind == 'folder':
        path.mkdir()
    elif kind == 'truncated':
        torch.save(dict(state_dict=dict(w=torch.zeros(256))), path)
        data = path.read_bytes()
        path.write_bytes(data[:len(data) - 100])
    else:
        import zipfile
        with zipfile.ZipFile(path, 'w') as archive:
            archive.writestr('readme.txt', 'not weights')
    return path


def argv(tool, ckpt, tmp_path):
    if tool == 'train':
        return [CONFIG, '--work-dir', str(tmp_path / 'w'), '--resume', str(ckpt)]
    return [CONFIG, str(ckpt)]


@pytest.mark.parametrize('kind', sorted(KINDS))
@pytest.mark.parametrize('tool', sorted(TOOLS))
def test_each_tool_names_the_bad_checkpoint(tool, kind, tmp_path, capsys, monkeypatch):
    ckpt = make_bad(tmp_path / f'{kind}.pth', kind)
    monkeypatch.setattr(sys, 'argv', [f'{tool}.py'])
    with pytest.raises(SystemExit) as info:
        load_tool(tool).main(argv(tool, ckpt, tmp_path))
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f'{tool}.py: error: ') and str(ckpt) in err[0] and KINDS[kind] in err[0]
    if tool == 'train':
        assert err[0].endswith('(--resume)')


def test_train_load_from_and_resume_auto_are_checked(tmp_path, capsys, monkeypatch):
    train = load_tool('train')
    monkeypatch.setattr(sys, 'argv', ['train.py'])
    bad = make_bad(tmp_path / 'text.pth', 'text')
    with pytest.raises(SystemExit):
        train.main([CONFIG, '--work-dir', str(tmp_path / 'a'), '--cfg-options',
                    f'load_from={bad}'])
    assert capsys.readouterr().err.strip().endswith('(load_from)')
    # --resume (auto): the checkpoint named by the work dir's last_checkpoint file.
    work = tmp_path / 'b'
    work.mkdir()
    truncated = make_bad(work / 'iter_4.pth', 'truncated')
    (work / 'last_checkpoint').write_text(str(truncated))
    with pytest.raises(SystemExit):
        train.main([CONFIG, '--work-dir', str(work), '--resume'])
    err = capsys.readouterr().err.strip()
    assert f'cannot read checkpoint {truncated}: truncated' in err and '--resume' in err


@pytest.mark.parametrize('tool', sorted(TOOLS))
def test_as_a_command(tool, tmp_path):
    """The real command line, test.py in folder mode."""
    ckpt = make_bad(tmp_path / 'notes.pth', 'text')
    args = argv(tool, ckpt, tmp_path)
    if tool == 'test':
        (tmp_path / 'imgs').mkdir()
        args += ['--img-dir', str(tmp_path / 'imgs'), '--mask-dir', str(tmp_path / 'imgs')]
    proc = subprocess.run([sys.executable, TOOLS[tool], *args], cwd=REPO_ROOT,
                          env=subprocess_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"{tool}.py: error: checkpoint {ckpt} is not a PyTorch checkpoint (not written by "
        f"torch.save; it starts with b'mo')" + (' (--resume)' if tool == 'train' else ''))
