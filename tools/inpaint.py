"""Inpaint your own images with a trained SAIR model, at any output resolution.

    python tools/inpaint.py --img photo.jpg --mask hole.png --out filled.png
    python tools/inpaint.py --img photos/ --mask masks/ --out results/ --scale 2
    python tools/inpaint.py --config configs/sair/sair_celebahq.py \
        --checkpoint work_dirs/sair_celebahq/iter_312600.pth --img a.png --mask m.png --out b.png

Images of any mode (RGB, RGBA, grayscale, palette, 16-bit) are converted to RGB explicitly; masks
are binarised with ``--threshold`` and their polarity set by ``--polarity`` (default: white =
hole). With folders, each image is paired with the mask of the same file stem. At scale 1 the
output keeps every known pixel and fills the hole; at any other size the continuous
representation is rendered on the new pixel grid.
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional, Tuple

import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from sair_toolbox.utils.errors import ConfigError, DataError, cli_main  # noqa: E402

DEFAULT_CONFIG = 'configs/sair/sair_demo.py'


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
    parser.add_argument('--device', default=None, help='cpu, cuda, cuda:1 ... (default: auto)')
    return parser.parse_args(argv)


def resolve_checkpoint(config: str, checkpoint: Optional[str]) -> str:
    """The given checkpoint, or the last one the default work dir of ``config`` recorded."""
    if checkpoint:
        return checkpoint
    work_dir = osp.join('work_dirs', osp.splitext(osp.basename(config))[0])
    record = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(record):
        raise ConfigError(f'no --checkpoint given and {record} does not exist; train first '
                          f'(python tools/train.py {config}) or pass --checkpoint')
    with open(record) as f:
        return f.read().strip()


def pair_inputs(img: str, mask: str, out: str) -> List[Tuple[str, str, str]]:
    """(image, mask, output) triples for a single file or two folders."""
    from sair_toolbox.datasets.image_io import IMAGE_EXTENSIONS
    if not osp.exists(img):
        raise DataError(f'--img {img} does not exist')
    if not osp.exists(mask):
        raise DataError(f'--mask {mask} does not exist')
    if osp.isfile(img):
        if not osp.isfile(mask):
            raise DataError(f'--img is a file, so --mask must be a file too, got folder {mask}')
        if osp.isdir(out):
            out = osp.join(out, osp.splitext(osp.basename(img))[0] + '.png')
        return [(img, mask, out)]
    if not osp.isdir(mask):
        raise DataError(f'--img is a folder, so --mask must be a folder too, got file {mask}')
    masks = {}
    for name in sorted(os.listdir(mask)):
        if name.lower().endswith(IMAGE_EXTENSIONS):
            masks.setdefault(osp.splitext(name)[0], osp.join(mask, name))
    triples = []
    for name in sorted(os.listdir(img)):
        if not name.lower().endswith(IMAGE_EXTENSIONS):
            continue
        stem = osp.splitext(name)[0]
        if stem not in masks:
            raise DataError(f'no mask for image {osp.join(img, name)} in {mask} '
                            f'(expected {stem}.png or another image extension)')
        triples.append((osp.join(img, name), masks[stem], osp.join(out, stem + '.png')))
    if not triples:
        raise DataError(f'no images in {img}')
    return triples


def build_model(config: str, checkpoint: str, device: str):
    from mmengine.config import Config

    from sair_toolbox.registry import MODELS
    from sair_toolbox.utils.checkpoint import load_state_dict_safely
    from sair_toolbox.utils.setup_env import register_all_modules, tune_cpu_allocator
    if not osp.isfile(config):
        raise ConfigError(f'config {config} does not exist')
    register_all_modules()
    tune_cpu_allocator()
    cfg = Config.fromfile(config)
    model = MODELS.build(cfg.model)
    if not hasattr(model, 'inpaint'):
        raise ConfigError(f'{config} builds {type(model).__name__}, which does not inpaint')
    state = load_state_dict_safely(checkpoint)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise DataError(f'checkpoint {checkpoint} does not fit {config}: '
                        f'{len(missing)} missing keys (e.g. {missing[:2]}), '
                        f'{len(unexpected)} unexpected (e.g. {unexpected[:2]})')
    return model.to(device).eval()


def inpaint_file(model, img_path: str, mask_path: str, out_path: str, args, device: str):
    from PIL import Image

    from sair_toolbox.datasets.image_io import load_image, load_mask
    img = load_image(img_path)
    mask = load_mask(mask_path, threshold=args.threshold, polarity=args.polarity)
    if mask.shape != img.shape[:2]:
        raise DataError(f'mask {mask_path} is {mask.shape[1]}x{mask.shape[0]} but image '
                        f'{img_path} is {img.shape[1]}x{img.shape[0]} (W x H)')
    h, w = img.shape[:2]
    size = tuple(args.size) if args.size else (max(1, round(h * args.scale)),
                                                max(1, round(w * args.scale)))
    img_t = torch.from_numpy(img).permute(2, 0, 1)[None].float().div(255).to(device)
    mask_t = torch.from_numpy(mask)[None, None].to(device)
    out = model.inpaint(img_t, mask_t, size=size)[0]
    out = (out.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()
    os.makedirs(osp.dirname(osp.abspath(out_path)), exist_ok=True)
    Image.fromarray(np.ascontiguousarray(out)).save(out_path)
    hole = 100.0 * mask.mean()
    print(f'{img_path} ({w}x{h}, hole {hole:.1f}%) -> {out_path} ({size[1]}x{size[0]})')


@cli_main
def main(argv=None):
    args = parse_args(argv)
    if args.scale <= 0:
        raise ConfigError(f'--scale must be > 0, got {args.scale}')
    if args.size and min(args.size) < 1:
        raise ConfigError(f'--size must be positive, got {args.size}')
    triples = pair_inputs(args.img, args.mask, args.out)
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    model = build_model(args.config, resolve_checkpoint(args.config, args.checkpoint), device)
    for img_path, mask_path, out_path in triples:
        inpaint_file(model, img_path, mask_path, out_path, args, device)


if __name__ == '__main__':
    main()
