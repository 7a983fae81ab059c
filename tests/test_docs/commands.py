"""The shell commands that the documentation shows, collected and checked against the tools.

What is collected: every fenced code block marked ``bash``, ``sh``, ``shell``, ``console`` or
``shell-session`` in ``README.md``, ``docs/**/*.md`` and ``configs/**/README.md``, and the
``Train`` / ``Test`` commands of ``configs/sair/metafile.yml``. In a block, a line ending in
``\\`` continues on the next; ``# ...`` comments are dropped; in ``console`` blocks only lines
starting with ``$ `` are commands; ``&&``, ``||`` and ``;`` separate commands.

What each command must satisfy (:func:`check`):

* ``python tools/X.py ARGS``: ``tools/X.py`` exists and its own ``parse_args(ARGS)`` accepts
  ARGS (nothing is run); ``--cfg-options`` keys must exist in the command's config.
* ``bash tools/X.sh ...``: the script exists; for ``dist_train.sh`` / ``dist_test.sh`` the
  arguments after the process count parse with ``train.py`` / ``test.py``, as the script passes
  them on.
* ``pytest`` / ``python -m pytest``: the paths named exist.
* ``pip install`` / ``python -m pip install``: the ``-r``, ``-c`` and ``-e`` files exist.
* ``python -m sphinx``: the source folder and its ``conf.py`` exist.
* ``python -c CODE``: CODE compiles.
* anything else: an error, so that a new kind of command gets its check here first.

Paths (the rule): a word under ``configs/``, ``tools/``, ``requirements/``, ``tests/``,
``docs/`` or ``sair_toolbox/`` must exist (a glob must match); a word under ``results/`` must
exist unless an earlier command of the same block writes it (``--out``, ``--work-dir``,
``--work-root``). Everything else -- ``work_dirs/...`` checkpoints, ``data/...``, the user's own
``photo.png`` -- is an output or the user's data and is not checked.
"""
import glob
import importlib.util
import os.path as osp
import re
import shlex
from dataclasses import dataclass
from types import ModuleType
from typing import Dict, List, Optional, Sequence

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

SHELL_LANGS = {'bash', 'sh', 'shell', 'console', 'shell-session'}
CHECKED_DIRS = ('configs/', 'tools/', 'requirements/', 'tests/', 'docs/', 'sair_toolbox/')
OUTPUT_OPTIONS = ('--out', '--work-dir', '--work-root')
#: Tools whose ``--cfg-options`` apply to every row of the demo tables (built on this config).
DEMO_CONFIG = 'configs/sair/sair_demo.py'
CONFIG_TOOLS = {'train', 'test', 'seg_eval', 'text_fill_eval'}
ROW_TOOLS = {'demo_tables', 'data_size_sweep'}


@dataclass
class Command:
    """One documented command: its words and where it was found."""
    words: List[str]
    source: str  # 'path:line'
    block: int   # commands of the same block share an id

    def __str__(self):
        return ' '.join(self.words)


def doc_files() -> List[str]:
    files = [osp.join(ROOT, 'README.md')]
    files += sorted(glob.glob(osp.join(ROOT, 'docs', '**', '*.md'), recursive=True))
    files += sorted(glob.glob(osp.join(ROOT, 'configs', '**', 'README.md'), recursive=True))
    return [f for f in files if '/_build/' not in f]


def _split_commands(text: str) -> List[List[str]]:
    words = shlex.split(text, comments=True)
    commands, current = [], []
    for word in words:
        if word in ('&&', '||', ';'):
            commands.append(current)
            current = []
        else:
            current.append(word)
    commands.append(current)
    return [c for c in commands if c]


