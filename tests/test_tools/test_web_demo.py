"""tools/web_demo.py in a real browser: Playwright driving Debian's Chromium, headless.

The demo runs as a user would start it (a subprocess on 127.0.0.1, a tiny model); the page is
used as a user would: open a file that is not an image, then an image, paint a stroke on the
canvas, press Inpaint, steer the hole to a class by text, and use two tabs at once.
"""
import io
import os
import shutil
import time

import numpy as np
import pytest
from PIL import Image

from tests.tiny_sair import ROOT, TINY_CLASSES, TINY_PALETTE, save_tiny_sair
from tests.web_demo_server import free_port, running_demo

CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
WAIT_MS = 30_000  # every wait in the page is bounded


def _require_browser():
    if CHROMIUM is None:
        if os.environ.get('CI'):
            pytest.fail('chromium is not installed; .ci/run installs it (apt-get install chromium)')
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run does)")


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    """``(url, folder)`` of ``tools/web_demo.py`` serving the tiny model (default limits)."""
    _require_browser()
    tmp = tmp_path_factory.mktemp('web_demo')
    with running_demo(tmp) as (url, _):
        yield url, tmp


@pytest.fixture(scope='module')
def browser(server):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        # Background tabs must not be throttled: the two-tab test waits on both at once.
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            '--no-sandbox', '--disable-gpu', '--disable-background-timer-throttling',
            '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows'])
        yield chromium
        chromium.close()


def _open(browser, url):
    page = browser.new_page(viewport={'width': 1400, 'height': 1200})
    page.set_default_timeout(WAIT_MS)
    page.goto(url)
    page.wait_for_selector('#editor canvas')
    return page


