"""Tables and sweeps that survive a stop: run identities, atomic outputs, resumable work dirs.

A long table (:func:`~sair_toolbox.experiments.demo_tables.run_demo_tables`) or sweep
(:func:`~sair_toolbox.experiments.data_size.run_data_size_sweep`) stopped at any point (a time
limit, a killed process, a preempted job) continues when the same command runs again:

* **A run's identity** (:func:`run_identity`): a fingerprint of everything that fixes the bits
  of one (row, seed) run -- its fully resolved config (the row's config file and its bases, the
  common schedule, the seeds, the data sizes, the ``cfg_options``, a config hook's changes, for a
  two-stage row the identity of its stage one), the torch thread count and the torch version --
  beside the readable settings it came from. What only decides *where* and *how often* things
  are written (``work_dir``, the checkpoint interval, the experiment name, ``resume`` /
  ``load_from``) is left out: changing it does not change the run.
* **Finished runs** are recorded in ``results.json`` with their identity, written after every
  finished run with :func:`write_json_atomic` (a temporary file, then ``os.replace``: a kill
  mid-write leaves the previous file whole). A later call takes a run whose identity matches
  (:func:`reusable`) and refuses, in one line, a recorded run whose identity differs
  (:func:`describe_mismatch`): a silent retrain could throw away days of runs over a mistyped
  option, a silent reuse would mix settings in one table.
* **A run cut mid-training** resumes from its last checkpoint (:func:`prepare_work_dir`): the
  work dir holds ``run_identity.json`` from the run's start; when it matches, the checkpoint
  named by MMEngine's ``last_checkpoint`` file (or else the newest complete ``iter_*.pth``) is
  resumed with ``resume=True``, and the project's ``RNGStateHook`` carries the global RNG
  states, so the run continues bit for bit as if never stopped. A work dir of other settings
  (or of none recorded) is cleared of its checkpoints and trained from the start.
  :func:`validate_resume_point` closes the one gap: MMEngine saves a checkpoint before the
  validation of the same iteration, so a run killed during that validation would lose one point
  of its val curve; the resumed run validates there first when the point is not in its log.
* ``fresh=True`` (``--fresh``) clears the table's records and its runs' checkpoints
  (:func:`clear_checkpoints`) first: everything is trained again.
* One call at a time per work root (:class:`folder_lock`): a second call on the same runs
  while the first still trains them is refused instead of training them twice into the same
  work dirs (the lock goes with the process, so a killed call leaves none held).
"""
import glob
import hashlib
import json
import os
import os.path as osp
import re
import zipfile
from typing import Any, Dict, List, Mapping, Optional, Sequence

#: Written into a run's work dir when the run starts: its :func:`run_identity`.
IDENTITY_FILE = 'run_identity.json'
#: Top-level config keys that do not change what a run computes.
_NOT_IDENTITY = ('work_dir', 'experiment_name', 'resume', 'load_from')
#: The readable settings of an identity, in the order a mismatch names them.
SETTINGS = ('config', 'seed', 'iters', 'val_points', 'lr_schedule', 'num_train', 'num_val',
            'cfg_options', 'threads', 'torch', 'stage_one')


def _stable(obj: Any) -> Any:
    """A JSON form of a config value that is the same in every process (functions and classes
    by their dotted names, not their reprs with memory addresses)."""
    if isinstance(obj, Mapping):
        return {str(k): _stable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_stable(v) for v in obj]
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return repr(obj)  # nan and inf included
    if hasattr(obj, '__qualname__'):
        return f'{getattr(obj, "__module__", "")}.{obj.__qualname__}'
    return re.sub(r' at 0x[0-9a-fA-F]+', '', repr(obj))


def config_fingerprint(cfg) -> str:
    """sha256 (16 hex digits) of a run's resolved config without :data:`_NOT_IDENTITY` and the
    checkpoint hook's settings (how often it saves does not change the run)."""
    data = cfg.to_dict() if hasattr(cfg, 'to_dict') else dict(cfg)
    data = {k: v for k, v in data.items() if k not in _NOT_IDENTITY}
    hooks = dict(data.get('default_hooks') or {})
    hooks.pop('checkpoint', None)
    data['default_hooks'] = hooks
    text = json.dumps(_stable(data), sort_keys=True, separators=(',', ':'))
    return hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]


