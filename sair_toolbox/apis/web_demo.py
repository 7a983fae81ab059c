"""The browser demo: draw a hole, inpaint at any scale, see SIR's class maps, steer with text.

``build_demo(inferencer)`` returns a Gradio ``Blocks`` page (``tools/web_demo.py`` launches it):

* open an image file (or pick one of the examples, e.g. the demo's val images), draw the hole
  with the brush (or upload a mask file; both are combined), choose the output scale (1x-4x:
  AIR is a continuous representation) and press *Inpaint*;
* the result, and the zero-shot class maps of the masked image's semantic features ("without
  SIR") and of the SIR field AIR rendered from ("with SIR") side by side -- the paper's Fig. 3,
  live -- with a legend;
* text-guided fill: name a class (or type a prompt) and the SIR field inside the hole is steered
  to its text embedding before AIR renders it (:mod:`sair_toolbox.models.field_edits`).

One model serves every browser tab: the caller queues requests one at a time
(``demo.queue(default_concurrency_limit=1)``, as the tool does). Photos of any size up to
``max_pixels`` (default :data:`MAX_PIXELS`, 50 megapixels: phone photos) are inpainted at their
own size by the large-photo strategies (:mod:`sair_toolbox.apis.strategies`, the page's *Large
photos* choice, ``auto`` by default: each hole's crop at the model's working size, the hole
rendered at the photo's pixel grid); only the ``full`` strategy (and any output scale other than
1, which renders the whole image) downscales inputs larger than ``max_side`` first (and the page
says so). Outputs are capped at ``max_output_side`` for scales above 1, uploads are checked
before decoding (:func:`check_upload`: image file names only, no empty files, at most
``max_pixels`` pixels announced by the header -- no decompression bombs), and the tool limits
the upload size and the memory of a request. User
errors (a file that is not an image, a mask of another size, no hole, a request that cannot fit)
appear as one line in the page's status box.

The page is also an API: ``/inpaint`` and ``/open_image`` (``gradio_client``; the README lists
their inputs and outputs), answering errors with the same status line.

Gradio is imported inside :func:`build_demo`, so importing this module is cheap.
"""
import html
import logging
import os
import os.path as osp
import time
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from sair_toolbox.models.field_edits import GUIDANCE_SCALES
from sair_toolbox.utils.errors import DataError, SAIRError, one_line

from .inferencer import SAIRInferencer
from .inputs import to_mask, to_rgb
from .strategies import STRATEGIES

#: Uploads announcing more pixels are refused before decoding (default): 50 megapixels, above
#: every phone camera's 12-48 MP, within what the crop strategy handles in a few hundred MB.
MAX_PIXELS = 50_000_000

#: The text-guidance choice meaning "no guidance".
NO_TEXT = '(none: SIR infers the hole)'
#: Small images (the 64 x 64 demo) are shown enlarged with sharp pixels.
DEMO_CSS = """
#output img, #map_masked img, #map_sir img { image-rendering: pixelated; width: 100%;
  height: 100%; object-fit: contain; }
"""

logger = logging.getLogger(__name__)


def example_images(cfg, limit: int = 8) -> List[str]:
    """Paths of the first ``limit`` images of the config's val set (e.g. the demo data, generated
    on first use), or ``[]`` when that data set is not on disk."""
    from sair_toolbox.registry import DATASETS
    dataset_cfg = (cfg.get('val_dataloader') or {}).get('dataset')
    if not dataset_cfg:
        return []
    try:
        dataset = DATASETS.build(dataset_cfg)
        return [dataset.get_data_info(i)['img_path'] for i in range(min(limit, len(dataset)))]
    except (SAIRError, OSError, KeyError) as exc:
        logger.warning('web demo: no example images (%s)', one_line(exc))
        return []


