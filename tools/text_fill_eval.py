"""Measure text-guided fill: steer every val hole to a class, re-encode the output, count hits.

    python tools/text_fill_eval.py configs/sair/sair_demo.py work_dirs/sair_demo/iter_600.pth
    python tools/text_fill_eval.py CONFIG CKPT --classes water grass --scale unit --strength 1.5

For each target class (default: every class of the checkpoint's dataset meta) the SIR field in
each val image's hole is steered to the class's text embedding, AIR renders the output, and the
model's own semantic encoder labels the output zero-shot; the table gives the fraction of hole
pixels labelled as the target, with and without guidance (see
:mod:`sair_toolbox.evaluation.text_guided_fill`). ``--out`` writes the result as JSON.
"""
import argparse
import json
import os
import os.path as osp

from sair_toolbox.models.field_edits import GUIDANCE_SCALES
from sair_toolbox.utils.errors import ConfigError, cli_main


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Hit rate of text-guided fill on a val set.')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--classes', nargs='+', help='target class names (default: all)')
    parser.add_argument('--strength', type=float, default=None,
                        help='guidance strength (default: config text_guidance, else 1)')
    parser.add_argument('--scale', default=None, choices=GUIDANCE_SCALES,
                        help='how the steered field is scaled (default: config text_guidance, '
                        f'else {GUIDANCE_SCALES[0]})')
    parser.add_argument('--split', default='val', choices=['val', 'test'])
    parser.add_argument('--device', default=None)
    parser.add_argument('--precision', default='auto', choices=['auto', 'fp32', 'bf16', 'fp16'],
                        help='autocast precision (default auto: bf16 where the CPU or GPU has '
                        'native bfloat16 kernels, fp16 on CUDA without bfloat16, else fp32)')
    parser.add_argument('--out', help='write the result to this JSON file')
    return parser.parse_args(argv)


@cli_main
def main(argv=None) -> dict:
    args = parse_args(argv)
    from mmengine.runner import Runner

    from sair_toolbox.apis import SAIRInferencer
    from sair_toolbox.evaluation.text_guided_fill import (evaluate_text_guided_fill,
                                                          format_text_fill_table)
    inferencer = SAIRInferencer(args.config, args.checkpoint, device=args.device,
                                precision=args.precision)
    loader_cfg = inferencer.cfg.get(f'{args.split}_dataloader')
    if not loader_cfg:
        raise ConfigError(f'config {args.config} has no {args.split}_dataloader')
    names = inferencer.class_names
    embeddings = inferencer.class_embeddings
    if embeddings is None:
        raise ConfigError('text-guided fill needs a model with SIR, a CLIP semantic encoder and '
                          'class names')
    lower = [n.lower() for n in names]
    unknown = [c for c in args.classes or [] if c.lower() not in lower]
    if unknown:
        raise ConfigError(f'unknown classes {unknown}; the model knows {names}')
    targets = [lower.index(c.lower()) for c in args.classes] if args.classes else \
        list(range(len(names)))
    loader_cfg = dict(loader_cfg, num_workers=0, persistent_workers=False)
    dataloader = Runner.build_dataloader(loader_cfg)
    guidance = dict(inferencer.guidance)
    result = evaluate_text_guided_fill(
        inferencer.model, dataloader, embeddings, targets,
        strength=args.strength if args.strength is not None else guidance['strength'],
        scale=args.scale or guidance['scale'], precision=inferencer.precision,
        device=str(inferencer.device), class_names=names)
    print(format_text_fill_table(result))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == '__main__':
    main()
