"""The segmentation check of the paper's Tab. 5: mIoU of zero-shot labels without / with SIR.

    python tools/seg_eval.py CONFIG CHECKPOINT [--split test|val] [--mask-bin 40-60]
                             [--out seg.json] [--device cpu|cuda] [--cfg-options k=v ...]

Builds the model and the split's dataloader from the config (no Runner), loads the checkpoint
strictly (:func:`sair_toolbox.apis.init_model`), embeds the dataset's class names
(``dataset.metainfo['classes']``) with the CLIP text encoder of the model's semantic encoder
(``cfg.model.semantic_encoder`` or ``cfg.model.sir.encoder``: ``arch``, ``pretrained``,
``model_cfg``), labels every pixel by the most similar class for the raw (resized) features of
the masked image and for the SIR-completed field, and reports mIoU / pixel accuracy over the
whole image and inside the hole. Prints a table; ``--out`` writes the full result (per-class IoU) as
JSON. User errors print one line, exit status 2.
"""
import argparse
import json
import os.path as osp

from mmengine.config import Config, DictAction

from sair_toolbox.utils.errors import ConfigError, DataError, cli_main


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='seg_eval.py',
        description='Segmentation check (paper Tab. 5): mIoU of CLIP zero-shot labels from the '
                    'semantic features of masked images, without and with SIR')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--split', choices=['test', 'val'], default='test',
                        help='which dataloader of the config to use (default: test)')
    parser.add_argument('--mask-bin', help="only score images whose mask bin is this, e.g. 40-60")
    parser.add_argument('--out', help='write the result (with per-class IoU) to this JSON file')
    parser.add_argument('--device', help='cpu or cuda (default: cuda if available)')
    parser.add_argument('--ignore-index', type=int, default=255,
                        help='ground-truth label to skip (default: 255)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
        help='override config entries, e.g. test_dataloader.batch_size=4; a top-level path '
        'variable (data_root=/data/x, mask_root, mask_list_dir) reaches every dataloader '
        'built from it')
    return parser.parse_args(argv)


def load_cfg(args: argparse.Namespace) -> Config:
    if not osp.isfile(args.config):
        raise ConfigError(f'config file {args.config} does not exist')
    from sair_toolbox.utils.checkpoint import check_checkpoint_file
    check_checkpoint_file(args.checkpoint)  # one line before MMEngine's own torch.load
    from sair_toolbox.utils.config import merge_cfg_options
    cfg = Config.fromfile(args.config)
    merge_cfg_options(cfg, args.cfg_options)  # data_root=... also reaches every dataloader
    key = f'{args.split}_dataloader'
    if cfg.get(key) is None:
        raise ConfigError(f'config {args.config} has no {key}')
    if cfg.get('model') is None:
        raise ConfigError(f'config {args.config} has no model')
    return cfg


@cli_main
def main(argv=None) -> dict:
    """Run the check; returns the result dict (see ``evaluate_segmentation``)."""
    args = parse_args(argv)
    cfg = load_cfg(args)

    import torch
    from mmengine.runner import Runner

    from sair_toolbox.apis.model import init_model
    from sair_toolbox.evaluation.segmentation import (evaluate_segmentation,
                                                      format_segmentation_table)
    from sair_toolbox.models.zero_shot import build_text_embeddings, semantic_encoder_cfg
    from sair_toolbox.utils.jsonable import jsonable

    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    enc_cfg = semantic_encoder_cfg(cfg.model)  # fail on a config without CLIP before building
    model = init_model(cfg, args.checkpoint, device=device)  # strict, weights-only loading
    dataloader = Runner.build_dataloader(cfg.get(f'{args.split}_dataloader'))
    classes = (dataloader.dataset.metainfo or {}).get('classes')
    if not classes:
        raise DataError(f'the {args.split} dataset has no class names (metainfo["classes"]); '
                        'the segmentation check needs a labelled dataset')
    text = build_text_embeddings(enc_cfg, classes, device)
    result = evaluate_segmentation(model, dataloader, text, device=device,
                                   mask_bin=args.mask_bin, ignore_index=args.ignore_index,
                                   class_names=list(classes))
    result.update(config=args.config, checkpoint=args.checkpoint, split=args.split)
    name = osp.splitext(osp.basename(args.config))[0]
    print(format_segmentation_table(result, title=f'{name} @ {osp.basename(args.checkpoint)}'))
    if args.out:
        folder = osp.dirname(osp.abspath(args.out))
        if not osp.isdir(folder):
            raise DataError(f'cannot write {args.out}: folder {folder} does not exist')
        with open(args.out, 'w', encoding='utf-8') as f:
            json.dump(jsonable(result), f, indent=2)
            f.write('\n')
        print(f'results written to {args.out}')
    return result


if __name__ == '__main__':
    main()