def _shrink(rgb: np.ndarray, hole: np.ndarray, max_side: int
            ) -> Tuple[np.ndarray, np.ndarray, Optional[str]]:
    """Downscale an image and its hole so that the longer side is at most ``max_side``."""
    h, w = hole.shape
    if max(h, w) <= max_side:
        return rgb, hole, None
    from PIL import Image
    f = max_side / max(h, w)
    size = (max(1, round(w * f)), max(1, round(h * f)))
    rgb = np.asarray(Image.fromarray(rgb).resize(size, Image.LANCZOS))
    hole = np.asarray(Image.fromarray((hole > 0).astype(np.uint8) * 255).resize(
        size, Image.NEAREST)).astype(np.float32) / 255
    return rgb, hole, f'resized from {w}x{h} to {size[0]}x{size[1]} (limit {max_side} px)'


def legend_html(class_names: Optional[Sequence[str]], palette: Optional[np.ndarray]) -> str:
    """Colour swatches with the class names (HTML)."""
    if not class_names or palette is None:
        return '<p>No class maps: the model has no SIR or no class names.</p>'
    items = ''.join(
        f'<span style="display:inline-block;margin:2px 10px 2px 0">'
        f'<span style="display:inline-block;width:14px;height:14px;vertical-align:middle;'
        f'background:rgb({c[0]},{c[1]},{c[2]});border:1px solid #444"></span> '
        f'{html.escape(str(n))}</span>' for n, c in zip(class_names, palette))
    return f'<div id="legend">{items}</div>'


def check_upload(path: str, what: str, max_pixels: int) -> None:
    """Refuse an uploaded file before it is decoded, in one :class:`DataError` line.

    Read from the file's name and header only: a name without an image extension, an empty file,
    and an image whose header announces more than ``max_pixels`` pixels (a decompression bomb, or
    simply a photo far above ``--max-side``) never reach the decoder. What the header cannot tell
    (a truncated or corrupt body) is found when the file is decoded.

    Args:
        path: the uploaded file (Gradio's temporary copy).
        what: ``'image'`` or ``'mask'``, for the message.
        max_pixels: the most pixels (W x H) an upload may have.
    """
    from PIL import Image

    from sair_toolbox.datasets.image_io import IMAGE_EXTENSIONS
    name = osp.basename(path)
    if not name.lower().endswith(IMAGE_EXTENSIONS):
        raise DataError(f'{what} {name} is not an image file name (expected one of '
                        f'{", ".join(IMAGE_EXTENSIONS)})')
    if not osp.isfile(path):
        raise DataError(f'{what} file {name} was not received')
    if osp.getsize(path) == 0:
        raise DataError(f'cannot read {what} {name}: empty file (0 bytes)')
    try:
        with Image.open(path) as img:  # the header only: nothing is decoded here
            w, h = img.size
    except Image.DecompressionBombError as exc:
        raise DataError(f'{what} {name} refused before decoding: a possible decompression bomb '
                        f'({one_line(exc)})') from None
    except Exception:  # noqa: BLE001 -- the decoder's own one-line message comes later
        return
    if w * h > max_pixels:
        raise DataError(f'{what} {name} is {w}x{h} pixels, above the upload limit of '
                        f'{max_pixels} pixels (refused before decoding)')


