"""Generate the embedded demo data set (procedural landscapes with per-pixel labels).

    python tools/make_demo_data.py [--out data/demo] [--size 64] [--num-train 400]
                                   [--num-val 40] [--seed 0] [--force]
                                   [--clip [--config configs/sair/sair_demo.py]]

Deterministic: the same arguments give byte-identical files. ``DemoDataset`` runs the same
generation automatically on first use, so this tool is only needed to pre-build or rebuild.

``--clip`` also makes the config's CLIP weights ready: for the demo config, its weights provider
(``DemoCLIPWeights``) pretrains the demo world's text-aligned CLIP into its cache (once, on the
CPU, timed in the README's main-job section; rebuilt if stale or corrupt). The encoder does the
same on first use.
"""
import argparse
import os.path as osp
import shutil
import sys
import time

from sair_toolbox.datasets.demo_scenes import DEMO_CLASSES, ensure_demo_data
from sair_toolbox.utils.errors import ConfigError, cli_main


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Generate the demo data set.')
    p.add_argument('--out', default='data/demo', help='output folder (default data/demo)')
    p.add_argument('--size', type=int, default=64, help='image side in pixels (>= 16)')
    p.add_argument('--num-train', type=int, default=400)
    p.add_argument('--num-val', type=int, default=40)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--force', action='store_true', help='delete an existing --out first')
    p.add_argument('--clip', action='store_true',
                   help="also pretrain/check the demo CLIP of --config's semantic encoder")
    p.add_argument('--config', default='configs/sair/sair_demo.py',
                   help='config whose model.sir.encoder weights --clip prepares '
                        '(default configs/sair/sair_demo.py)')
    return p.parse_args(argv)


@cli_main
def main(argv=None) -> int:
    args = parse_args(argv)
    if args.force and osp.exists(args.out):
        shutil.rmtree(args.out)
    start = time.time()
    made = ensure_demo_data(args.out, args.size, args.num_train, args.num_val, args.seed)
    verb = 'generated' if made else 'already present:'
    print(f'{verb} {args.num_train} train + {args.num_val} val images of {args.size}x{args.size} '
          f'with {len(DEMO_CLASSES)} classes in {args.out} ({time.time() - start:.1f} s)')
    if args.clip:
        start = time.time()
        path = prepare_clip_weights(args.config)
        print(f'CLIP weights of {args.config}: {path} ({time.time() - start:.1f} s)')
    return 0


def prepare_clip_weights(config: str) -> str:
    """Resolve (and, for a weights provider, build) the CLIP weights of a config's encoder."""
    from mmengine.config import Config

    from sair_toolbox.models.clip_loading import resolve_clip_checkpoint
    from sair_toolbox.models.zero_shot import semantic_encoder_cfg
    if not osp.isfile(config):
        raise ConfigError(f'config file {config} does not exist (--config)')
    enc = semantic_encoder_cfg(Config.fromfile(config).model)
    if enc.get('pretrained') is None:
        raise ConfigError(f'the semantic encoder of {config} has no weights (pretrained=None)')
    path, _ = resolve_clip_checkpoint(enc.get('arch', 'ViT-B-16'), enc['pretrained'],
                                      enc.get('cache_dir'), enc.get('model_cfg'))
    return path


if __name__ == '__main__':
    sys.exit(main())
