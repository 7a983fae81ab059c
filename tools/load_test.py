"""Load-test the web demo: many concurrent clients, disconnects, a full queue; p50/p95, peak RSS.

    python tools/load_test.py --checkpoint work_dirs/sair_demo/iter_600.pth \
        --clients 16 --requests 256 --max-queue 32
    python tools/load_test.py --url http://127.0.0.1:7860/ --clients 16 --requests 256

Without ``--url`` it starts ``tools/web_demo.py`` itself (loopback, a free port, the given
config and checkpoint, ``--max-queue``), runs the test, reads the server's peak RSS (VmHWM) and
stops it. Exit status 1 if any accepted request was answered wrongly, twice or not at all. A thin
CLI over :func:`sair_toolbox.experiments.load_test.run_load_test`.
"""
import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from sair_toolbox.apis.inferencer import DEFAULT_CONFIG
from sair_toolbox.utils.errors import ConfigError, cli_main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Load-test the SAIR web demo.')
    parser.add_argument('--url', default=None, help='a running demo (default: start one)')
    parser.add_argument('--config', default=DEFAULT_CONFIG, help='model config of the server')
    parser.add_argument('--checkpoint', default=None, help='checkpoint of the server')
    parser.add_argument('--device', default='cpu', help='device of the server (default cpu)')
    parser.add_argument('--max-queue', type=int, default=32, help="the server's --max-queue")
    parser.add_argument('--clients', type=int, default=16, help='concurrent clients')
    parser.add_argument('--requests', type=int, default=256, help='requests in all')
    parser.add_argument('--size', type=int, nargs=2, default=(64, 64), metavar=('H', 'W'),
                        help='request image size (default 64 64)')
    parser.add_argument('--disconnect-every', type=int, default=8,
                        help='every n-th request disconnects mid-request (0: none)')
    parser.add_argument('--timeout', type=float, default=600, help='seconds per request')
    return parser.parse_args(argv)


def _start_server(args, log):
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, os.path.join(ROOT, 'tools', 'web_demo.py'), '--config', args.config,
           '--host', '127.0.0.1', '--port', str(port), '--device', args.device,
           '--num-examples', '0', '--max-queue', str(args.max_queue)]
    if args.checkpoint:
        cmd += ['--checkpoint', args.checkpoint]
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED='False', NO_PROXY='127.0.0.1,localhost',
               no_proxy='127.0.0.1,localhost')
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f'http://127.0.0.1:{port}/'
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ConfigError(f'the web demo exited with status {proc.returncode} (log: '
                              f'{log.name})')
        try:
            with urllib.request.urlopen(url, timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise ConfigError(f'the web demo did not start in 300 s (log: {log.name})')


@cli_main
def main(argv=None) -> int:
    args = parse_args(argv)
    if min(args.clients, args.requests) < 1:
        raise ConfigError('--clients and --requests must be at least 1')
    os.environ.update(NO_PROXY='127.0.0.1,localhost', no_proxy='127.0.0.1,localhost')
    from sair_toolbox.experiments.load_test import run_load_test
    proc = None
    log = None
    url = args.url
    try:
        if url is None:
            log = tempfile.NamedTemporaryFile('w', prefix='sair_load_server_', suffix='.log',
                                              delete=False)
            proc, url = _start_server(args, log)
        report = run_load_test(url, args.clients, args.requests, tuple(args.size),
                               args.disconnect_every, args.timeout,
                               server_pid=proc.pid if proc else None)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        if log is not None:
            log.close()
    print(report.summary())
    if not report.ok:
        sys.exit(1)
    return 0


if __name__ == '__main__':
    main()