def commands_in_markdown(path: str) -> List[Command]:
    """Every shell command of the fenced shell blocks of one Markdown file."""
    lines = open(path, encoding='utf-8').read().split('\n')
    rel = osp.relpath(path, ROOT)
    found, i, block = [], 0, 0
    while i < len(lines):
        m = re.match(r'^(\s*)(`{3,}|~{3,})\s*([\w-]*)', lines[i])
        if not m:
            i += 1
            continue
        fence, lang = m.group(2), m.group(3).lower()
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            j += 1
        if lang in SHELL_LANGS:
            block += 1
            logical, start = '', None
            for k in range(i + 1, j):
                line = lines[k].strip()
                if lang in ('console', 'shell-session') and not logical:
                    if not line.startswith('$ '):
                        continue
                    line = line[2:]
                if not line and not logical:
                    continue
                start = k + 1 if not logical else start
                if line.endswith('\\'):
                    logical += line[:-1] + ' '
                    continue
                logical += line
                for words in _split_commands(logical):
                    found.append(Command(words, f'{rel}:{start}', hash((rel, block))))
                logical = ''
        i = j + 1
    return found


#: An inline span is a synopsis, not a command, if it has one of these (``[--opt X]``, ``a|b``,
#: ``...``) or an upper-case placeholder word (``CONFIG``, ``CKPT``, ``C``, ``DIR``, ``X.png``);
#: the demo tables' row names (``--only SAIR LIIF``) are words, not placeholders.
_SYNOPSIS = re.compile(r'[\[\]|<>]|\.\.\.')
_UPPER = re.compile(r'(?<![\w./-])([A-Z][A-Z0-9_]*)(?:\.\w+)?(?![\w/-])')
ROW_WORDS = {'SAIR', 'LIIF', 'NFS', 'OUS', 'LTE', 'EDSR', 'SAM', 'GAN', 'SIR'}


def _is_synopsis(span: str) -> bool:
    return bool(_SYNOPSIS.search(span)) or any(
        word not in ROW_WORDS for word in _UPPER.findall(span))


def inline_commands_in_markdown(path: str) -> List[Command]:
    """Inline code spans of prose that are whole commands (``python tools/...``, ``bash
    tools/...``), synopses with placeholders excepted (:data:`_SYNOPSIS`)."""
    text = open(path, encoding='utf-8').read()
    rel = osp.relpath(path, ROOT)
    # Blank out fenced blocks (keeping line numbers), then read the spans of the prose.
    text = re.sub(r'^(\s*)(`{3,}|~{3,}).*?^\s*\2\s*$',
                  lambda m: '\n' * m.group(0).count('\n'), text, flags=re.S | re.M)
    found = []
    for m in re.finditer(r'(?<!`)`([^`]+)`(?!`)', text):
        span = ' '.join(m.group(1).split())
        if not re.match(r'(python|bash) tools/', span) or _is_synopsis(span):
            continue
        line = text.count('\n', 0, m.start()) + 1
        for words in _split_commands(span):
            found.append(Command(words, f'{rel}:{line} (inline)', hash((rel, 'inline', line))))
    return found


def commands_in_metafile() -> List[Command]:
    import yaml
    path = osp.join(ROOT, 'configs', 'sair', 'metafile.yml')
    with open(path, encoding='utf-8') as f:
        meta = yaml.safe_load(f)
    found = []
    for n, model in enumerate(meta['Models']):
        for key in ('Train', 'Test', 'Seeded Table'):
            line = (model.get('Metadata') or {}).get(key)
            if line:
                for words in _split_commands(line):
                    found.append(Command(words, f"configs/sair/metafile.yml:{model['Name']}.{key}",
                                         hash(('metafile', n))))
    return found


def all_commands() -> List[Command]:
    commands = [c for f in doc_files() for c in commands_in_markdown(f)]
    commands += [c for f in doc_files() for c in inline_commands_in_markdown(f)]
    return commands + commands_in_metafile()


_TOOLS: Dict[str, ModuleType] = {}


def load_tool(name: str) -> ModuleType:
    """``tools/<name>.py`` imported once as a module (its ``main`` is not called)."""
    if name not in _TOOLS:
        spec = importlib.util.spec_from_file_location(f'doc_tool_{name}',
                                                      osp.join(ROOT, 'tools', f'{name}.py'))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _TOOLS[name] = module
    return _TOOLS[name]


class CommandError(AssertionError):
    pass


def _strip_env(words: List[str]) -> List[str]:
    while words and re.fullmatch(r'[A-Za-z_][A-Za-z0-9_]*=\S*', words[0]):
        words = words[1:]
    return words


