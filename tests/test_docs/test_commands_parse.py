"""Every documented shell command is checked against its tool, nothing run (the rules:
``tests/test_docs/commands.py``)."""
import pytest

from tests.test_docs.commands import (Command, CommandError, all_commands, check, check_synopsis,
                                     synopses)

COMMANDS = all_commands()


def _outputs_before(command):
    """The outputs of the commands before ``command`` in its block (check() adds to them)."""
    outputs = set()
    for other in COMMANDS:
        if other is command:
            return outputs
        if other.block == command.block:
            try:
                check(other, outputs)
            except CommandError:
                pass
    return outputs


def test_commands_are_found():
    sources = {c.source.split(':')[0] for c in COMMANDS}
    assert 'README.md' in sources and 'configs/sair/metafile.yml' in sources
    assert any(s.startswith('docs/') for s in sources)
    words = [str(c) for c in COMMANDS]
    # The front page's commands: install, the main job, test, inpaint.
    for needed in ('pip install -r requirements.txt', 'pytest', 'python tools/inpaint.py',
                   'python tools/train.py configs/sair/sair_demo.py'):
        assert any(w.startswith(needed) for w in words), needed


@pytest.mark.parametrize('command', COMMANDS, ids=[f'{c.source} {c}'[:120] for c in COMMANDS])
def test_documented_command(command):
    check(command, _outputs_before(command))


@pytest.mark.parametrize('words, message', [
    (['python', 'tools/train.py', 'configs/sair/sair_demo.py', '--no-such-option'], 'rejects'),
    (['python', 'tools/train.py', 'configs/sair/nope.py'], 'does not exist'),
    (['python', 'tools/nope.py'], 'does not exist'),
    (['python', 'tools/train.py', 'configs/sair/sair_demo.py', '--cfg-options',
      'train_cfg.no_such_key=2'], 'not in'),
    (['bash', 'tools/dist_train.sh', 'configs/sair/sair_demo.py', '2', '--bad'], 'rejects'),
    (['pip', 'install', '-r', 'requirements/nope.txt'], 'does not exist'),
    (['python', 'tools/collect_results.py', 'results/never_written.json'], 'no earlier command'),
    (['make', 'docs'], 'no check for the command'),
])
def test_drift_is_caught(words, message):
    with pytest.raises(CommandError, match=message):
        check(Command(words, 'test', 0))


def test_outputs_of_earlier_commands_count():
    write = Command(['python', 'tools/test.py', 'configs/sair/sair_demo.py', 'work_dirs/x.pth',
                     '--out', 'results/new.json'], 'test', 1)
    read = Command(['python', 'tools/collect_results.py', 'results/new.json'], 'test', 1)
    outputs = set()
    check(write, outputs)
    check(read, outputs)


SYNOPSES = synopses()


@pytest.mark.parametrize('command', SYNOPSES, ids=[f'{c.source} {c}'[:120] for c in SYNOPSES])
def test_synopsis_options_exist(command):
    check_synopsis(command)


def test_synopsis_drift_is_caught():
    with pytest.raises(CommandError, match='no option --no-such'):
        check_synopsis(Command(['python', 'tools/train.py', 'CONFIG', '[--no-such X]'], 't', 0))