class WebDemo:
    """The request handlers of the page, independent of Gradio (see :func:`build_demo`).

    Args:
        inferencer: the one model every request uses.
        max_side: longer input side above which inputs are downscaled.
        max_output_side: longer output side; larger scales are reduced to fit.
        max_pixels: uploads whose header announces more pixels are refused before decoding
            (:func:`check_upload`); default :data:`MAX_PIXELS`.
    """

    def __init__(self, inferencer: SAIRInferencer, max_side: int = 1024,
                 max_output_side: int = 2048, max_pixels: Optional[int] = None):
        self.inferencer = inferencer
        self.max_side = int(max_side)
        self.max_output_side = int(max_output_side)
        self.max_pixels = int(max_pixels) if max_pixels else MAX_PIXELS
        self._out_dir = None
        self._recent = []
        self.legend = legend_html(inferencer.class_names if inferencer.has_semantics else None,
                                  inferencer.palette)

    @staticmethod
    def _message(exc: BaseException, paths: Sequence[Optional[str]] = ()) -> str:
        """One line; uploads are named by their file name, not Gradio's temporary folder."""
        msg = one_line(exc)
        for path in paths:
            if path:
                msg = msg.replace(str(path), osp.basename(str(path)))
        return f'Error: {msg}'

    def open_image(self, path: Optional[str]):
        """An uploaded file -> (editor value or None, status line, None to clear the box)."""
        if not path:
            return None, '', None
        try:
            check_upload(path, 'image', self.max_pixels)
            rgb = to_rgb(path)
        except SAIRError as exc:
            return None, self._message(exc, [path]), None
        except Exception as exc:  # never a traceback in the page; the log keeps it
            logger.exception('web demo: opening an upload failed')
            return None, f'Error: unexpected {type(exc).__name__}: {one_line(exc)}', None
        h, w = rgb.shape[:2]
        return (dict(background=rgb, layers=[], composite=rgb),
                f'Opened {osp.basename(path)} ({w}x{h}); draw the hole with the brush.', None)

    @staticmethod
    def _from_editor(value: Any) -> Tuple[Optional[np.ndarray], Optional[np.ndarray]]:
        """(RGB image, drawn hole) of an ImageEditor value; the hole is any painted pixel."""
        if not isinstance(value, dict) or value.get('background') is None:
            return None, None
        background = value['background']
        if isinstance(background, str):  # a file path (an API client that sent a file)
            rgb = to_rgb(background, 'the editor image')
        else:
            rgb = to_rgb(np.asarray(background), 'the editor image')
        drawn = np.zeros(rgb.shape[:2], bool)
        for layer in value.get('layers') or []:
            layer = np.asarray(layer)
            if layer.ndim == 3 and layer.shape[:2] == drawn.shape:
                drawn |= layer[..., -1] > 0 if layer.shape[2] == 4 else layer.max(axis=2) > 0
        return rgb, drawn

    def inpaint(self, editor: Any, mask_path: Optional[str], scale: float, text: Optional[str],
                strength: float, guidance_scale: str, strategy: Optional[str] = 'auto'):
        """One request -> (output, class map without SIR, class map with SIR, status line)."""
        empty = (None, None, None)
        try:
            rgb, drawn = self._from_editor(editor)
            if rgb is None:
                raise DataError('no image: open an image file or pick an example first')
            hole = drawn.astype(np.float32)
            if rgb.shape[0] * rgb.shape[1] > self.max_pixels:
                raise DataError(f'the image is {rgb.shape[1]}x{rgb.shape[0]} pixels, above the '
                                f'upload limit of {self.max_pixels} pixels')
            if mask_path:
                check_upload(mask_path, 'mask', self.max_pixels)
                uploaded = to_mask(mask_path)
                if uploaded.shape != hole.shape:
                    raise DataError(f'mask {mask_path} is {uploaded.shape[1]}x'
                                    f'{uploaded.shape[0]} but the image is {hole.shape[1]}x'
                                    f'{hole.shape[0]} (W x H)')
                hole = np.maximum(hole, uploaded)
            if not hole.any():
                raise DataError('no hole: draw over the part to fill with the brush (or upload a '
                                'mask, white = hole)')
            scale = float(scale or 1)
            strategy = strategy or 'auto'
            plan = self.inferencer.plan(rgb.shape[:2], rgb.shape[:2], None, strategy) \
                if scale == 1 else None
            note = ''
            if plan is None or plan.strategy == 'full':  # the whole image at its resolution
                rgb, hole, note = _shrink(rgb, hole, self.max_side)
            top = self.max_output_side / max(hole.shape)
            if scale > 1 and scale > top:  # a photo's own size is never reduced
                scale = max(top, 1.0)
                note = ', '.join(filter(None, [note, f'scale reduced to {scale:.2f} '
                                                     f'(output limit {self.max_output_side} px)']))
            text = None if not text or text == NO_TEXT else text
            start = time.perf_counter()
            result = self.inferencer(rgb, hole, scale=scale, text=text, strength=strength,
                                     guidance_scale=guidance_scale, strategy=strategy)
            took = time.perf_counter() - start
        except SAIRError as exc:
            return (*empty, self._message(exc, [mask_path]))
        except Exception as exc:  # never a traceback in the page; the log keeps it
            logger.exception('web demo: inpainting failed')
            return (*empty, f'Error: unexpected {type(exc).__name__}: {one_line(exc)} '
                            '(see the server log)')
        h, w = hole.shape
        oh, ow = result.output.shape[:2]
        how = result.strategy + (f', {len(result.crops)} crop{"s" * (len(result.crops) != 1)}'
                                 if result.strategy == 'crop' else '')
        note = ', '.join(filter(None, [note, result.note]))
        status = (f'Filled {100 * hole.mean():.1f}% of {w}x{h} -> {ow}x{oh}'
                  + (f', hole steered to "{text}"' if text else '') + f' in {took:.2f} s'
                  + f' (strategy {how}' + (f'; {note})' if note else ')'))
        maps = [self._to_file(self._for_display(c))
                for c in (result.colors_masked, result.colors_sir)]
        return (self._to_file(result.output), *maps, status)

    def _for_display(self, colors: Optional[np.ndarray]) -> Optional[np.ndarray]:
        """A class map to show: at most ``max_side`` pixels on its longer side (nearest). The
        maps of a large photo come from its working-size encoding anyway (``resize``/``crop``),
        so a 12-megapixel copy would only cost encoding and transfer time."""
        if colors is None or max(colors.shape[:2]) <= self.max_side:
            return colors
        from sair_toolbox.datasets.image_io import resize_nearest
        f = self.max_side / max(colors.shape[:2])
        return resize_nearest(colors, (max(1, round(colors.shape[0] * f)),
                                       max(1, round(colors.shape[1] * f))))

    #: Output files kept on disk (Gradio copies each into its cache when the request ends).
    KEEP_FILES = 64

    def _to_file(self, image: Optional[np.ndarray]) -> Optional[str]:
        """An output image as a PNG file named by its content, written atomically.

        Returned as a path rather than an array: Gradio caches an array by rewriting the file of
        its content hash in place, so two requests with the same picture (the class maps often
        are) raced, and a client downloading one got a truncated file; a path is copied into the
        cache atomically and never rewritten.
        """
        if image is None:
            return None
        import hashlib
        import tempfile

        from .batch import save_atomic
        if self._out_dir is None:
            self._out_dir = tempfile.mkdtemp(prefix='sair_web_demo_')
        image = np.ascontiguousarray(image)
        digest = hashlib.sha256(image.tobytes() + str(image.shape).encode()).hexdigest()[:32]
        path = osp.join(self._out_dir, f'{digest}.png')
        if not osp.isfile(path):
            save_atomic(image, path)
        if path in self._recent:
            self._recent.remove(path)
        self._recent.append(path)
        while len(self._recent) > self.KEEP_FILES:
            old = self._recent.pop(0)
            if osp.isfile(old):
                os.remove(old)
        return path


