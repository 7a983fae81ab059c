"""Result tables in the layout of the paper's Tables 1 and 2, and result files (JSON + CSV).

The metric keys are ``'{bin}/{metric}'`` (``'0-20/PSNR'``, ``'all/count'``,
``'40-60/input_LPIPS'``), optionally behind an evaluator prefix (``'inpaint/0-20/PSNR'``): only
the last two ``/``-separated parts are read. Bins become column groups (0%-20%, 20%-40%, 40%-60%,
All), each with PSNR↑ SSIM↑ L1↓ LPIPS↓ and the image count n; rows are results (methods or
configs), like the paper compares methods.
"""
import csv
import datetime
import json
import math
import os.path as osp
import re
from collections import OrderedDict
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from sair_toolbox.utils.errors import ConfigError, DataError

#: Metrics and the direction that is better, in the order of the paper's tables.
METRICS_ORDER = (('PSNR', '↑'), ('SSIM', '↑'), ('L1', '↓'), ('LPIPS', '↓'))
#: Decimal places shown in tables (files keep full precision).
DECIMALS = {'PSNR': 2, 'SSIM': 3, 'L1': 4, 'LPIPS': 3}
# The distribution metrics (DistributionMetric), with Inception features and with the demo
# world's feature network ('demo-' names: not comparable to Inception numbers).
_DISTRIBUTION = (('FID', '↓', 2), ('KID', '↓', 4), ('P-IDS', '↑', 3), ('U-IDS', '↑', 3))
METRICS_ORDER += tuple((p + m, d) for p in ('', 'demo-') for m, d, _ in _DISTRIBUTION)
DECIMALS.update({p + m: n for p in ('', 'demo-') for m, _, n in _DISTRIBUTION})
ALL = 'all'
COUNT = 'count'
INPUT = 'input_'

_BIN_RE = re.compile(r'(\d+)-(\d+)')

#: ``{bin: {metric: value}}``, bins in table order.
Parsed = Dict[str, Dict[str, Any]]


def _is_bin(name: str) -> bool:
    return name == ALL or _BIN_RE.fullmatch(name) is not None


def _bin_order(name: str) -> Tuple[float, float]:
    if name == ALL:
        return (math.inf, math.inf)
    low, high = _BIN_RE.fullmatch(name).groups()
    return (float(low), float(high))


def bin_label(name: str) -> str:
    """Column-group label: ``'0-20' -> '0%-20%'``, ``'all' -> 'All'``."""
    if name == ALL:
        return 'All'
    low, high = _BIN_RE.fullmatch(name).groups()
    return f'{low}%-{high}%'


def _number(value: Any) -> Any:
    """Plain int/float from Python, numpy or torch scalars (counts stay ints)."""
    if hasattr(value, 'item'):
        value = value.item()
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int):
        return value
    return float(value)


def parse_metrics(metrics: Mapping[str, Any]) -> Parsed:
    """Nest flat metric keys by bin.

    Args:
        metrics: ``{'[prefix/]{bin}/{metric}': value}``; keys of another form are ignored.

    Returns:
        ``{bin: {metric: value}}`` with bins in order (by range, ``'all'`` last).
    """
    nested: Dict[str, Dict[str, Any]] = {}
    for key, value in metrics.items():
        parts = str(key).split('/')
        if len(parts) < 2 or not _is_bin(parts[-2]):
            continue
        nested.setdefault(parts[-2], {})[parts[-1]] = _number(value)
    return OrderedDict((b, nested[b]) for b in sorted(nested, key=_bin_order))


def _columns(parsed_rows: Sequence[Parsed], kind: str = '') -> Dict[str, List[str]]:
    """Bins -> the metric names present in any row (``kind + metric``), plus 'count'."""
    cols: Dict[str, List[str]] = {}
    for parsed in parsed_rows:
        for b, values in parsed.items():
            cols.setdefault(b, [])
            for m, _ in METRICS_ORDER:
                if kind + m in values and m not in cols[b]:
                    cols[b].append(m)
            if COUNT in values and COUNT not in cols[b]:
                cols[b].append(COUNT)
    for b in cols:  # keep the paper's order whatever row introduced a metric
        cols[b].sort(key=lambda m: [n for n, _ in METRICS_ORDER].index(m) if m != COUNT else 99)
    return OrderedDict((b, cols[b]) for b in sorted(cols, key=_bin_order) if cols[b])


def _cell(parsed: Parsed, b: str, metric: str, kind: str) -> str:
    value = parsed.get(b, {}).get(metric if metric == COUNT else kind + metric)
    if value is None:
        return '-'
    if metric == COUNT:
        return str(int(value))
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return f'{value:.{DECIMALS[metric]}f}'


