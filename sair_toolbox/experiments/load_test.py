"""Drive a running web demo with many concurrent clients and check every answer.

:func:`run_load_test` starts ``clients`` threads that share ``requests`` requests to the demo's
``/inpaint`` endpoint through Gradio's own client (``gradio_client``, as a user's script would):

* every request sends its own image (a distinct pattern per request) and a mask file; an
  accepted request must come back exactly once, with an output of the input's size whose known
  pixels are the request's own image (a request answered with another's picture, twice, or not
  at all is counted as wrong or lost);
* every ``disconnect_every``-th request is sent over the raw queue protocol (upload, join,
  listen) and its connection closed once the server starts it: a browser tab closed
  mid-request;
* requests beyond the server's ``--max-queue`` are refused by Gradio (HTTP 503); the refusal
  must be one line (``Queue is full...``);
* the latency (submit -> answer) of the accepted requests gives p50/p95, and the server's peak
  RSS (``VmHWM`` of ``/proc/<pid>/status``) is read when its pid is known.

``tools/load_test.py`` starts a server and runs this; ``tests/test_experiments/test_web_demo_load.py``
runs a small version under pytest. Gradio and httpx are imported lazily.
"""
import os
import os.path as osp
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np

from sair_toolbox.utils.errors import one_line

#: The web demo's "no text guidance" choice (see :mod:`sair_toolbox.apis.web_demo`).
NO_TEXT = '(none: SIR infers the hole)'