def build_demo(inferencer: SAIRInferencer, examples: Sequence[str] = (), max_side: int = 1024,
               max_output_side: int = 2048, title: str = 'SAIR: semantic-aware inpainting',
               max_pixels: Optional[int] = None):
    """The Gradio page over one inferencer (see the module docstring).

    Two API endpoints (``gradio_client``, see the README): ``/inpaint`` (the *Inpaint* button)
    and ``/open_image`` (the file box).

    Args:
        inferencer: the model to serve (built here if not yet).
        examples: image paths offered as examples (e.g. :func:`example_images`).
        max_side, max_output_side, max_pixels: see :class:`WebDemo`.
        title: page title.

    Returns:
        ``gradio.Blocks``; call ``.queue(default_concurrency_limit=1)`` and ``.launch(...)``.
    """
    os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
    import gradio as gr

    app = WebDemo(inferencer, max_side, max_output_side, max_pixels)
    names = inferencer.class_names if inferencer.has_semantics else None
    strength = float(inferencer.guidance['strength'])
    with gr.Blocks(title=title, analytics_enabled=False) as demo:
        gr.Markdown(f'## {html.escape(title)}\nOpen an image, paint the hole, press **Inpaint**. '
                    f'Model: `{osp.basename(inferencer.config)}` + '
                    f'`{osp.basename(inferencer.checkpoint)}`.')
        with gr.Row():
            with gr.Column(scale=1):
                upload = gr.File(label='Open an image file', elem_id='upload', height=100)
                editor = gr.ImageEditor(
                    label='Image: paint the hole', type='numpy', image_mode='RGBA',
                    elem_id='editor', sources=('upload', 'clipboard'), transforms=(),
                    layers=False, canvas_size=(512, 512), format='png',
                    brush=gr.Brush(colors=['#ff00ff'], color_mode='fixed', default_size=8))
                if examples:
                    gr.Examples(examples=[[p] for p in examples], inputs=[editor],
                                label='Examples (the demo val images)', examples_per_page=8)
                mask_file = gr.File(label='Mask file (optional, white = hole)',
                                    elem_id='mask_upload', height=100)
                scale = gr.Slider(1, 4, value=1, step=0.25, label='Output scale',
                                  elem_id='scale')
                strategy = gr.Radio(list(STRATEGIES), value=inferencer.strategy,
                                    label='Large photos (auto: crops around each hole at the '
                                    "model's working size; full: the whole photo)",
                                    elem_id='strategy')
                with gr.Accordion('Text-guided fill', open=names is not None):
                    text = gr.Dropdown(
                        choices=[NO_TEXT] + list(names or []), value=NO_TEXT,
                        allow_custom_value=True, elem_id='text', interactive=names is not None,
                        label='Fill the hole with (a class, or type a prompt)')
                    strength_in = gr.Slider(0, 2, value=strength, step=0.05,
                                            label='Guidance strength (1 = replace)')
                    scale_in = gr.Radio(list(GUIDANCE_SCALES),
                                        value=inferencer.guidance['scale'],
                                        label='Steered field scale')
                run = gr.Button('Inpaint', variant='primary', elem_id='run')
                status = gr.Markdown(elem_id='status')
            with gr.Column(scale=1):
                output = gr.Image(label='Result', type='numpy', elem_id='output',
                                  interactive=False, format='png', height=400)
                with gr.Row():
                    map_masked = gr.Image(label='Classes without SIR',
                                          type='numpy', elem_id='map_masked', interactive=False,
                                          format='png', height=260)
                    map_sir = gr.Image(label='Classes with SIR', type='numpy',
                                       elem_id='map_sir', interactive=False, format='png',
                                       height=260)
                gr.HTML(app.legend)
        upload.upload(app.open_image, inputs=upload, outputs=[editor, status, upload],
                      api_name='open_image')
        run.click(app.inpaint,
                  inputs=[editor, mask_file, scale, text, strength_in, scale_in, strategy],
                  outputs=[output, map_masked, map_sir, status], api_name='inpaint')
    return demo