def _header(metric: str) -> str:
    return 'n' if metric == COUNT else metric + dict(METRICS_ORDER)[metric]


def _render_text(rows: Sequence[Tuple[str, Parsed, str]], cols, title: Optional[str],
                 first: str) -> str:
    """Aligned plain-text table with one column group per bin."""
    name_w = max([len(first)] + [len(name) for name, _, _ in rows])
    groups = []  # (label, [column cells...]) per bin
    for b, metrics in cols.items():
        columns = []
        for m in metrics:
            cells = [_header(m)] + [_cell(p, b, m, kind) for _, p, kind in rows]
            columns.append(cells)
        widths = [max(len(c) for c in cells) for cells in columns]
        label = bin_label(b)
        inner = sum(widths) + 2 * (len(widths) - 1)
        if len(label) > inner:
            widths[-1] += len(label) - inner
            inner = len(label)
        groups.append((label, columns, widths, inner))
    lines = [first.ljust(name_w) + ' | ' + ' | '.join(
        label.center(inner) for label, _, _, inner in groups)]
    n_lines = len(rows) + 1
    for i in range(n_lines):
        name = '' if i == 0 else rows[i - 1][0]
        cells = [
            '  '.join(col[i].rjust(w) for col, w in zip(columns, widths))
            for _, columns, widths, _ in groups
        ]
        lines.append(name.ljust(name_w) + ' | ' + ' | '.join(cells))
    rule = '-' * max(len(line) for line in lines)
    out = [rule, lines[0], lines[1], rule] + lines[2:] + [rule]
    if title:
        out.insert(0, title)
    return '\n'.join(line.rstrip() for line in out)


def _render_markdown(rows: Sequence[Tuple[str, Parsed, str]], cols, title: Optional[str],
                     first: str) -> str:
    header = [first] + [f'{bin_label(b)} {_header(m)}' for b, ms in cols.items() for m in ms]
    lines = ['| ' + ' | '.join(header) + ' |',
             '|' + '|'.join(['---'] + ['---:'] * (len(header) - 1)) + '|']
    for name, parsed, kind in rows:
        cells = [name] + [_cell(parsed, b, m, kind) for b, ms in cols.items() for m in ms]
        lines.append('| ' + ' | '.join(cells) + ' |')
    if title:
        lines = [f'**{title}**', ''] + lines
    return '\n'.join(lines)


def format_comparison(results: Sequence[Tuple[str, Mapping[str, Any]]],
                      title: Optional[str] = None,
                      style: str = 'text',
                      include_input: bool = False,
                      input_label: str = '{name} (masked input)') -> str:
    """One table comparing several results: rows = results, column groups = bins.

    Args:
        results: ``[(name, flat metrics dict), ...]``.
        title: optional line above the table.
        style: ``'text'`` (aligned, for terminals and logs) or ``'markdown'``.
        include_input: also add a row for results that hold ``input_*`` metrics
            (``InpaintingMetric(report_input=True)``): the metrics of the masked input.
        input_label: that row's label; ``{name}`` is replaced by the result's name.

    Returns:
        The table as a string (no trailing newline).
    """
    rows: List[Tuple[str, Parsed, str]] = []
    for name, metrics in results:
        parsed = parse_metrics(metrics)
        rows.append((str(name), parsed, ''))
        if include_input and any(k.startswith(INPUT) for v in parsed.values() for k in v):
            rows.append((input_label.format(name=name), parsed, INPUT))
    cols = _columns([p for _, p, kind in rows if not kind])
    if not cols:
        raise DataError('no metrics of the form "{bin}/{metric}" (e.g. "all/PSNR") to tabulate; '
                        f'got keys {[sorted(m)[:4] for _, m in results]}')
    if style == 'text':
        return _render_text(rows, cols, title, 'Method')
    if style == 'markdown':
        return _render_markdown(rows, cols, title, 'Method')
    raise ConfigError(f"table style must be 'text' or 'markdown', got {style!r}")


def format_table(metrics: Mapping[str, Any], title: Optional[str] = None,
                 name: str = 'output') -> str:
    """The metrics of one run in the layout of the paper's Tables 1/2.

    Args:
        metrics: flat ``{'[prefix/]{bin}/{metric}': value}`` (``InpaintingMetric`` output).
        title: optional line above the table.
        name: the row label. If ``input_*`` metrics are present a second row,
            ``'masked input'``, shows them.

    Returns:
        An aligned plain-text table.
    """
    return format_comparison([(name, metrics)], title=title, include_input=True,
                             input_label='masked input')


