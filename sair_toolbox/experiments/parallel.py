"""Run experiment tasks one after another or side by side in worker processes.

The seeded tables train many independent runs (rows x seeds). On a machine with more cores than
one run uses well, several runs at a time with fewer threads each finish sooner: on the 2-core
machines this project measures on, two demo SAIR runs of one thread each step at 0.47-0.48 s,
i.e. 0.24 s per step together, against 0.29-0.31 s for one run on both cores.

:func:`run_tasks` runs :class:`Task` s in dependency order, either in this process (``jobs=1``)
or in ``jobs`` spawned worker processes, one fresh process per task (nothing of one run, such as
an allocator or a module cache, carries into the next). ``threads`` fixes torch's intra-op
thread count of every task in both modes, so that a run gives the same bits whatever ``jobs``
is: the float reductions of oneDNN's kernels depend on the thread count, so that count is part
of what makes a run reproducible (a run on 1 thread and the same run on 2 threads differ in
their last bits, and the differences grow over training).

Example::

    tasks = [Task(key=('SAIR', 0), fn=train_one, kwargs=dict(seed=0)), ...]
    results = run_tasks(tasks, jobs=2, threads=1)
"""
import multiprocessing
import os
import sys
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Hashable, List, Mapping, Optional, Sequence, Tuple

from sair_toolbox.utils.errors import ConfigError


@dataclass(frozen=True)
class Task:
    """One unit of work.

    Attributes:
        key: a unique, hashable name (e.g. ``(row, seed)``).
        fn: the work; a module-level function (it is pickled into the worker with ``jobs > 1``).
        kwargs: its keyword arguments (picklable).
        after: keys of tasks that must finish first; their results reach ``fn`` as
            ``fn(**kwargs, deps={key: result})``. Every key must be a task of the same call.
    """
    key: Hashable
    fn: Callable[..., Any]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    after: Tuple[Hashable, ...] = ()


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def threads_per_job(jobs: int, threads: Optional[int] = None) -> Optional[int]:
    """The torch thread count of each task: ``threads`` if given, else the usable CPUs shared
    by the jobs (at least 1) when ``jobs > 1``, else None (leave torch's own setting).

    Raises:
        ConfigError: ``jobs`` or ``threads`` not a positive integer.
    """
    for name, value in (('jobs', jobs), ('threads', threads)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise ConfigError(f'{name} must be a positive integer, got {value!r}')
    if threads is not None:
        return threads
    return max(1, usable_cpus() // jobs) if jobs > 1 else None


def check_order(tasks: Sequence[Task]) -> None:
    """Raise :class:`ConfigError` unless the keys are unique and every ``after`` names an
    earlier task (so that the given order runs them one after another)."""
    seen = set()
    for task in tasks:
        if task.key in seen:
            raise ConfigError(f'task {task.key!r} appears twice')
        missing = [k for k in task.after if k not in seen]
        if missing:
            raise ConfigError(f'task {task.key!r} runs after {missing!r}, which are not '
                              'earlier tasks')
        seen.add(task.key)


def ready(pending: Sequence[Task], finished: Mapping[Hashable, Any]) -> List[Task]:
    """The pending tasks whose ``after`` tasks have all finished, in the given order."""
    return [t for t in pending if all(k in finished for k in t.after)]


def _die_with_parent(parent: int) -> None:
    """Linux: have the kernel SIGKILL this worker when its parent process ends. A table killed
    at the top (``kill -9`` of the command) must not leave workers training on into the work
    dirs that its rerun resumes from. Elsewhere a no-op."""
    import ctypes
    import signal
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent ended before the request took effect
        os._exit(1)


def _init_worker(threads: Optional[int], parent: Optional[int] = None) -> None:
    """Worker process set-up: end with the parent (:func:`_die_with_parent`), the thread
    count, the allocator settings of the tools, and the start method of the worker's own
    subprocesses."""
    if parent is not None and sys.platform.startswith('linux'):
        _die_with_parent(parent)
    import torch

    from sair_toolbox.utils.setup_env import tune_cpu_allocator
    tune_cpu_allocator()
    if threads is not None:
        torch.set_num_threads(threads)
    # The worker itself is spawned; its dataloader workers start as in a plain run (MMEngine's
    # Runner sets its configured method, fork by default, and warns when it finds another).
    if 'fork' in multiprocessing.get_all_start_methods():
        multiprocessing.set_start_method('fork', force=True)


def _call(task: Task, finished: Mapping[Hashable, Any]) -> Any:
    kwargs = dict(task.kwargs)
    if task.after:
        kwargs['deps'] = {k: finished[k] for k in task.after}
    return task.fn(**kwargs)


def run_tasks(tasks: Sequence[Task], jobs: int = 1, threads: Optional[int] = None,
              on_start: Optional[Callable[[Task], None]] = None,
              on_done: Optional[Callable[[Task, Any], None]] = None) -> Dict[Hashable, Any]:
    """Run the tasks, at most ``jobs`` at a time, each after its ``after`` tasks.

    With ``jobs=1`` the tasks run in the given order in this process (torch's thread count set
    to ``threads`` for each and restored after). With ``jobs > 1`` each task runs in a fresh
    spawned process with ``threads`` threads (default: the usable CPUs divided by ``jobs``);
    tasks start in the given order as soon as their ``after`` tasks are done and a worker is
    free. ``on_start`` and ``on_done`` are called in this process (``on_done`` in the order the
    tasks finish).

    Args:
        tasks: the tasks, in an order that runs them one after another (:func:`check_order`).
        jobs: tasks at a time (>= 1).
        threads: torch threads per task (:func:`threads_per_job`).
        on_start: called with each task as it starts.
        on_done: called with each task and its result as it finishes.

    Returns:
        ``{key: result}``.

    Raises:
        ConfigError: bad ``jobs``/``threads`` or task order. An exception of a task stops the
        run: no further task starts, the tasks already running finish (and reach ``on_done``,
        so their results are not lost), then the first exception is raised here.
    """
    check_order(tasks)
    threads = threads_per_job(jobs, threads)
    finished: Dict[Hashable, Any] = {}
    if jobs == 1:
        import torch
        for task in tasks:
            if on_start is not None:
                on_start(task)
            before = torch.get_num_threads()
            if threads is not None:
                torch.set_num_threads(threads)
            try:
                finished[task.key] = _call(task, finished)
            finally:
                torch.set_num_threads(before)
            if on_done is not None:
                on_done(task, finished[task.key])
        return finished
    pending = list(tasks)
    running: Dict[Future, Task] = {}
    failure: Optional[Exception] = None
    context = multiprocessing.get_context('spawn')
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, max_tasks_per_child=1,
                             initializer=_init_worker,
                             initargs=(threads, os.getpid())) as pool:
        while running or (pending and failure is None):
            if failure is None:
                for task in ready(pending, finished)[:jobs - len(running)]:
                    pending.remove(task)
                    if on_start is not None:
                        on_start(task)
                    deps = {k: finished[k] for k in task.after}
                    running[pool.submit(_call, task, deps)] = task
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                task = running.pop(future)
                try:
                    finished[task.key] = future.result()
                except Exception as exc:  # raised once the running tasks have ended
                    failure = failure or exc
                    continue
                if on_done is not None:
                    on_done(task, finished[task.key])
    if failure is not None:
        raise failure
    return finished
