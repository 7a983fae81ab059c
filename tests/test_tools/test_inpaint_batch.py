"""tools/inpaint.py on folders loses nothing: killed part-way and continued with
--skip-existing, every output is there once and byte-identical to an uninterrupted run; a
corrupt file is reported and skipped, the others finish, the exit status says so."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from sair_toolbox.apis.batch import TMP_INFIX, remove_stale_tmp, save_atomic, tmp_path_for
from sair_toolbox.utils.errors import DataError
from tests.tiny_sair import ROOT, save_tiny_sair

N_IMAGES = 12


@pytest.fixture(scope='module')
def folders(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('batch')
    config, ckpt = save_tiny_sair(tmp)
    imgs, masks = tmp / 'imgs', tmp / 'masks'
    imgs.mkdir()
    masks.mkdir()
    rng = np.random.default_rng(0)
    for i in range(N_IMAGES):
        Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(
            imgs / f'im{i:02d}.png')
        mask = np.zeros((48, 64), np.uint8)
        mask[10 + i:30, 12:40 + i] = 255
        Image.fromarray(mask).save(masks / f'im{i:02d}.png')
    return tmp, config, ckpt, imgs, masks


def _cmd(folders, out, *extra):
    tmp, config, ckpt, imgs, masks = folders
    return [sys.executable, os.path.join(ROOT, 'tools', 'inpaint.py'), '--config', config,
            '--checkpoint', ckpt, '--img', str(imgs), '--mask', str(masks), '--out', str(out),
            '--device', 'cpu', '--scale', '3', *extra]


def _env():
    return dict(os.environ, HF_HUB_OFFLINE='1', PYTHONWARNINGS='ignore')


def _outputs(out):
    return sorted(p for p in os.listdir(out) if p.endswith('.png') and not p.startswith('.'))


def test_killed_run_continues_to_the_same_outputs(folders):
    tmp = folders[0]
    reference = tmp / 'reference'
    done = subprocess.run(_cmd(folders, reference, '--no-progress'), env=_env(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(_outputs(reference)) == N_IMAGES

    out = tmp / 'killed'
    kill_after = 3
    proc = subprocess.Popen(_cmd(folders, out), env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    try:
        while True:  # SIGKILL as soon as the k-th output appears (poll the folder)
            if out.is_dir() and len(_outputs(out)) >= kill_after:
                proc.send_signal(signal.SIGKILL)
                break
            assert proc.poll() is None, 'the run ended before it could be killed'
            assert time.monotonic() < deadline, 'no output appeared in 300 s'
            time.sleep(0.01)
    finally:
        proc.kill()
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    first = _outputs(out)
    assert kill_after <= len(first) < N_IMAGES, first
    # every output on disk is complete (written atomically), byte for byte the reference's
    for name in first:
        assert (out / name).read_bytes() == (reference / name).read_bytes()

    again = subprocess.run(_cmd(folders, out, '--skip-existing', '--no-progress'), env=_env(),
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f'{len(first)} already done (skipped)' in again.stdout
    assert f'{N_IMAGES - len(first)} written' in again.stdout
    names = sorted(os.listdir(out))
    assert names == _outputs(reference), names  # each output once, no temporary files left
    for name in names:
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name


def test_corrupt_file_is_skipped_and_the_others_finish(folders, tmp_path):
    _, config, ckpt, imgs, masks = folders
    bad_imgs, bad_masks = tmp_path / 'imgs', tmp_path / 'masks'
    bad_imgs.mkdir()
    bad_masks.mkdir()
    for name in ('im00.png', 'im01.png', 'im02.png'):
        (bad_imgs / name).write_bytes((imgs / name).read_bytes())
        (bad_masks / name).write_bytes((masks / name).read_bytes())
    data = (imgs / 'im01.png').read_bytes()
    (bad_imgs / 'im01.png').write_bytes(data[:len(data) // 2])   # truncated
    (bad_imgs / 'orphan.png').write_bytes((imgs / 'im03.png').read_bytes())  # no mask
    out = tmp_path / 'out'
    run = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'tools', 'inpaint.py'), '--config', config,
         '--checkpoint', ckpt, '--img', str(bad_imgs), '--mask', str(bad_masks),
         '--out', str(out), '--device', 'cpu'], env=_env(), capture_output=True, text=True,
        timeout=600)
    assert run.returncode == 1, run.stderr[-2000:]
    assert sorted(os.listdir(out)) == ['im00.png', 'im02.png']
    assert '4 images: 2 written, 0 already done (skipped), 2 failed' in run.stdout
    failed = [line for line in run.stdout.splitlines() if line.startswith('  failed: ')]
    assert len(failed) == 2
    assert 'im01.png' in failed[0] and 'corrupt or truncated' in failed[0]
    assert 'orphan.png' in failed[1] and 'no mask' in failed[1]
    assert 'Traceback' not in run.stderr
    # the bad file is also reported as it happens, one line
    assert sum('skipped' in line and 'im01.png' in line for line in run.stderr.splitlines()) == 1


def test_save_atomic_and_stale_tmp(tmp_path):
    img = np.zeros((4, 5, 3), np.uint8)
    target = tmp_path / 'sub' / 'a.png'
    save_atomic(img, str(target))
    assert np.array_equal(np.asarray(Image.open(target)), img)
    assert os.listdir(tmp_path / 'sub') == ['a.png']
    stale = tmp_path / 'sub' / f'.b.png{TMP_INFIX}999.png'
    stale.write_bytes(b'half')
    other = tmp_path / 'sub' / '.unrelated'
    other.write_bytes(b'x')
    assert remove_stale_tmp([str(tmp_path / 'sub' / 'b.png')]) == [str(stale)]
    assert sorted(os.listdir(tmp_path / 'sub')) == ['.unrelated', 'a.png']
    assert os.path.dirname(tmp_path_for(str(target))) == str(tmp_path / 'sub')
    with pytest.raises(DataError, match='unknown image extension'):
        save_atomic(img, str(tmp_path / 'x.notanimage'))
    assert not any(TMP_INFIX in p for p in os.listdir(tmp_path))


def test_output_that_cannot_fit_is_one_line(folders, tmp_path, capsys):
    from tests.test_tools import load_tool
    _, config, ckpt, imgs, masks = folders
    tool = load_tool('inpaint')
    args = ['--config', config, '--checkpoint', ckpt, '--img', str(imgs / 'im00.png'),
            '--mask', str(masks / 'im00.png'), '--out', str(tmp_path / 'x.png'), '--device',
            'cpu']
    with pytest.raises(SystemExit) as exc:
        tool.main(args + ['--size', '100000', '100000'])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and '100000x100000' in err[0] and 'needs about' in err[0]
    with pytest.raises(SystemExit):
        tool.main(args + ['--scale', '4', '--max-memory', '1MB'])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'above the limit of 1 MB (max_memory)' in err[0]
    assert not (tmp_path / 'x.png').exists()
    with pytest.raises(SystemExit):
        tool.main(args + ['--max-memory', 'plenty'])
    assert '--max-memory must be a size' in capsys.readouterr().err


def test_plain_progress_bar_without_tqdm(monkeypatch, capsys):
    from sair_toolbox.apis.batch import progress_bar
    monkeypatch.setitem(sys.modules, 'tqdm', None)  # `import tqdm` now raises ImportError
    bar = progress_bar(2)
    bar.update()
    bar.write('skipped a.png: broken')
    bar.update()
    bar.close()
    err = capsys.readouterr().err
    assert '[1/2]' in err and '[2/2]' in err and '\rskipped a.png: broken\n' in err
