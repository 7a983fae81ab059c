"""Inpaint your own images with a trained SAIR model, at any output resolution.

    python tools/inpaint.py --img photo.jpg --mask hole.png --out filled.png
    python tools/inpaint.py --img photos/ --mask masks/ --out results/ --scale 2
    python tools/inpaint.py --img photos/ --mask masks/ --out results/ --skip-existing  # resume
    python tools/inpaint.py --config configs/sair/sair_celebahq.py \
        --checkpoint work_dirs/sair_celebahq/iter_312600.pth --img a.png --mask m.png --out b.png
    python tools/inpaint.py --img photo.png --mask hole.png --out water.png --text water
    python tools/inpaint.py --img phone.jpg --mask hole.png --out filled.png --strategy crop

Photos of any size (:mod:`sair_toolbox.apis.strategies`): by default (``--strategy auto``) a
photo larger than the model's working size (its config's ``img_size``: 64 for the demo, 256 for
the paper's configs) is inpainted by crops -- each hole with its context, resized to the working
size, the hole rendered by AIR at the photo's own pixel grid --; ``resize`` encodes the whole photo
at the working size, ``full`` at its own resolution. The EXIF orientation is applied.
Images of any mode (RGB, RGBA, grayscale, palette, 16-bit, CMYK) are converted to RGB; masks
are binarised with ``--threshold`` and their polarity set by ``--polarity`` (default: white =
hole). With folders, each image is paired with the mask of the same file stem, and the run loses
nothing (:mod:`sair_toolbox.apis.batch`): a progress bar, a bad file is reported and skipped,
a summary at the end (exit status 1 if any image failed), every output written atomically
(temporary file + rename), and ``--skip-existing`` continues an interrupted run. A request that
cannot fit in memory (``--max-memory``, default 80% of the available RAM) is refused in one
line before it runs. At scale 1 the output keeps every known pixel and
fills the hole; at any other size the continuous representation is rendered on the new pixel
grid. ``--text`` steers the hole's semantics to a class name or a prompt (text-guided fill,
models with SIR). A thin CLI over :class:`sair_toolbox.apis.SAIRInferencer`.
"""
import argparse
import os.path as osp
import sys

from sair_toolbox.apis.inferencer import DEFAULT_CONFIG
from sair_toolbox.apis.strategies import STRATEGIES
from sair_toolbox.models.field_edits import GUIDANCE_SCALES
from sair_toolbox.utils.errors import cli_main


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
    size.add_argument('--scale', type=float, default=None,
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
    parser.add_argument('--guidance-scale', default=None, choices=GUIDANCE_SCALES,
                        help='how the steered field is scaled (default: config text_guidance, '
                        f'else {GUIDANCE_SCALES[0]})')
    parser.add_argument('--device', default=None, help='cpu, cuda, cuda:1 ... (default: auto)')
    parser.add_argument('--precision', default='auto', choices=['auto', 'fp32', 'bf16', 'fp16'],
                        help='autocast precision (default auto: bf16 where the CPU or GPU has '
                        'native bfloat16 kernels, fp16 on CUDA without bfloat16, else fp32)')
    parser.add_argument('--strategy', default='auto', choices=STRATEGIES,
                        help='how a photo is fed to the model (default auto: crop for a photo '
                        'larger than the working size at its own size, else full); full = the '
                        'whole photo at its resolution, resize = the photo at the working size, '
                        'crop = each hole with its context at the working size; resize and crop '
                        'render the hole at the photo\'s own pixel grid')
    parser.add_argument('--working-size', type=int, default=None,
                        help='the resolution the model was trained at (default: the config\'s '
                        'img_size)')
    parser.add_argument('--skip-existing', action='store_true',
                        help='keep outputs that already exist (continue an interrupted run)')
    parser.add_argument('--max-memory', default=None,
                        help='most memory one image may need, e.g. 8GB (default: '
                             'SAIR_MAX_MEMORY, else 80%% of the available memory)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    return parser.parse_args(argv)


@cli_main
def main(argv=None) -> int:
    """Returns 0; a folder run with failed images exits with status 1 after its summary."""
    args = parse_args(argv)
    from sair_toolbox.apis import SAIRInferencer
    from sair_toolbox.apis.batch import run_batch, save_atomic
    from sair_toolbox.apis.inputs import output_size, pair_files
    from sair_toolbox.apis.memory import parse_bytes
    output_size((1, 1), args.scale, args.size)  # flags checked first
    if args.max_memory is not None:
        parse_bytes(args.max_memory, '--max-memory')
    single = osp.isfile(args.img)
    triples = pair_files(args.img, args.mask, args.out, strict=single)
    if single and args.skip_existing and osp.isfile(triples[0][2]):
        print(f'{triples[0][2]} exists; skipped (--skip-existing)')
        return 0
    inferencer = SAIRInferencer(args.config, args.checkpoint, device=args.device,
                                precision=args.precision, threshold=args.threshold,
                                polarity=args.polarity, max_memory=args.max_memory,
                                strategy=args.strategy, working_size=args.working_size)
    if single:  # one image: any error is the run's error (one line, exit 2)
        img_path, mask_path, out_path = triples[0]
        result = inferencer(img_path, mask_path, scale=args.scale, size=args.size,
                            text=args.text, strength=args.strength,
                            guidance_scale=args.guidance_scale, labels=False)
        save_atomic(result.output, out_path)
        h, w = result.mask.shape
        how = result.strategy + (f', {len(result.crops)} crop{"s" * (len(result.crops) != 1)}'
                                 if result.strategy == 'crop' else '')
        print(f'{img_path} ({w}x{h}, hole {100.0 * result.mask.mean():.1f}%) -> {out_path} '
              f'({result.output.shape[1]}x{result.output.shape[0]}, strategy {how})'
              + (f'; {result.note}' if result.note else ''))
        return 0
    report = run_batch(inferencer, triples, scale=args.scale, size=args.size, text=args.text,
                       strength=args.strength, guidance_scale=args.guidance_scale,
                       skip_existing=args.skip_existing, progress=not args.no_progress)
    print(report.summary())  # its last line: the counts, naming only folders that exist
    if not report.ok:
        sys.exit(1)
    return 0


if __name__ == '__main__':
    main()