def _status(page, needle):
    """The status line once it says ``needle`` (bounded wait; a timeout shows the line)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    try:
        page.wait_for_function(
            "needle => document.querySelector('#status').innerText.includes(needle)",
            arg=needle)
    except PlaywrightTimeout:
        pytest.fail(f'the status never said {needle!r}; it says '
                    f'{page.locator("#status").inner_text()!r}')
    return page.locator('#status').inner_text().strip()


def _upload(page, path):
    page.locator('#upload input[type=file]').set_input_files(str(path))


def _open_image(page, path):
    """Open an image and wait until the editor shows it (its zoom changes, then settles), so
    that a stroke lands on the image and not on the empty canvas."""
    zoom = page.locator('#editor .zoom-number')
    before = zoom.inner_text().strip()
    _upload(page, path)
    _status(page, f'Opened {path.name}')
    page.wait_for_function(
        "b => { const z = document.querySelector('#editor .zoom-number');"
        " return z && z.innerText.trim() !== b; }", arg=before)
    last = None
    for _ in range(20):  # settled: the same zoom twice in a row
        now = zoom.inner_text().strip()
        if now == last:
            break
        last = now
        time.sleep(0.25)


def _stroke(page):
    """Paint a horizontal stroke through the middle of the canvas (the image is centred)."""
    box = page.locator('#editor canvas').first.bounding_box()
    cx, cy = box['x'] + box['width'] / 2, box['y'] + box['height'] / 2
    page.mouse.move(cx - 50, cy)
    page.mouse.down()
    for k in range(1, 5):  # few events: each one re-renders the canvas in software
        page.mouse.move(cx - 50 + 25 * k, cy)
    page.mouse.up()


def _image(page, elem_id):
    src = page.locator(f'#{elem_id} img').get_attribute('src')
    body = page.request.get(src).body() if not src.startswith('data:') else None
    if body is None:
        import base64
        body = base64.b64decode(src.split(',', 1)[1])
    return np.asarray(Image.open(io.BytesIO(body)).convert('RGB'))


def _picture(tmp):
    y, x = np.mgrid[0:48, 0:64]
    img = np.stack([x * 4, y * 5, (x + y) * 2], -1).astype(np.uint8)
    path = tmp / 'picture.png'
    Image.fromarray(img).save(path)
    return img, path


def test_draw_inpaint_and_bad_upload(server, browser):
    url, tmp = server
    page = _open(browser, url)
    notes = tmp / 'notes.png'
    notes.write_text('these are notes, not pixels')
    _upload(page, notes)
    message = _status(page, 'Error')
    assert message == 'Error: cannot read image notes.png: not an image file (unknown format)'

    img, path = _picture(tmp)
    _open_image(page, path)
    assert 'Opened picture.png (64x48)' in page.locator('#status').inner_text()
    _stroke(page)
    page.click('#run')
    status = _status(page, 'Filled')
    assert '64x48 -> 64x48' in status and '\n' not in status
    out = _image(page, 'output')
    assert out.shape == img.shape
    diff = np.abs(out.astype(int) - img.astype(int)).max(axis=2)
    assert diff[22:26, 30:34].min() > 0            # the stroke's middle is filled anew
    for corner in (diff[:4, :4], diff[:4, -4:], diff[-4:, :4], diff[-4:, -4:]):
        assert corner.max() == 0                  # known pixels are kept
    for elem_id in ('map_masked', 'map_sir'):
        labels = _image(page, elem_id)
        assert labels.shape == img.shape
        colors = {tuple(c) for c in np.unique(labels.reshape(-1, 3), axis=0)}
        assert colors <= {tuple(c) for c in TINY_PALETTE}
    assert all(name in page.locator('#legend').inner_text() for name in TINY_CLASSES)

    # Text-guided fill: the SIR field in the hole becomes the named class.
    page.locator('#text input').fill('water')
    page.keyboard.press('Enter')
    page.click('#run')
    assert 'steered to "water"' in _status(page, 'steered')
    sir_map = _image(page, 'map_sir')
    assert tuple(sir_map[24, 32]) == tuple(TINY_PALETTE[TINY_CLASSES.index('water')])
    page.screenshot(path=str(tmp / 'web_demo.png'), full_page=True)
    assert (tmp / 'web_demo.png').stat().st_size > 0
    page.close()


def test_two_tabs_share_one_queue(server, browser):
    url, tmp = server
    _, path = _picture(tmp)
    pages = [_open(browser, url) for _ in range(2)]
    for page in pages:
        _open_image(page, path)
        _stroke(page)
    for page in pages:  # both requests at once; the server runs them one after the other
        page.click('#run')
    for page in pages:
        assert 'Filled' in _status(page, 'Filled')
        page.close()


def test_bad_checkpoint_is_one_line_before_serving(tmp_path, capsys):
    import importlib.util
    spec = importlib.util.spec_from_file_location('web_demo_tool',
                                                  os.path.join(ROOT, 'tools', 'web_demo.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    config, _ = save_tiny_sair(tmp_path)
    bad = tmp_path / 'notes.pth'
    bad.write_text('not weights')
    with pytest.raises(SystemExit) as exc:
        tool.main(['--config', config, '--checkpoint', str(bad), '--port', str(free_port())])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'notes.pth is not a PyTorch checkpoint' in err[0]


def test_empty_upload_is_one_line_in_the_page(server, browser):
    """One browser check of the upload guards (the rest go through gradio_client in
    tests/test_apis/test_web_demo_api.py): a zero-byte file, then the page still works."""
    url, tmp = server
    page = _open(browser, url)
    empty = tmp / 'empty.png'
    empty.write_bytes(b'')
    _upload(page, empty)
    message = _status(page, 'Error')
    assert message == 'Error: cannot read image empty.png: empty file (0 bytes)'
    _, path = _picture(tmp)
    _open_image(page, path)
    assert 'Opened picture.png (64x48)' in page.locator('#status').inner_text()
    page.close()


@pytest.fixture(scope='module')
def photo_server(tmp_path_factory):
    """The demo as a user serving phone photos starts it: the model's working size known
    (the tiny model is the demo architecture, trained at 64 px), default upload limits."""
    _require_browser()
    tmp = tmp_path_factory.mktemp('web_demo_photos')
    with running_demo(tmp, '--working-size', '64') as (url, _):
        yield url, tmp


def test_a_phone_sized_upload_is_inpainted_at_its_own_size(photo_server, browser):
    """A 4032 x 3024 JPEG (12 MP) goes through the page: opened, painted, inpainted by the crop
    strategy at its own size, the known pixels those of the upload."""
    url, tmp = photo_server
    w, h = 4032, 3024
    small = np.random.default_rng(0).integers(0, 256, (h // 32, w // 32, 3), dtype=np.uint8)
    path = tmp / 'phone.jpg'
    Image.fromarray(small).resize((w, h), Image.BICUBIC).save(path, quality=90)
    page = _open(browser, url)
    page.set_default_timeout(4 * WAIT_MS)  # a 12 MP canvas round trip in software rendering
    _open_image(page, path)
    assert f'Opened phone.jpg ({w}x{h})' in page.locator('#status').inner_text()
    _stroke(page)
    page.click('#run')
    status = _status(page, 'Filled')
    assert f'of {w}x{h} -> {w}x{h}' in status and 'strategy crop, 1 crop' in status, status
    out = _image(page, 'output')
    assert out.shape == (h, w, 3)
    decoded = np.asarray(Image.open(path).convert('RGB'))
    diff = np.abs(out.astype(int) - decoded.astype(int)).max(axis=2)
    assert diff[:200, :200].max() == 0 and diff[-200:, -200:].max() == 0  # known pixels kept
    assert (diff > 0).mean() < 0.01                                          # only the stroke
    assert _image(page, 'map_sir').shape == (768, 1024, 3)  # class maps shown at --max-side
    page.close()
