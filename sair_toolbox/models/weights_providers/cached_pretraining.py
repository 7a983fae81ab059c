"""The cache of a weights provider that pretrains its network on first use.

:class:`PretrainedCache` holds what the demo providers (``DemoCLIPWeights``,
``DemoSAMWeights``) share: a cache folder with the weights file and ``meta.json`` (version,
architecture, recipe parameters, sha256 and the pretraining result), checked on every use
(absent, stale or corrupt); a build under an exclusive file lock (``.<name>.lock`` next to the
folder, so two processes starting at once pretrain only once) into a temporary folder renamed
into place; and the global RNGs and thread settings left as found
(:func:`~sair_toolbox.utils.global_state.preserved_global_state`), so that a first run equals
a later one. A subclass names its files and version and implements :meth:`_pretrain` and
:meth:`_report`.
"""
import json
import logging
import os
import os.path as osp
import shutil
import tempfile
from typing import Any, Dict, Optional

from mmengine.logging import print_log

from sair_toolbox.utils.errors import DataError
from sair_toolbox.utils.global_state import preserved_global_state

from .cache_files import file_lock, plain_json, sha256_file

#: The metadata file of every cache folder.
META_FILE = 'meta.json'


class PretrainedCache:
    """Base of the providers whose weights are pretrained into ``cache_dir`` on first use.

    Subclasses set :attr:`WEIGHTS_FILE`, :attr:`VERSION`, :attr:`LABEL` (``'demo CLIP'``: used
    in messages) and :attr:`FIRST_USE` (the log line's tail on first use), and ``self.recipe``
    (a dataclass with ``params()``).

    Attributes:
        cache_dir (str): the cache folder.
    """

    WEIGHTS_FILE: str
    VERSION: int
    LABEL: str
    FIRST_USE: str = 'first use'

    cache_dir: str

    @property
    def params(self) -> Dict[str, Any]:
        """The recipe as ``meta.json`` stores it."""
        return self.recipe.params()

    @property
    def weights_path(self) -> str:
        return osp.join(self.cache_dir, self.WEIGHTS_FILE)

    def _wanted(self, model_cfg: dict) -> Dict[str, Any]:
        return plain_json(dict(version=self.VERSION, model_cfg=model_cfg, params=self.params))

    def check(self, model_cfg: dict) -> Optional[str]:
        """None if the cache is complete and current, else why not (``'absent'``, ``'stale
        (...)'``, ``'corrupt (...)'``).

        Raises:
            DataError: ``cache_dir`` holds files that are not such a cache.
        """
        if not osp.isdir(self.cache_dir) or not os.listdir(self.cache_dir):
            return 'absent'
        foreign = sorted(set(os.listdir(self.cache_dir)) - {self.WEIGHTS_FILE, META_FILE})
        if foreign:
            raise DataError(f'{self.cache_dir} is not a {self.LABEL} cache (it holds '
                            f'{", ".join(foreign[:3])}); remove it or choose another cache_dir')
        try:
            with open(osp.join(self.cache_dir, META_FILE), encoding='utf-8') as f:
                meta = json.load(f)
            found = {k: meta[k] for k in ('version', 'model_cfg', 'params')}
            sha = meta['sha256']
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return f'corrupt ({META_FILE}: {type(exc).__name__})'
        wanted = self._wanted(model_cfg)
        if found != wanted:
            diff = sorted(k for k in wanted if found.get(k) != wanted[k])
            return f'stale (other {", ".join(diff)})'
        if not osp.isfile(self.weights_path):
            return f'corrupt ({self.WEIGHTS_FILE} missing)'
        if sha256_file(self.weights_path) != sha:
            return f'corrupt ({self.WEIGHTS_FILE} checksum mismatch)'
        return None

    def provide(self, model_cfg: dict) -> str:
        """The weights file for ``model_cfg``, pretrained into the cache first if needed."""
        if self.check(model_cfg) is None:  # the common case, without taking the lock
            return self.weights_path
        with preserved_global_state():  # first use: pretraining must not move the caller's RNGs
            return self._provide_locked(model_cfg)

    def _provide_locked(self, model_cfg: dict) -> str:
        parent = osp.dirname(osp.abspath(self.cache_dir))
        os.makedirs(parent, exist_ok=True)
        name = osp.basename(osp.abspath(self.cache_dir))
        owner = type(self).__name__
        with file_lock(osp.join(parent, f'.{name}.lock')):
            problem = self.check(model_cfg)  # another process may have built it meanwhile
            if problem is None:
                return self.weights_path
            if problem == 'absent':
                print_log(f'{owner}: pretraining the {self.LABEL} into {self.cache_dir} '
                          f'({self.FIRST_USE})', logger='current')
            else:
                print_log(f'{owner}: the {self.LABEL} cache {self.cache_dir} is {problem}; '
                          'rebuilding it', logger='current', level=logging.WARNING)
            self._build(model_cfg, parent, name)
        return self.weights_path

    def _build(self, model_cfg: dict, parent: str, name: str) -> None:
        tmp = tempfile.mkdtemp(prefix=f'.{name}.tmp', dir=parent)
        try:
            weights = osp.join(tmp, self.WEIGHTS_FILE)
            result = self._pretrain(plain_json(model_cfg), weights)
            meta = dict(self._wanted(model_cfg), sha256=sha256_file(weights), result=result)
            with open(osp.join(tmp, META_FILE), 'w', encoding='utf-8') as f:
                json.dump(meta, f, indent=2, sort_keys=True)
                f.write('\n')
            os.chmod(tmp, 0o755)  # mkdtemp makes it 0700
            if osp.lexists(self.cache_dir):
                shutil.rmtree(self.cache_dir) if osp.isdir(self.cache_dir) else \
                    os.remove(self.cache_dir)
            os.rename(tmp, self.cache_dir)
        finally:
            if osp.isdir(tmp):
                shutil.rmtree(tmp, ignore_errors=True)
        print_log(f'{type(self).__name__}: {self._report(result)}', logger='current')

    def _pretrain(self, model_cfg: dict, weights_path: str) -> Dict[str, Any]:
        """Pretrain the network of ``model_cfg`` into ``weights_path``; returns the result
        stored in ``meta.json`` (with ``seconds``)."""
        raise NotImplementedError

    def _report(self, result: Dict[str, Any]) -> str:
        """The log line after pretraining (without the class name)."""
        raise NotImplementedError
