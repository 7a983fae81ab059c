"""Allocator suite: the same benchmark under glibc's default allocator and the tuned one.

``sair_toolbox.utils.setup_env.tune_cpu_allocator`` (applied by the tools) cannot be undone inside
a process, so the comparison runs the benchmark command twice, in child processes, once with
``--allocator glibc`` and once with ``--allocator tuned``, and lets each print its tables.
"""
import subprocess
import sys
from typing import List, Sequence

from sair_toolbox.utils.errors import ConfigError

MODES = ('glibc', 'tuned')


def strip_allocator(argv: Sequence[str]) -> List[str]:
    """``argv`` without its ``--allocator X`` / ``--allocator=X`` options."""
    rest, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == '--allocator':
            skip = True
        elif not arg.startswith('--allocator='):
            rest.append(arg)
    return rest


def compare_allocators(script: str, argv: Sequence[str]) -> None:
    """Run ``python script argv --allocator MODE`` for each of :data:`MODES`, output through.

    Args:
        script: Path of the benchmark CLI (``tools/benchmark.py``).
        argv: Its command-line arguments; any ``--allocator`` option is replaced.

    Raises:
        ConfigError: A child run exited with a non-zero status.
    """
    rest = strip_allocator(argv)
    for mode in MODES:
        print(f'== allocator: {mode}', flush=True)
        proc = subprocess.run([sys.executable, script, *rest, '--allocator', mode], check=False)
        if proc.returncode:
            raise ConfigError(f'the --allocator {mode} run failed (exit {proc.returncode})')