@dataclass
class LoadReport:
    """What a load test saw.

    Attributes:
        requests: requests sent.
        answered: accepted requests answered with a correct picture.
        refused: requests the server refused (queue full), with their one-line messages.
        disconnected: requests whose client went away mid-request (not waited for).
        wrong: ``(request id, reason)`` of answers that were wrong, lost or duplicated.
        latencies: seconds from submit to answer of every answered request.
        peak_rss: the server's peak resident memory (bytes), if measured.
        seconds: wall time of the whole run.
    """
    requests: int = 0
    answered: int = 0
    refused: List[str] = field(default_factory=list)
    disconnected: int = 0
    wrong: List[Tuple[int, str]] = field(default_factory=list)
    latencies: List[float] = field(default_factory=list)
    peak_rss: Optional[int] = None
    seconds: float = 0.0

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile (0-100) of :attr:`latencies` in seconds (nan if none)."""
        return float(np.percentile(self.latencies, q)) if self.latencies else float('nan')

    @property
    def ok(self) -> bool:
        """Nothing wrong or lost, and every request accounted for exactly once."""
        return (not self.wrong and self.answered + len(self.refused) + self.disconnected
                == self.requests)

    def summary(self) -> str:
        rss = f', server peak RSS {self.peak_rss / 2**20:.0f} MiB' if self.peak_rss else ''
        lines = [f'{self.requests} requests in {self.seconds:.1f} s: {self.answered} answered '
                 f'correctly, {len(self.refused)} refused (queue full), {self.disconnected} '
                 f'disconnected mid-request, {len(self.wrong)} wrong or lost; latency p50 '
                 f'{self.percentile(50):.2f} s, p95 {self.percentile(95):.2f} s{rss}']
        for message in sorted(set(self.refused)):
            lines.append(f'  refused: {message}')
        lines += [f'  wrong: request {i}: {reason}' for i, reason in self.wrong]
        return '\n'.join(lines)


def peak_rss(pid: int) -> Optional[int]:
    """Peak resident memory (``VmHWM``) of process ``pid`` in bytes, or None."""
    try:
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def request_pair(index: int, size: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
    """The image (uint8 (H, W, 3), a pattern unique to ``index``) and mask (uint8 (H, W),
    255 = hole) of request ``index``."""
    h, w = size
    rng = np.random.default_rng(index)
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    mask = np.zeros((h, w), np.uint8)
    y, x = h // 4 + index % (h // 4), w // 4 + (index * 7) % (w // 4)
    mask[y:y + h // 4, x:x + w // 3] = 255
    return img, mask


def check_answer(path: Optional[str], img: np.ndarray, mask: np.ndarray) -> Optional[str]:
    """Why the output file is not a correct answer to (img, mask) at scale 1, or None."""
    from PIL import Image
    if not path or not osp.isfile(path):
        return f'no output image (got {path!r})'
    out = np.asarray(Image.open(path).convert('RGB'))
    if out.shape != img.shape:
        return f'output is {out.shape}, expected {img.shape}'
    known = mask == 0
    if not np.array_equal(out[known], img[known]):
        return 'the known pixels are not the request\'s own image (another request\'s answer?)'
    return None


class _Raw:
    """The queue protocol by hand, for a client that disconnects mid-request."""

    def __init__(self, url: str, fn_index: int):
        self.url, self.fn_index = url, fn_index

    def upload(self, client, path: str) -> dict:
        with open(path, 'rb') as f:
            resp = client.post(f'{self.url}gradio_api/upload',
                               files=[('files', (osp.basename(path), f, 'image/png'))])
        resp.raise_for_status()
        server_path = resp.json()[0]
        return {'path': server_path, 'orig_name': osp.basename(path),
                'meta': {'_type': 'gradio.FileData'}}

    def disconnect_mid_request(self, img_path: str, mask_path: str,
                               timeout: float) -> Tuple[str, str]:
        """Send one request and hang up once it starts. Returns ``('disconnected' | 'refused',
        message)``."""
        import httpx
        session = uuid.uuid4().hex
        with httpx.Client(timeout=timeout) as client:
            image = self.upload(client, img_path)
            mask = self.upload(client, mask_path)
            editor = {'background': image, 'layers': [], 'composite': None, 'id': None}
            body = {'data': [editor, mask, 1, NO_TEXT, 1.0, 'match_norm'], 'event_data': None,
                    'fn_index': self.fn_index, 'trigger_id': None, 'session_hash': session}
            resp = client.post(f'{self.url}gradio_api/queue/join', json=body)
            if resp.status_code == 503:
                return 'refused', one_line(Exception(resp.json().get('detail', resp.text)))
            resp.raise_for_status()
            with client.stream('GET', f'{self.url}gradio_api/queue/data',
                               params={'session_hash': session}) as stream:
                for line in stream.iter_lines():
                    if 'process_starts' in line or 'process_completed' in line:
                        break  # the tab is closed: the connection goes away here
        return 'disconnected', ''


def _fn_index(url: str, api_name: str) -> int:
    import httpx
    config = httpx.get(f'{url}config', timeout=30).json()
    for dep in config.get('dependencies', []):
        if dep.get('api_name') == api_name:
            return int(dep.get('id', config['dependencies'].index(dep)))
    raise KeyError(f'the server at {url} has no endpoint /{api_name}')


def run_load_test(url: str, clients: int = 16, requests: int = 64,
                  size: Tuple[int, int] = (32, 32), disconnect_every: int = 8,
                  timeout: float = 300.0, server_pid: Optional[int] = None,
                  work_dir: Optional[str] = None) -> LoadReport:
    """Drive the demo at ``url`` (see the module docstring).

    Args:
        url: the server's root URL (``http://127.0.0.1:7860/``).
        clients: concurrent client threads, each with its own ``gradio_client.Client``.
        requests: requests in all, shared round-robin among the clients.
        size: ``(H, W)`` of the request images.
        disconnect_every: every n-th request disconnects mid-request (0: none).
        timeout: the most seconds one request may take.
        server_pid: the server's pid, to read its peak RSS.
        work_dir: where the request files are written (default a temporary folder).

    Returns:
        :class:`LoadReport`.
    """
    os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
    from gradio_client import Client, handle_file
    from gradio_client.utils import QueueError
    url = url if url.endswith('/') else url + '/'
    work = work_dir or tempfile.mkdtemp(prefix='sair_load_')
    from PIL import Image
    pairs: Dict[int, Tuple[np.ndarray, np.ndarray]] = {}
    files: Dict[int, Tuple[str, str]] = {}
    for i in range(requests):
        img, mask = pairs[i] = request_pair(i, size)
        files[i] = (osp.join(work, f'req{i:04d}.png'), osp.join(work, f'req{i:04d}_mask.png'))
        Image.fromarray(img).save(files[i][0])
        Image.fromarray(mask).save(files[i][1])
    raw = _Raw(url, _fn_index(url, 'inpaint'))
    report = LoadReport(requests=requests)
    lock = threading.Lock()
    answers: Dict[int, int] = {}

    def client_loop(k: int) -> None:
        download = osp.join(work, f'client{k:02d}')
        client = Client(url, verbose=False, download_files=download)
        for i in range(k, requests, clients):
            img_path, mask_path = files[i]
            try:
                if disconnect_every and i % disconnect_every == disconnect_every - 1:
                    kind, message = raw.disconnect_mid_request(img_path, mask_path, timeout)
                    with lock:
                        if kind == 'refused':
                            report.refused.append(message)
                        else:
                            report.disconnected += 1
                    continue
                start = time.perf_counter()
                job = client.submit(
                    dict(background=handle_file(img_path), layers=[], composite=None),
                    handle_file(mask_path), 1, NO_TEXT, 1.0, 'match_norm', api_name='/inpaint')
                result = job.result(timeout=timeout)
                took = time.perf_counter() - start
                outputs = job.outputs()
            except QueueError as exc:
                with lock:
                    report.refused.append(one_line(exc))
                continue
            except Exception as exc:  # noqa: BLE001 -- a lost request is a finding, not a crash
                with lock:
                    report.wrong.append((i, f'{type(exc).__name__}: {one_line(exc)}'))
                continue
            reason = None
            if len(outputs) != 1:
                reason = f'answered {len(outputs)} times'
            elif not str(result[3]).startswith('Filled'):
                reason = f'status {result[3]!r}'
            else:
                reason = check_answer(result[0], *pairs[i])
            with lock:
                answers[i] = answers.get(i, 0) + 1
                if reason is None:
                    report.answered += 1
                    report.latencies.append(took)
                else:
                    report.wrong.append((i, reason))
        client.close()

    start = time.perf_counter()
    threads = [threading.Thread(target=client_loop, args=(k, ), daemon=True)
               for k in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 60)
        if thread.is_alive():
            report.wrong.append((-1, 'a client thread did not finish in time'))
    report.seconds = time.perf_counter() - start
    report.wrong += [(i, f'answered {n} times') for i, n in answers.items() if n > 1]
    if server_pid is not None:
        report.peak_rss = peak_rss(server_pid)
    return report
