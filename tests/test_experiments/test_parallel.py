"""Tasks one after another or in worker processes: order, dependencies, threads, errors."""
import os

import pytest
import torch

from sair_toolbox.experiments.parallel import (Task, check_order, ready, run_tasks,
                                               threads_per_job, usable_cpus)
from sair_toolbox.utils.errors import ConfigError
from tests.test_experiments.tasks_for_workers import describe, fail


def _tasks():
    return [Task(('a', 0), describe, dict(value=1)),
            Task(('b', 0), describe, dict(value=2), after=(('a', 0), )),
            Task(('a', 1), describe, dict(value=3))]


def test_order_and_ready():
    tasks = _tasks()
    check_order(tasks)
    assert [t.key for t in ready(tasks, {})] == [('a', 0), ('a', 1)]
    assert [t.key for t in ready(tasks, {('a', 0): 1})] == [t.key for t in tasks]
    with pytest.raises(ConfigError, match='appears twice'):
        check_order(tasks + [tasks[0]])
    with pytest.raises(ConfigError, match='not earlier'):
        check_order(tasks[1:])


def test_threads_per_job():
    assert threads_per_job(1) is None and threads_per_job(1, 3) == 3
    assert threads_per_job(2) == max(1, usable_cpus() // 2)
    assert threads_per_job(10 * usable_cpus()) == 1
    for bad in (dict(jobs=0), dict(jobs=2, threads=0), dict(jobs=True), dict(jobs=1.5)):
        with pytest.raises(ConfigError, match='positive integer'):
            threads_per_job(**bad)


def test_in_process_order_dependencies_and_threads():
    before = torch.get_num_threads()
    started, done = [], []
    out = run_tasks(_tasks(), jobs=1, threads=1, on_start=lambda t: started.append(t.key),
                    on_done=lambda t, r: done.append((t.key, r['value'])))
    assert started == [('a', 0), ('b', 0), ('a', 1)]
    assert done == [(('a', 0), 1), (('b', 0), 2), (('a', 1), 3)]
    assert all(r['pid'] == os.getpid() and r['threads'] == 1 for r in out.values())
    assert out[('b', 0)]['deps'] == {('a', 0): out[('a', 0)]}
    assert torch.get_num_threads() == before  # restored


def test_worker_processes_fresh_per_task_with_their_threads():
    done = []
    out = run_tasks(_tasks(), jobs=2, threads=1, on_done=lambda t, r: done.append(t.key))
    assert sorted(done) == sorted(out) == sorted(t.key for t in _tasks())
    assert done.index(('a', 0)) < done.index(('b', 0))  # after its dependency
    pids = {r['pid'] for r in out.values()}
    assert len(pids) == 3 and os.getpid() not in pids  # one fresh process per task
    assert all(r['threads'] == 1 for r in out.values())
    assert out[('b', 0)]['deps'] == {('a', 0): out[('a', 0)]}


def test_a_failing_task_stops_the_run_and_keeps_the_running_ones():
    tasks = [Task('ok', describe, dict(value=1, sleep=1.0)), Task('bad', fail, dict(value=2)),
             Task('later', describe, dict(value=3))]
    for jobs in (1, 2):
        started, done = [], []
        with pytest.raises(ValueError, match='task 2 failed'):
            run_tasks(tasks, jobs=jobs, on_start=lambda t: started.append(t.key),
                      on_done=lambda t, r: done.append(t.key))
        assert 'later' not in started
        assert done == ['ok']  # ran beside the failure (jobs=2) or before it: not lost
