"""Save and restore the global RNG states so that a resumed run continues like a straight one."""
import random
from typing import List, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_dist_info
from mmengine.hooks import CheckpointHook, Hook

from sair_toolbox.registry import HOOKS


def get_rng_state() -> dict:
    """The global RNG states of this process in weights-only-safe types.

    Returns:
        dict with ``torch`` (uint8 tensor), ``cuda`` (list of uint8 tensors, one per visible
        device; empty without CUDA), ``numpy`` (dict: ``name`` str, ``keys`` int64 tensor (624,),
        ``pos``/``has_gauss`` int, ``cached_gaussian`` float) and ``python`` (list:
        version int, tuple of 625 ints, gauss_next float or None).
    """
    name, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    version, internal, gauss_next = random.getstate()
    return dict(
        torch=torch.get_rng_state(),
        cuda=list(torch.cuda.get_rng_state_all()) if torch.cuda.is_available() else [],
        numpy=dict(name=str(name), keys=torch.from_numpy(keys.astype(np.int64)), pos=int(pos),
                   has_gauss=int(has_gauss), cached_gaussian=float(cached)),
        python=[int(version), tuple(int(v) for v in internal),
                None if gauss_next is None else float(gauss_next)])


def set_rng_state(state: dict) -> None:
    """Restore the states returned by :func:`get_rng_state` (CUDA only where it was saved)."""
    torch.set_rng_state(state['torch'].cpu())
    cuda = state.get('cuda') or []
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda])
    npy = state['numpy']
    np.random.set_state((npy['name'], npy['keys'].numpy().astype(np.uint32), npy['pos'],
                         npy['has_gauss'], npy['cached_gaussian']))
    version, internal, gauss_next = state['python']
    random.setstate((version, tuple(internal), gauss_next))


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Carry the global RNG states (torch CPU + CUDA, numpy, Python ``random``) through checkpoints.

    Exact resumption needs the model-side randomness (query sampling, dropout, ...) to continue as
    in a straight run. MMEngine saves none of it, and ``Runner.resume`` may re-seed after loading.

    * ``before_save_checkpoint`` writes ``checkpoint['rng_state'] = dict(world_size=W,
      per_rank=[state of rank 0, ..., rank W-1])`` with weights-only-safe types. In a distributed
      run the ranks' states are gathered in ``after_train_iter`` / ``after_train_epoch`` (this hook
      runs before :class:`CheckpointHook`) whenever a CheckpointHook is about to save, because the
      save itself runs on rank 0 only.
    * ``after_load_checkpoint`` keeps the states; ``before_train`` restores them (after any
      re-seeding, before the loop re-iterates the dataloader to skip finished iterations) when the
      run really resumes (``runner.iter > 0`` or ``runner.epoch > 0``; plain ``load_from`` starts
      with fresh randomness).
    * Validation runs between ``before_val`` and ``after_val`` with the training states put back
      afterwards, so validating (at a checkpoint or not) never shifts the training randomness.

    Needs the datasets' own randomness to be independent of the global RNGs (as the project's
    datasets are), since skipped iterations re-read the data.
    """

    priority = 'LOW'  # after the default hooks' before_train, before CheckpointHook (VERY_LOW)

    def __init__(self) -> None:
        self._gathered: Optional[List[dict]] = None
        self._gathered_at: Optional[tuple] = None
        self._loaded: Optional[dict] = None
        self._before_val: Optional[dict] = None

    # ---- saving ---------------------------------------------------------------------------------
    def _checkpoint_due(self, runner, by_epoch: bool) -> bool:
        for hook in runner.hooks:
            if not isinstance(hook, CheckpointHook) or hook.by_epoch != by_epoch:
                continue
            if by_epoch:
                due = hook.every_n_epochs(runner, hook.interval, hook.save_begin) or (
                    hook.save_last and hook.is_last_train_epoch(runner))
            else:
                due = hook.every_n_train_iters(runner, hook.interval, hook.save_begin) or (
                    hook.save_last and hook.is_last_train_iter(runner))
            if due:
                return True
        return False

    def _maybe_gather(self, runner, by_epoch: bool) -> None:
        _, world_size = get_dist_info()
        if world_size > 1 and self._checkpoint_due(runner, by_epoch):
            self._gathered = all_gather_object(get_rng_state())
            self._gathered_at = (runner.epoch, runner.iter)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._maybe_gather(runner, by_epoch=False)

    def after_train_epoch(self, runner) -> None:
        self._maybe_gather(runner, by_epoch=True)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        _, world_size = get_dist_info()
        if self._before_val is not None:  # saving during validation (e.g. the best checkpoint)
            per_rank = [self._before_val]
        elif (self._gathered is not None and len(self._gathered) == world_size
              and self._gathered_at == (runner.epoch, runner.iter)):
            per_rank = self._gathered
        else:
            per_rank = [get_rng_state()]
        self._gathered = None
        checkpoint['rng_state'] = dict(world_size=world_size, per_rank=per_rank)

    # ---- loading --------------------------------------------------------------------------------
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._loaded = checkpoint.get('rng_state')

    def before_train(self, runner) -> None:
        saved, self._loaded = self._loaded, None
        if saved is None or (runner.iter == 0 and runner.epoch == 0):
            return
        rank, world_size = get_dist_info()
        per_rank = saved['per_rank']
        if len(per_rank) == world_size:
            set_rng_state(per_rank[rank])
        elif len(per_rank) == 1:
            if world_size > 1:
                runner.logger.warning(
                    'RNGStateHook: the checkpoint holds one RNG state; restoring it on all '
                    f'{world_size} processes')
            set_rng_state(per_rank[0])
        else:
            runner.logger.warning(
                f'RNGStateHook: the checkpoint holds RNG states of {len(per_rank)} processes but '
                f'this run has {world_size}; the RNG states are not restored')

    # ---- validation isolation -------------------------------------------------------------------
    def before_val(self, runner) -> None:
        self._before_val = get_rng_state()

    def after_val(self, runner) -> None:
        state, self._before_val = self._before_val, None
        if state is not None:
            set_rng_state(state)
