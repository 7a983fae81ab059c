"""Start ``tools/web_demo.py`` as a user would (a subprocess on 127.0.0.1, the tiny model) for
the tests that talk to it over HTTP (``gradio_client``, the load test)."""
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.tiny_sair import ROOT, save_tiny_sair

#: Loopback only, never a proxy.
LOCAL_ENV = dict(GRADIO_ANALYTICS_ENABLED='False', HF_HUB_OFFLINE='1',
                 NO_PROXY='127.0.0.1,localhost', no_proxy='127.0.0.1,localhost')

#: Small on purpose: 16 concurrent clients overflow it, so the load test sees refusals.
MAX_QUEUE = 4
#: Small, so that a modest upload is "too large" without a big file in the test.
MAX_SIDE = 64


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_demo(folder, *flags, start_timeout: float = 180):
    """Yield ``(url, process)`` of a web demo serving the tiny model; stopped afterwards.

    Args:
        folder: a pathlib folder for the model files and the server log.
        *flags: more flags of ``tools/web_demo.py`` (e.g. ``--max-queue 4``).
    """
    os.environ.update(LOCAL_ENV)  # the clients of this process must not use a proxy either
    config, ckpt = save_tiny_sair(folder)
    port = free_port()
    url = f'http://127.0.0.1:{port}/'
    log_path = folder / 'server.log'
    log = open(log_path, 'w')
    proc = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, 'tools', 'web_demo.py'), '--config', config,
         '--checkpoint', ckpt, '--host', '127.0.0.1', '--port', str(port), '--device', 'cpu',
         '--num-examples', '0', *flags], cwd=ROOT, env=dict(os.environ, **LOCAL_ENV),
        stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if proc.poll() is not None:
                pytest.fail(f'the web demo exited ({proc.returncode}): '
                            f'{log_path.read_text()[-2000:]}')
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f'the web demo did not start in {start_timeout} s: '
                            f'{log_path.read_text()[-2000:]}')
            time.sleep(0.5)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()