def run_identity(cfg, settings: Mapping[str, Any],
                 stage_one: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """The identity of one run: ``fingerprint`` (of the resolved config, ``settings`` and the
    stage-one identity) and the readable ``settings`` (:data:`SETTINGS`).

    Args:
        cfg: the run's config as it will be trained (``work_dir`` etc. are ignored).
        settings: ``config``, ``seed``, ``iters``, ``val_points``, ``lr_schedule``,
            ``num_train``, ``num_val``, ``cfg_options``, ``threads`` (the effective torch
            thread count) and ``torch`` (its version).
        stage_one: the identity of the run this one loads its stage one from, if any.
    """
    # Readable settings in their JSON form (as results.json gives them back).
    identity = json.loads(json.dumps({k: settings.get(k) for k in SETTINGS if k != 'stage_one'},
                                     default=str))
    if stage_one is not None:
        identity['stage_one'] = stage_one['fingerprint']
    text = json.dumps(_stable(dict(identity, config_fingerprint=config_fingerprint(cfg))),
                      sort_keys=True)
    identity['fingerprint'] = hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]
    return identity


def describe_mismatch(recorded: Optional[Mapping], wanted: Mapping) -> str:
    """What differs between a recorded identity and the wanted one, in a few words."""
    if not recorded:
        return 'recorded without a run identity (an older results.json)'
    diffs = [f'{k} {recorded.get(k)!r} here, {wanted.get(k)!r} now'
             + (f' (--threads {recorded.get(k)} continues it)' if k == 'threads' else '')
             for k in SETTINGS if recorded.get(k) != wanted.get(k)]
    return '; '.join(diffs) if diffs else (
        'the resolved config differs (the row\'s config file, its bases or a config hook '
        'changed)')


def reusable(run: Optional[Mapping], identity: Mapping, tested: bool) -> Optional[bool]:
    """Whether a recorded run can stand for the wanted one: True (same identity, complete),
    False (recorded with another identity: refuse), None (no or an incomplete record: train)."""
    if not run:
        return None
    if (run.get('identity') or {}).get('fingerprint') != identity['fingerprint']:
        return False
    complete = 'checkpoint' in run and 'seconds' in run and (
        not tested or ('metrics' in run and run.get('per_image')))
    return True if complete else None


# ------------------------------------------------------------------------------ one at a time
class folder_lock:
    """``with folder_lock(work_root):`` hold an exclusive lock on ``<folder>/.lock``
    (``flock``: released by the kernel when the process ends, however it ends; a no-op where
    ``fcntl`` is missing).

    Raises:
        ConfigError: another process holds it (a call on the same runs still running).
    """

    def __init__(self, folder: str) -> None:
        os.makedirs(folder, exist_ok=True)
        self.path = osp.join(folder, '.lock')
        self._file = None

    def __enter__(self) -> 'folder_lock':
        try:
            import fcntl
        except ImportError:  # not on POSIX
            return self
        from sair_toolbox.utils.errors import ConfigError
        self._file = open(self.path, 'a+', encoding='utf-8')
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._file.seek(0)
            holder = self._file.read().strip() or '?'
            self._file.close()
            self._file = None
            raise ConfigError(f'the runs in {osp.dirname(self.path)} are being trained by another '
                              f'process ({holder}); wait for it to end or stop it, then run '
                              'the command again to continue') from None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(str(os.getpid()))
        self._file.flush()
        return self

    def __exit__(self, *exc) -> None:
        if self._file is not None:
            self._file.close()  # releases the lock
            self._file = None


