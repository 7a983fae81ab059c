"""The browser demo: draw a hole, inpaint at any scale, see SIR's class maps, steer with text.

    python tools/web_demo.py                  # the demo config and its last checkpoint
    python tools/web_demo.py --config configs/sair/sair_celebahq.py \
        --checkpoint work_dirs/sair_celebahq/iter_312600.pth --host 0.0.0.0 --port 7860

Needs the optional extra: ``pip install -r requirements/web.txt`` (Gradio). One model serves
every browser tab; requests queue one at a time (at most ``--max-queue`` waiting; more are
refused in one line). Uploads above ``--max-pixels`` and requests above ``--max-memory`` are
refused in one line. The page is also an API (``gradio_client``: ``/inpaint``, ``/open_image``;
see the README). A thin launcher over :func:`sair_toolbox.apis.web_demo.build_demo`.
"""
import argparse
import os
import os.path as osp

from sair_toolbox.apis.inferencer import DEFAULT_CONFIG
from sair_toolbox.apis.strategies import STRATEGIES
from sair_toolbox.utils.errors import ConfigError, cli_main


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Browser demo of a trained SAIR model.')
    parser.add_argument('--config', default=DEFAULT_CONFIG,
                        help=f'model config (default: {DEFAULT_CONFIG})')
    parser.add_argument('--checkpoint', default=None,
                        help='checkpoint (default: the last one in work_dirs/<config name>)')
    parser.add_argument('--host', default='127.0.0.1',
                        help='address to listen on (default 127.0.0.1; 0.0.0.0 for all)')
    parser.add_argument('--port', type=int, default=7860, help='port (default 7860)')
    parser.add_argument('--device', default=None, help='cpu, cuda, ... (default: auto)')
    parser.add_argument('--precision', default='auto', choices=['auto', 'fp32', 'bf16', 'fp16'],
                        help='autocast precision (default auto: bf16 where the CPU or GPU has '
                        'native bfloat16 kernels, fp16 on CUDA without bfloat16, else fp32)')
    parser.add_argument('--max-side', type=int, default=1024,
                        help='with strategy full (or an output scale above 1), inputs with a '
                        'longer side are downscaled to it (default 1024)')
    parser.add_argument('--strategy', default='auto', choices=STRATEGIES,
                        help='the page\'s default large-photo strategy (default auto)')
    parser.add_argument('--working-size', type=int, default=None,
                        help='the resolution the model was trained at (default: the config\'s '
                        'img_size)')
    parser.add_argument('--max-output-side', type=int, default=2048,
                        help='longest output side; larger scales are reduced (default 2048)')
    parser.add_argument('--max-file-size', default='64mb', help='upload limit (default 64mb)')
    parser.add_argument('--max-queue', type=int, default=32,
                        help='requests waiting at most; more are refused (default 32)')
    parser.add_argument('--max-pixels', type=int, default=None,
                        help='uploads announcing more pixels are refused before decoding '
                             '(default 50000000: phone photos)')
    parser.add_argument('--max-memory', default=None,
                        help='most memory one request may need, e.g. 4GB (default: '
                             'SAIR_MAX_MEMORY, else 80%% of the available memory)')
    parser.add_argument('--num-examples', type=int, default=8,
                        help='val images of the config offered as examples (default 8)')
    return parser.parse_args(argv)


@cli_main
def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise ConfigError('the web demo needs Gradio: pip install -r requirements/web.txt') \
            from None
    from sair_toolbox.apis import SAIRInferencer
    from sair_toolbox.apis.web_demo import MAX_PIXELS, build_demo, example_images, serve
    if min(args.max_side, args.max_output_side) < 8:
        raise ConfigError('--max-side and --max-output-side must be at least 8')
    if args.max_queue < 1:
        raise ConfigError(f'--max-queue must be at least 1, got {args.max_queue}')
    max_pixels = args.max_pixels or MAX_PIXELS
    if max_pixels < args.max_side ** 2:
        raise ConfigError(f'--max-pixels ({max_pixels}) must be at least --max-side squared')
    inferencer = SAIRInferencer(args.config, args.checkpoint, device=args.device,
                                precision=args.precision, max_memory=args.max_memory,
                                strategy=args.strategy, working_size=args.working_size)
    inferencer.model  # build now: errors at start, and the first request is not slow
    examples = example_images(inferencer.cfg, args.num_examples) if args.num_examples else []
    demo = build_demo(inferencer, examples, args.max_side, args.max_output_side,
                      max_pixels=max_pixels)
    serve(demo, args.host, args.port, args.max_file_size, args.max_queue,
          allowed_paths=sorted({osp.dirname(osp.abspath(p)) for p in examples}),
          max_pixels=max_pixels)


if __name__ == '__main__':
    main()
