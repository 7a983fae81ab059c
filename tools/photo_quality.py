"""Hole quality of the large-photo strategies on demo scenes rendered natively at 4x and 8x.

    python tools/photo_quality.py                                   # the demo checkpoint
    python tools/photo_quality.py --sizes 256 512 --num-images 40 --mask-seeds 0 1 2 \
        --out results/photo_quality
    python tools/photo_quality.py --lpips alex                      # with LPIPS weights on disk

Compares ``crop-native`` (the ``crop`` strategy: AIR renders the hole at the photo's pixel grid),
``crop-bicubic`` (the fill rendered at the working size and bicubically upsampled), ``resize``
and ``full`` on the hole's PSNR/SSIM (and LPIPS), mean ± std over mask seeds, with paired 95 %
intervals of ``crop-native`` against the others; writes ``results.json`` and ``tables.md``.
A thin CLI over :mod:`sair_toolbox.experiments.photo_quality`.
"""
import argparse

from sair_toolbox.utils.errors import cli_main


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Hole quality of the large-photo strategies')
    parser.add_argument('--config', default='configs/sair/sair_demo.py',
                        help='model config (default: %(default)s)')
    parser.add_argument('--checkpoint', default=None,
                        help='checkpoint (default: the last one in work_dirs/<config name>)')
    parser.add_argument('--sizes', type=int, nargs='+', default=[256, 512],
                        help='photo sides, the val scenes rendered natively (default: 256 512)')
    parser.add_argument('--num-images', type=int, default=40,
                        help='demo val scenes (default: %(default)s)')
    parser.add_argument('--mask-seeds', type=int, nargs='+', default=[0, 1, 2],
                        help='seeds of the holes (default: 0 1 2)')
    parser.add_argument('--methods', nargs='+', default=None,
                        help='subset of crop-native crop-bicubic resize full (default: all)')
    parser.add_argument('--lpips', default=None, choices=['alex', 'vgg', 'squeeze'],
                        help='also score LPIPS (its backbone weights must be on disk)')
    parser.add_argument('--threads', type=int, default=2, help='torch threads (default 2)')
    parser.add_argument('--out', default='results/photo_quality',
                        help='output folder (default: %(default)s)')
    return parser.parse_args(argv)


@cli_main
def main(argv=None) -> int:
    args = parse_args(argv)
    from sair_toolbox.apis.inferencer import resolve_checkpoint, resolve_config
    from sair_toolbox.experiments.photo_quality import (METHODS, run_photo_quality, summarize,
                                                        write_outputs)
    config = resolve_config(args.config)
    checkpoint = resolve_checkpoint(config, args.checkpoint)
    result = run_photo_quality(config, checkpoint, args.sizes, args.num_images, args.mask_seeds,
                               args.methods or METHODS, lpips=args.lpips, threads=args.threads)
    print(summarize(result))
    for path in write_outputs(result, args.out):
        print(f'wrote {path}')
    return 0


if __name__ == '__main__':
    main()