def comparison_rows(results: Sequence[Tuple[str, Mapping[str, Any]]]) -> List[Dict[str, Any]]:
    """Flat CSV rows ``{'name': ..., '{bin}/{metric}': value}`` (full precision)."""
    parsed_rows = [(name, parse_metrics(m)) for name, m in results]
    cols = _columns([p for _, p in parsed_rows])
    out = []
    for name, parsed in parsed_rows:
        row: Dict[str, Any] = {'name': name}
        for b, ms in cols.items():
            for m in ms:
                row[f'{b}/{m}'] = parsed.get(b, {}).get(m, '')
        out.append(row)
    return out


def write_csv(rows: Sequence[Mapping[str, Any]], path: str) -> None:
    """Write dict rows as CSV (columns: union of keys, first-seen order)."""
    fields: List[str] = []
    for row in rows:
        fields += [k for k in row if k not in fields]
    with open(path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.DictWriter(f, fieldnames=fields, restval='')
        writer.writeheader()
        writer.writerows(rows)


def _paths(out_path: str) -> Tuple[str, str]:
    root, ext = osp.splitext(str(out_path))
    if ext.lower() not in ('.json', '.csv', ''):
        root = str(out_path)
    return root + '.json', root + '.csv'


def write_results(metrics: Mapping[str, Any],
                  out_path: str,
                  config: Optional[str] = None,
                  checkpoint: Optional[str] = None,
                  meta: Optional[Mapping[str, Any]] = None) -> Tuple[str, str]:
    """Write a run's metrics as JSON and as CSV next to it (same stem).

    JSON: ``{'metrics': flat dict as given, 'bins': {bin: {metric: value}}, 'config',
    'checkpoint', 'created' (UTC, ISO 8601), 'sair_toolbox_version', **meta}``.
    CSV: one row per bin (``bin, count, PSNR, SSIM, L1, LPIPS[, input_...]``).

    Args:
        metrics: flat metric dict (prefixed keys allowed).
        out_path: ``.json`` path (a ``.csv`` or suffix-less path gets both suffixes).
        config: the config file the run used (names the result in ``collect_results``).
        checkpoint: the checkpoint that was evaluated.
        meta: more JSON-serialisable fields to store.

    Returns:
        ``(json_path, csv_path)``.
    """
    from sair_toolbox import __version__
    json_path, csv_path = _paths(out_path)
    flat = {str(k): _number(v) for k, v in metrics.items()}
    parsed = parse_metrics(flat)
    doc: Dict[str, Any] = {
        'metrics': flat,
        'bins': parsed,
        'config': config,
        'checkpoint': checkpoint,
        'created': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'sair_toolbox_version': __version__,
    }
    doc.update(meta or {})
    folder = osp.dirname(osp.abspath(json_path))
    if not osp.isdir(folder):
        raise DataError(f'cannot write results to {json_path}: folder {folder} does not exist')
    with open(json_path, 'w', encoding='utf-8') as f:
        json.dump(doc, f, indent=2)
        f.write('\n')
    order = [m for m, _ in METRICS_ORDER]
    rows = []
    for b, values in parsed.items():
        row: Dict[str, Any] = {'bin': b, COUNT: values.get(COUNT, '')}
        for kind in ('', INPUT):
            row.update({kind + m: values[kind + m] for m in order if kind + m in values})
        rows.append(row)
    write_csv(rows, csv_path)
    return json_path, csv_path


def load_results(path: str) -> Dict[str, Any]:
    """Read a result file written by :func:`write_results`.

    A plain flat JSON dict of metrics (e.g. ``{"all/PSNR": 31.2, ...}``) is accepted too and
    wrapped as ``{'metrics': ..., 'config': None, ...}``.

    Returns:
        The JSON document, with ``'metrics'`` (flat dict) and ``'bins'`` (nested) present.

    Raises:
        DataError: missing file, invalid JSON, or no ``{bin}/{metric}`` values in it.
    """
    if not osp.isfile(path):
        raise DataError(f'result file {path} does not exist')
    try:
        with open(path, encoding='utf-8') as f:
            doc = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f'result file {path} is not valid JSON: {exc}') from None
    if isinstance(doc, dict) and 'metrics' not in doc:
        doc = {'metrics': doc, 'config': None, 'checkpoint': None}
    metrics = doc.get('metrics') if isinstance(doc, dict) else None
    if not isinstance(metrics, dict) or not parse_metrics(metrics):
        raise DataError(f'result file {path} holds no metrics of the form "{{bin}}/{{metric}}" '
                        '(expected the JSON written by tools/test.py / write_results)')
    doc['bins'] = parse_metrics(metrics)
    return doc