def serve(demo, host: str = '127.0.0.1', port: int = 7860, max_file_size: str = '64mb',
          max_queue: int = 32, allowed_paths: Sequence[str] = (),
          max_pixels: Optional[int] = None, **launch_kwargs):
    """Queue requests one at a time (one model in memory) and start the server.

    Args:
        demo: what :func:`build_demo` returned.
        host, port: where to listen.
        max_file_size: upload limit (Gradio's ``max_file_size``).
        max_queue: requests waiting at most; more are refused with Gradio's one line
            ("Queue is full").
        allowed_paths: folders the page may serve files from (the example images).
        max_pixels: PIL's decompression-bomb guard of this process is lowered to it, so that
            every decoder, Gradio's own included, refuses an image above twice that many pixels
            (``Image.MAX_IMAGE_PIXELS``: a warning above it, an error above twice it).
        **launch_kwargs: passed to ``demo.launch`` (e.g. ``prevent_thread_lock=True``).
    """
    if max_pixels:
        from PIL import Image
        Image.MAX_IMAGE_PIXELS = min(Image.MAX_IMAGE_PIXELS or max_pixels, max_pixels)
    demo.queue(default_concurrency_limit=1, max_size=max_queue)
    return demo.launch(server_name=host, server_port=port, max_file_size=max_file_size,
                       ssr_mode=False, footer_links=[], css=DEMO_CSS,
                       allowed_paths=list(allowed_paths), **launch_kwargs)
