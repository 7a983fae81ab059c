"""Compare result files of several runs in one table (rows = configs, column groups = bins).

Usage::

    python tools/collect_results.py work_dirs/liif/results.json work_dirs/sair/results.json \
        [--names LIIF SAIR] [--out table.md|table.csv] [--input]

Each file is a JSON written by ``tools/test.py`` (``sair_toolbox.evaluation.write_results``) or a
flat ``{"all/PSNR": ..., ...}`` dict. A row is named by ``--names``, else by the stem of the
file's ``config`` field, else by the file's stem. The table is printed like the paper's
Tables 1/2; ``--out`` also writes it as Markdown (``.md``) or CSV (``.csv``, full precision).
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional, Sequence

from sair_toolbox.evaluation.results_table import (comparison_rows, format_comparison,
                                                   load_results, write_csv)
from sair_toolbox.utils.errors import DataError, cli_main


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='collect_results.py',
        description='Print one comparison table (rows = runs, column groups = mask-ratio bins) '
                    'from result JSON files of tools/test.py.')
    parser.add_argument('results', nargs='+', metavar='RESULT.json', help='result files')
    parser.add_argument('--names', nargs='+', help='row names, one per result file')
    parser.add_argument('--out', help='also write the table: .md (Markdown) or .csv')
    parser.add_argument('--title', help='line printed above the table')
    parser.add_argument('--input', action='store_true',
                        help='add rows with the masked-input metrics where the files have them')
    args = parser.parse_args(argv)
    if args.names is not None and len(args.names) != len(args.results):
        parser.error(f'--names got {len(args.names)} names for {len(args.results)} result files')
    if args.out is not None and osp.splitext(args.out)[1].lower() not in ('.md', '.csv'):
        parser.error(f'--out must end with .md or .csv, got {args.out}')
    return args


def row_name(path: str, doc: dict) -> str:
    """The config's stem if the result file names one, else the result file's stem."""
    config = doc.get('config')
    if isinstance(config, str) and config:
        return osp.splitext(osp.basename(config))[0]
    return osp.splitext(osp.basename(path))[0]


@cli_main
def main(argv: Optional[Sequence[str]] = None) -> str:
    """Run the tool; returns the printed table."""
    args = parse_args(argv)
    results: List = []
    for i, path in enumerate(args.results):
        doc = load_results(path)
        name = args.names[i] if args.names else row_name(path, doc)
        results.append((name, doc['metrics']))
    table = format_comparison(results, title=args.title, include_input=args.input)
    print(table)
    if args.out:
        folder = osp.dirname(osp.abspath(args.out))
        if not osp.isdir(folder):
            raise DataError(f'cannot write {args.out}: folder {folder} does not exist')
        if args.out.lower().endswith('.csv'):
            write_csv(comparison_rows(results), args.out)
        else:
            md = format_comparison(results, title=args.title, style='markdown',
                                   include_input=args.input)
            with open(args.out, 'w', encoding='utf-8') as f:
                f.write(md + '\n')
        print(f'wrote {args.out}', file=sys.stderr)
    return table


if __name__ == '__main__':
    main()