def _check_paths(words: Sequence[str], outputs: set) -> None:
    previous = None
    for word in words:
        value = word.split('=', 1)[1] if word.startswith('--') and '=' in word else word
        path = value.rstrip('/')
        if previous in OUTPUT_OPTIONS:
            outputs.add(path)
        elif path.startswith(CHECKED_DIRS):
            if not _exists(path):
                raise CommandError(f'{path} does not exist')
        elif path.startswith('results/'):
            written = any(path == out or path.startswith(out + '/') for out in outputs)
            if not (written or _exists(path)):
                raise CommandError(f'{path} does not exist and no earlier command writes it')
        previous = word


def _exists(path: str) -> bool:
    """A path of the repository exists (a glob: matches something)."""
    full = osp.join(ROOT, path)
    return bool(glob.glob(full)) if any(c in path for c in '*?[') else osp.exists(full)


def _cfg_option_keys(namespace) -> List[str]:
    options = getattr(namespace, 'cfg_options', None) or {}
    if isinstance(options, dict):
        return list(options)
    keys = []
    for item in options:  # a list of 'key=value' strings
        keys.append(item.split('=', 1)[0])
    return keys


def _check_cfg_keys(config: str, keys: Sequence[str]) -> None:
    if not keys:
        return
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, config))
    for key in keys:
        node = cfg
        for part in key.split('.'):
            if isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            elif hasattr(node, 'keys') and part in node:
                node = node[part]
            else:
                raise CommandError(f'--cfg-options key {key!r} is not in {config}')


def parse_tool(name: str, argv: List[str]):
    """``tools/<name>.py``'s ``parse_args(argv)``; an argparse error becomes a CommandError."""
    if not osp.isfile(osp.join(ROOT, 'tools', f'{name}.py')):
        raise CommandError(f'tools/{name}.py does not exist')
    tool = load_tool(name)
    if not hasattr(tool, 'parse_args'):
        raise CommandError(f'tools/{name}.py has no parse_args(argv)')
    try:
        namespace = tool.parse_args(list(argv))
    except SystemExit as exc:
        if exc.code == 0 and ('--help' in argv or '-h' in argv):
            return None
        raise CommandError(f'tools/{name}.py rejects {argv} (exit {exc.code})') from None
    if name in CONFIG_TOOLS and getattr(namespace, 'config', None):
        _check_cfg_keys(namespace.config, _cfg_option_keys(namespace))
    elif name in ROW_TOOLS:
        _check_cfg_keys(DEMO_CONFIG, _cfg_option_keys(namespace))
    return namespace


def _check_sphinx(args: List[str]) -> str:
    """``python -m sphinx [options] SOURCE OUTPUT``: the source folder and its conf.py exist."""
    positional, i = [], 0
    while i < len(args):
        if args[i] in ('-b', '-d', '-c', '-D', '-j', '-t', '-w'):
            i += 2
            continue
        if not args[i].startswith('-'):
            positional.append(args[i])
        i += 1
    if len(positional) != 2:
        raise CommandError(f'sphinx wants SOURCE OUTPUT, got {positional}')
    if not osp.isfile(osp.join(ROOT, positional[0], 'conf.py')):
        raise CommandError(f'{positional[0]}/conf.py does not exist')
    return 'sphinx'