# ------------------------------------------------------------------------------ atomic writes
def write_text_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and
    ``os.replace``: readers (and a rerun after a kill) see the old file or the new one, whole."""
    tmp = f'{path}.tmp{os.getpid()}'
    try:
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def write_json_atomic(path: str, obj: Any, **kwargs) -> None:
    """``json.dump`` through :func:`write_text_atomic`."""
    write_text_atomic(path, json.dumps(obj, **kwargs))


def remove_stale_temporaries(folder: str) -> None:
    """Remove the temporary files of :func:`write_text_atomic` that a killed process left in
    ``folder`` (call while holding the folder's runs' :class:`folder_lock`)."""
    for path in glob.glob(osp.join(glob.escape(folder), '*.tmp[0-9]*')):
        if re.fullmatch(r'.+\.tmp\d+', osp.basename(path)) and osp.isfile(path):
            os.remove(path)


# ------------------------------------------------------------------------------ work dirs
def checkpoint_iteration(path: str) -> int:
    """The iteration of an ``iter_<N>.pth`` checkpoint path (-1 for another name)."""
    match = re.fullmatch(r'iter_(\d+)\.pth', osp.basename(path))
    return int(match.group(1)) if match else -1


def _complete(path: str) -> bool:
    """A checkpoint file torch finished writing (its zip archive has a central directory)."""
    return osp.isfile(path) and zipfile.is_zipfile(path)


def last_checkpoint(work_dir: str, max_iters: Optional[int] = None) -> Optional[str]:
    """The checkpoint to resume a work dir from: the one MMEngine's ``last_checkpoint`` file
    names (written after the checkpoint itself), else the newest complete ``iter_*.pth`` (at
    most ``max_iters``); None without one."""
    named = []
    try:
        with open(osp.join(work_dir, 'last_checkpoint'), encoding='utf-8') as f:
            text = f.read().strip()
        if text:
            named = [text, osp.join(work_dir, osp.basename(text))]  # as written, or moved
    except OSError:
        pass
    found = sorted(glob.glob(osp.join(glob.escape(work_dir), 'iter_*.pth')),
                   key=checkpoint_iteration, reverse=True)
    for path in named + found:
        if (_complete(path) and checkpoint_iteration(path) > 0
                and (max_iters is None or checkpoint_iteration(path) <= max_iters)):
            return path
    return None


def clear_checkpoints(work_dir: str) -> List[str]:
    """Remove a work dir's checkpoints, ``last_checkpoint`` and :data:`IDENTITY_FILE` (its logs
    stay); returns the removed paths."""
    paths = glob.glob(osp.join(glob.escape(work_dir), 'iter_*.pth')) + [
        osp.join(work_dir, n) for n in ('last_checkpoint', IDENTITY_FILE)]
    removed = []
    for path in paths:
        if osp.isfile(path):
            os.remove(path)
            removed.append(path)
    return removed


def read_identity(work_dir: str) -> Optional[Dict]:
    """The :data:`IDENTITY_FILE` of a work dir, or None."""
    try:
        with open(osp.join(work_dir, IDENTITY_FILE), encoding='utf-8') as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def prepare_work_dir(work_dir: str, identity: Mapping, max_iters: int) -> Optional[str]:
    """Get a run's work dir ready and return the checkpoint to resume from (None: start).

    When the work dir's :data:`IDENTITY_FILE` matches ``identity`` and it holds a checkpoint
    (:func:`last_checkpoint`), that checkpoint is returned. Otherwise its checkpoints are
    cleared (:func:`clear_checkpoints`: they belong to other settings, or to none recorded)
    and ``identity`` is written there.
    """
    saved = read_identity(work_dir)
    if saved is not None and saved.get('fingerprint') == identity['fingerprint']:
        checkpoint = last_checkpoint(work_dir, max_iters)
        if checkpoint is not None:
            return checkpoint
    os.makedirs(work_dir, exist_ok=True)
    clear_checkpoints(work_dir)
    write_json_atomic(osp.join(work_dir, IDENTITY_FILE), dict(identity), indent=2)
    return None


def keep_final_checkpoint(work_dir: str, final: str) -> None:
    """After a finished run: remove its ``iter_*.pth`` other than ``final`` (the schedule keeps
    two while training, so that one is always whole, :func:`last_checkpoint`)."""
    for path in glob.glob(osp.join(glob.escape(work_dir), 'iter_*.pth')):
        if osp.abspath(path) != osp.abspath(final):
            os.remove(path)


def _has_val_point(work_dir: str, step: int, suffixes: Sequence[str]) -> bool:
    from sair_toolbox.utils.errors import DataError
    from sair_toolbox.visualization.curves import read_scalars
    try:
        scalars = read_scalars(work_dir)
    except DataError:
        return False
    return any(s == step for k, points in scalars.items()
               if k.endswith(tuple(suffixes)) and '/input_' not in k for s, _ in points)


def validate_resume_point(runner, suffixes: Sequence[str] = ('/PSNR', )) -> None:
    """Register a hook on a resuming ``runner`` that validates at the resumed iteration first
    when that iteration is a val point missing from the work dir's log (MMEngine saves the
    checkpoint of an iteration before that iteration's validation; a run killed during it would
    otherwise lack that point of its curves). The project's ``RNGStateHook`` keeps the training
    randomness out of validation, so the training continues with the same bits."""
    from mmengine.hooks import Hook

    class ValidateResumePoint(Hook):
        priority = 'LOWEST'  # after RNGStateHook has put the saved RNG states back

        def before_train(self, runner) -> None:
            loop = runner.train_loop
            it = runner.iter
            interval = getattr(loop, 'val_interval', None)
            if (it <= 0 or runner.val_loop is None or not interval
                    or it < getattr(loop, 'val_begin', 1)
                    or (it % interval and it != getattr(loop, 'max_iters', None))):
                return
            if not _has_val_point(runner.work_dir, it, suffixes):
                runner.val_loop.run()

    runner.register_hook(ValidateResumePoint())
