"""Inpaint your own images with a trained SAIR model, at any output resolution.

    python tools/inpaint.py --img photo.jpg --mask hole.png --out filled.png
    python tools/inpaint.py --img photos/ --mask masks/ --out results/ --scale 2
    python tools/inpaint.py --config configs/sair/sair_celebahq.py \
        --checkpoint work_dirs/sair_celebahq/iter_312600.pth --img a.png --mask m.png --out b.png
    python tools/inpaint.py --img photo.png --mask hole.png --out water.png --text water

Images of any mode (RGB, RGBA, grayscale, palette, 16-bit) are converted to RGB explicitly; masks
are binarised with ``--threshold`` and their polarity set by ``--polarity`` (default: white =
hole). With folders, each image is paired with the mask of the same file stem; every pair is
read and checked before the model is built. At scale 1 the output keeps every known pixel and
fills the hole; at any other size the continuous representation is rendered on the new pixel
grid. ``--text`` steers the hole's semantics to a class name or a prompt (text-guided fill,
models with SIR). A thin CLI over :class:`sair_toolbox.apis.SAIRInferencer`.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from sair_toolbox.apis.inferencer import DEFAULT_CONFIG  # noqa: E402
from sair_toolbox.utils.errors import cli_main  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Inpaint images with a trained SAIR model.')
    parser.add_argument('--img', required=True, help='an image file or a folder of images')
    parser.add_argument('--mask', required=True,
                        help='a mask file or a folder of masks (same file stems as the images)')
    parser.add_argument('--out', required=True, help='output file (one image) or folder')
    parser.add_argument('--config', default=DEFAULT_CONFIG,
                        help=f'model config (default: {DEFAULT_CONFIG})')
    parser.add_argument('--checkpoint', default=None,
                        help='checkpoint (default: the last one in work_dirs/<config name>)')
    size = parser.add_mutually_exclusive_group()
    size.add_argument('--scale', type=float, default=1.0,
                      help='output size = input size x scale (default 1)')
    size.add_argument('--size', type=int, nargs=2, metavar=('H', 'W'), help='output size')
    parser.add_argument('--threshold', type=float, default=0.5,
                        help='mask binarisation threshold, fraction of white (default 0.5)')
    parser.add_argument('--polarity', default='white_is_hole',
                        choices=['white_is_hole', 'black_is_hole'])
    parser.add_argument('--text', default=None,
                        help='text-guided fill: a class name or a prompt for the hole')
    parser.add_argument('--strength', type=float, default=None,
                        help='text guidance strength (default: config text_guidance, else 1)')
    parser.add_argument('--guidance-scale', default=None,
                        choices=['match_norm', 'region_norm', 'unit'],
                        help='how the steered field is scaled (default: match_norm)')
    parser.add_argument('--device', default=None, help='cpu, cuda, cuda:1 ... (default: auto)')
    parser.add_argument('--precision', default='fp32', choices=['fp32', 'bf16', 'fp16'],
                        help='autocast precision (default fp32)')
    return parser.parse_args(argv)


@cli_main
def main(argv=None):
    args = parse_args(argv)
    from sair_toolbox.apis import SAIRInferencer
    from sair_toolbox.apis.inputs import output_size, pair_files
    output_size((1, 1), None if args.size else args.scale, args.size)  # flags checked first
    triples = pair_files(args.img, args.mask, args.out)
    inferencer = SAIRInferencer(args.config, args.checkpoint, device=args.device,
                                precision=args.precision, threshold=args.threshold,
                                polarity=args.polarity)
    results = inferencer.iter([t[0] for t in triples], [t[1] for t in triples],
                              scale=args.scale, size=args.size, text=args.text,
                              strength=args.strength, guidance_scale=args.guidance_scale,
                              labels=False)
    single = len(triples) == 1
    for (img_path, _, out_path), result in zip(triples, results):
        result.save(out_path)
        if single:
            h, w = result.mask.shape
            print(f'{img_path} ({w}x{h}, hole {100.0 * result.mask.mean():.1f}%) -> {out_path} '
                  f'({result.output.shape[1]}x{result.output.shape[0]})')
    if not single:
        print(f'\n{len(triples)} images -> {osp.dirname(triples[0][2]) or "."}')


if __name__ == '__main__':
    main()
