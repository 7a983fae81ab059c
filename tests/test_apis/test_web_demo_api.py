"""The running web demo as an API (``gradio_client``): the endpoints the README documents, their
inputs and outputs, and bad uploads answered with the page's one-line messages."""
import os
import zlib

import numpy as np
import pytest
from PIL import Image

from tests.web_demo_server import MAX_SIDE

NO_TEXT = '(none: SIR infers the hole)'


@pytest.fixture(scope='module')
def client(web_demo, tmp_path_factory):
    from gradio_client import Client
    url, _ = web_demo
    c = Client(url, verbose=False, download_files=str(tmp_path_factory.mktemp('downloads')))
    yield c
    c.close()


def _picture(tmp_path, h=48, w=64):
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 4 % 256, y * 5 % 256, (x + y) * 2 % 256], -1).astype(np.uint8)
    path = tmp_path / 'picture.png'
    Image.fromarray(img).save(path)
    mask = np.zeros((h, w), np.uint8)
    mask[10:20, 12:40] = 255
    Image.fromarray(mask).save(tmp_path / 'hole.png')
    return img, mask, path, tmp_path / 'hole.png'


def _inpaint(client, image_path, mask_path, scale=1, text=NO_TEXT):
    from gradio_client import handle_file
    editor = dict(background=handle_file(str(image_path)), layers=[], composite=None)
    return client.predict(editor, handle_file(str(mask_path)) if mask_path else None, scale,
                          text, 1.0, 'match_norm', api_name='/inpaint')


def test_endpoints_are_named(client):
    info = client.view_api(print_info=False, return_format='dict')
    named = info['named_endpoints']
    assert set(named) >= {'/inpaint', '/open_image'}
    params = [p['parameter_name'] for p in named['/inpaint']['parameters']]
    assert params == ['editor', 'mask_path', 'scale', 'text', 'strength', 'guidance_scale',
                      'strategy']
    assert len(named['/inpaint']['returns']) == 4


def test_inpaint_through_the_client(client, tmp_path):
    img, mask, path, mask_path = _picture(tmp_path)
    output, masked_map, sir_map, status = _inpaint(client, path, mask_path)
    assert status.startswith('Filled') and '64x48 -> 64x48' in status and '\n' not in status
    out = np.asarray(Image.open(output).convert('RGB'))
    assert out.shape == img.shape
    assert np.array_equal(out[mask == 0], img[mask == 0])      # known pixels kept
    for labels in (masked_map, sir_map):
        assert np.asarray(Image.open(labels)).shape[:2] == img.shape[:2]
    output, _, _, status = _inpaint(client, path, mask_path, scale=2, text='water')
    assert Image.open(output).size == (128, 96) and 'steered to "water"' in status
    # open_image: the same upload as the page's file box
    editor, status, _ = client.predict(__import__('gradio_client').handle_file(str(path)),
                                       api_name='/open_image')
    assert status.startswith('Opened picture.png (64x48)') and editor['background']


def _bomb(path, side):
    """A valid PNG of side x side black pixels, a few kB on disk (a decompression bomb)."""
    import struct

    def chunk(kind, data):
        body = kind + data
        return struct.pack('>I', len(data)) + body + struct.pack('>I', zlib.crc32(body))
    raw = zlib.compress(b''.join(b'\x00' + bytes(side) for _ in range(side)), 9)
    ihdr = struct.pack('>IIBBBBB', side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', raw)
                     + chunk(b'IEND', b''))
    return path


def _bad_uploads(tmp_path):
    _, _, good, _ = _picture(tmp_path)
    cases = {}
    cases['empty'] = (tmp_path / 'empty.png', 'empty file (0 bytes)')
    cases['empty'][0].write_bytes(b'')
    data = good.read_bytes()
    cases['truncated'] = (tmp_path / 'cut.png', 'corrupt or truncated')
    cases['truncated'][0].write_bytes(data[:len(data) // 2])
    cases['not_an_image'] = (tmp_path / 'notes.png', 'not an image file')
    cases['not_an_image'][0].write_text('these are notes')
    cases['extension'] = (tmp_path / 'picture.txt', 'not an image file name')
    cases['extension'][0].write_bytes(data)
    cases['bomb'] = (_bomb(tmp_path / 'bomb.png', 20000), 'decompression bomb')
    cases['too_large'] = (tmp_path / 'large.png', f'above the upload limit of '
                                                  f'{(4 * MAX_SIDE) ** 2} pixels')
    Image.fromarray(np.zeros((300, 300, 3), np.uint8)).save(cases['too_large'][0])
    return cases


def test_bad_uploads_are_one_line(client, tmp_path):
    from gradio_client import handle_file
    for kind, (path, expect) in _bad_uploads(tmp_path).items():
        editor, status, _ = client.predict(handle_file(str(path)), api_name='/open_image')
        assert editor is None, kind
        assert status.startswith('Error: ') and expect in status and '\n' not in status, \
            (kind, status)
        assert str(tmp_path) not in status  # named by the file name, not the server's folder
    # the same files as the mask of a request
    img, mask, path, _ = _picture(tmp_path)
    for kind, (bad, expect) in _bad_uploads(tmp_path).items():
        output, _, _, status = _inpaint(client, path, bad)
        assert output is None and status.startswith('Error: ') and expect in status, \
            (kind, status)
    # an image above --max-side is downscaled, and the status says so
    big = tmp_path / 'big.png'
    Image.fromarray(np.zeros((96, 128, 3), np.uint8)).save(big)
    hole = tmp_path / 'big_hole.png'
    hole_arr = np.zeros((96, 128), np.uint8)
    hole_arr[30:60, 30:60] = 255
    Image.fromarray(hole_arr).save(hole)
    output, _, _, status = _inpaint(client, big, hole)
    assert f'resized from 128x96 to 64x48 (limit {MAX_SIDE} px)' in status
    # the server is unaffected
    output, _, _, status = _inpaint(client, path, tmp_path / 'hole.png')
    assert status.startswith('Filled')


def test_errors_are_the_pages_one_line(client, tmp_path):
    img, mask, path, _ = _picture(tmp_path)
    empty = tmp_path / 'no_hole.png'
    Image.fromarray(np.zeros((48, 64), np.uint8)).save(empty)
    output, _, _, status = _inpaint(client, path, empty)
    assert output is None and status.startswith('Error: no hole')
    small = tmp_path / 'small.png'
    Image.fromarray(np.full((10, 10), 255, np.uint8)).save(small)
    _, _, _, status = _inpaint(client, path, small)
    assert status == 'Error: mask small.png is 10x10 but the image is 64x48 (W x H)'
    assert os.path.basename(str(small)) in status
