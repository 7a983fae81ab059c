"""Tasks one after another or in worker processes: order, dependencies, threads, errors."""
import os
import sys

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


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='PR_SET_PDEATHSIG is Linux')
def test_workers_end_with_a_killed_parent(tmp_path):
    """A table killed at the top (kill -9) leaves no worker training on into the work dirs
    that its rerun resumes from."""
    import signal
    import subprocess
    import time

    from tests.test_engine.tiny_run import REPO_ROOT, subprocess_env
    parent = subprocess.Popen(
        [sys.executable, '-c', 'import sys; from tests.test_experiments.tasks_for_workers '
         'import run_waiting_workers; run_waiting_workers(sys.argv[1])', str(tmp_path)],
        cwd=REPO_ROOT, env=subprocess_env())
    try:
        deadline = time.time() + 120
        while len(list(tmp_path.glob('*.pid'))) < 2 and time.time() < deadline:
            assert parent.poll() is None
            time.sleep(0.2)
        pids = [int(p.read_text()) for p in tmp_path.glob('*.pid')]
        assert len(pids) == 2
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()

    def alive(pid):  # a zombie (ended, not yet reaped) counts as ended
        try:
            with open(f'/proc/{pid}/stat') as f:
                return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
        except OSError:
            return False
    deadline = time.time() + 20
    while any(alive(p) for p in pids) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(alive(p) for p in pids)