def check(command: Command, outputs: Optional[set] = None) -> str:
    """Check one command (see the module's docstring); return its kind."""
    outputs = set() if outputs is None else outputs
    words = _strip_env(list(command.words))
    if not words:
        raise CommandError('empty command')
    if words[:3] in (['python', '-m', 'sphinx'], ['python3', '-m', 'sphinx']):
        return _check_sphinx(words[3:])
    _check_paths(words, outputs)
    head = words[0]
    if head in ('python', 'python3') and len(words) > 2 and words[1] == '-m':
        module, args = words[2], words[3:]
        if module == 'pip':
            return check(Command(['pip'] + args, command.source, command.block), outputs)
        if module == 'pytest':
            return check(Command(['pytest'] + args, command.source, command.block), outputs)
        raise CommandError(f'no check for python -m {module}')
    if head in ('python', 'python3') and len(words) == 3 and words[1] == '-c':
        try:
            compile(words[2], command.source, 'exec')
        except SyntaxError as exc:
            raise CommandError(f'python -c: {exc}') from None
        return 'python -c'
    if head in ('python', 'python3'):
        script = words[1] if len(words) > 1 else ''
        m = re.fullmatch(r'tools/(\w+)\.py', script)
        if not m:
            raise CommandError(f'no check for python {script}')
        parse_tool(m.group(1), words[2:])
        return 'tool'
    if head == 'bash':
        script = words[1] if len(words) > 1 else ''
        if not re.fullmatch(r'tools/[\w-]+\.sh', script) or not osp.isfile(osp.join(ROOT, script)):
            raise CommandError(f'{script} is not a script under tools/')
        args = words[2:]
        if script == 'tools/dist_train.sh':
            if len(args) < 2 or not args[1].isdigit():
                raise CommandError('usage: bash tools/dist_train.sh CONFIG NUM_PROCS [args]')
            parse_tool('train', [args[0], '--launcher', 'pytorch', *args[2:]])
        elif script == 'tools/dist_test.sh':
            if len(args) < 3 or not args[2].isdigit():
                raise CommandError('usage: bash tools/dist_test.sh CONFIG CKPT NUM_PROCS [args]')
            parse_tool('test', [args[0], args[1], '--launcher', 'pytorch', *args[3:]])
        return 'script'
    if head == 'pytest':
        return 'pytest'  # its paths were checked above
    if head == 'pip':
        if len(words) < 2 or words[1] != 'install':
            raise CommandError(f'no check for pip {words[1:2]}')
        args = words[2:]
        for flag, value in zip(args, args[1:]):
            if flag in ('-r', '-c', '--requirement', '--constraint'):
                if not osp.isfile(osp.join(ROOT, value)):
                    raise CommandError(f'{value} does not exist')
            if flag in ('-e', '--editable') and not osp.exists(osp.join(ROOT, value)):
                raise CommandError(f'{value} does not exist')
        return 'pip'
    raise CommandError(f'no check for the command {head!r}: add one to tests/test_docs/commands.py')


class _Parser(Exception):
    pass


def tool_parser(name: str):
    """The ``argparse.ArgumentParser`` that ``tools/<name>.py``'s ``parse_args`` builds (caught
    at its ``parse_args`` call, nothing parsed)."""
    import argparse
    tool = load_tool(name)
    original = argparse.ArgumentParser.parse_args

    def catch(self, *args, **kwargs):
        raise _Parser(self)

    argparse.ArgumentParser.parse_args = catch
    try:
        tool.parse_args([])
    except _Parser as caught:
        return caught.args[0]
    finally:
        argparse.ArgumentParser.parse_args = original
    raise CommandError(f'tools/{name}.py: parse_args built no parser')


def synopses() -> List[Command]:
    """The inline synopses (``python tools/X.py CONFIG [--opt V]``) of every page."""
    found = []
    for path in doc_files():
        text = open(path, encoding='utf-8').read()
        rel = osp.relpath(path, ROOT)
        text = re.sub(r'^(\s*)(`{3,}|~{3,}).*?^\s*\2\s*$',
                      lambda m: '\n' * m.group(0).count('\n'), text, flags=re.S | re.M)
        for m in re.finditer(r'(?<!`)`([^`]+)`(?!`)', text):
            span = ' '.join(m.group(1).split())
            if re.match(r'(python )?tools/\w+\.py', span) and _is_synopsis(span):
                line = text.count('\n', 0, m.start()) + 1
                found.append(Command(span.split(), f'{rel}:{line} (synopsis)', 0))
    return found


def check_synopsis(command: Command) -> None:
    """Every ``--option`` a synopsis names is an option of its tool."""
    words = command.words[1:] if command.words[0] == 'python' else command.words
    name = re.fullmatch(r'tools/(\w+)\.py', words[0]).group(1)
    if not osp.isfile(osp.join(ROOT, 'tools', f'{name}.py')):
        raise CommandError(f'tools/{name}.py does not exist')
    known = {s for action in tool_parser(name)._actions for s in action.option_strings}
    for option in re.findall(r'(?<![\w-])(--[a-z][\w-]*)', ' '.join(words[1:])):
        if option not in known:
            raise CommandError(f'tools/{name}.py has no option {option}')
