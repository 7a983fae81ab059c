"""The running web demo under load: 16 concurrent clients, 64 requests, clients that disconnect
mid-request and requests beyond --max-queue. Every accepted request is answered once and
correctly, refused ones are told so in one line, the server's memory stays bounded and it keeps
serving afterwards. (The full-size run: ``python tools/load_test.py``, numbers in the README.)"""
import math

import numpy as np
import pytest
from PIL import Image

from sair_toolbox.experiments.load_test import check_answer, peak_rss, request_pair, run_load_test
from tests.web_demo_server import MAX_QUEUE


def _rss(pid):
    with open(f'/proc/{pid}/status') as f:
        return [int(line.split()[1]) * 1024 for line in f if line.startswith('VmRSS:')][0]


def test_sixteen_clients_sixty_four_requests(web_demo, tmp_path):
    from gradio_client import Client, handle_file
    url, proc = web_demo
    before = _rss(proc.pid)
    report = run_load_test(url, clients=16, requests=64, size=(32, 32), disconnect_every=8,
                           timeout=120, server_pid=proc.pid, work_dir=str(tmp_path))
    print(report.summary())
    assert report.ok, report.summary()      # nothing wrong, lost or answered twice
    assert report.requests == 64
    assert report.answered >= 4 and report.disconnected >= 1
    assert report.refused, f'--max-queue {MAX_QUEUE} never refused 16 clients'
    for message in report.refused:          # one line, saying why
        assert '\n' not in message and 'Queue is full' in message
    p50, p95 = report.percentile(50), report.percentile(95)
    assert math.isfinite(p50) and 0 < p50 <= p95
    # bounded memory: 64 small requests add far less than the model and Gradio already hold
    assert report.peak_rss == peak_rss(proc.pid)
    assert report.peak_rss < before + 512 * 2**20, (before, report.peak_rss)

    # the server keeps serving, correctly
    assert proc.poll() is None
    img, mask = request_pair(1000, (32, 32))
    Image.fromarray(img).save(tmp_path / 'after.png')
    Image.fromarray(mask).save(tmp_path / 'after_mask.png')
    client = Client(url, verbose=False, download_files=str(tmp_path / 'after'))
    result = client.predict(dict(background=handle_file(str(tmp_path / 'after.png')),
                                 layers=[], composite=None),
                            handle_file(str(tmp_path / 'after_mask.png')), 1,
                            '(none: SIR infers the hole)', 1.0, 'match_norm', api_name='/inpaint')
    client.close()
    assert result[3].startswith('Filled') and check_answer(result[0], img, mask) is None


def test_request_pairs_are_distinct():
    a, _ = request_pair(0, (32, 32))
    b, _ = request_pair(1, (32, 32))
    assert not np.array_equal(a, b)
