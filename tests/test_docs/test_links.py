"""Links and pictures of the Markdown pages lead somewhere, the front page stays a front page,
and the Python example the docs show is the one ``tests/test_apis/test_readme_example.py``
runs. (The Sphinx build, ``.ci/run``, checks the docs' links too; the README is not part of
it, so its links are checked here.)"""
import os.path as osp
import re

import pytest

from tests.test_docs.commands import ROOT, doc_files

LINK = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)\)')


def _strip_code(text):
    text = re.sub(r'^(\s*)(`{3,}|~{3,}).*?^\s*\2\s*$', '', text, flags=re.S | re.M)
    return re.sub(r'`[^`]*`', '', text)


def slug(title):
    """The anchor of a heading, as GitHub and MyST (``myst_heading_anchors``) make it."""
    title = re.sub(r'`([^`]*)`', r'\1', title.strip().lower())
    return re.sub(r'[^\w\- ]', '', title).replace(' ', '-')


def anchors(path):
    text = re.sub(r'^(\s*)(`{3,}|~{3,}).*?^\s*\2\s*$', '', open(path, encoding='utf-8').read(),
                  flags=re.S | re.M)
    return {slug(m.group(1)) for m in re.finditer(r'^#{1,6}\s+(.*)$', text, re.M)}


LINKS = [(osp.relpath(path, ROOT), target) for path in doc_files()
         for target in LINK.findall(_strip_code(open(path, encoding='utf-8').read()))]


@pytest.mark.parametrize('page, target', LINKS, ids=[f'{p}->{t}' for p, t in LINKS])
def test_link_resolves(page, target):
    if re.match(r'[a-z]+:', target):
        pytest.skip('external link: not followed offline')
    path, _, anchor = target.partition('#')
    full = osp.normpath(osp.join(ROOT, osp.dirname(page), path)) if path else \
        osp.join(ROOT, page)
    assert osp.exists(full), f'{page}: {target} does not exist'
    assert full.startswith(ROOT + osp.sep), f'{page}: {target} leaves the repository'
    if anchor:
        assert anchor in anchors(full), f'{page}: no heading #{anchor} in {path or page}'


def test_readme_is_a_front_page():
    readme = open(osp.join(ROOT, 'README.md'), encoding='utf-8').read()
    assert len(readme.splitlines()) <= 200
    assert readme.count('![') == 1  # one picture
    for command in ('pip install -r requirements.txt && pip install -e .',
                    'python tools/train.py configs/sair/sair_demo.py\n', '\npytest\n',
                    'python tools/inpaint.py', 'python tools/web_demo.py'):
        assert command in readme, command


def _python_example(path, after):
    text = open(osp.join(ROOT, path), encoding='utf-8').read().split(after, 1)[1]
    return re.search(r'```python\n(.*?)```', text, re.S).group(1)


def test_inference_page_shows_the_tested_example():
    assert _python_example('docs/user_guides/inference.md', '## Python') == \
        _python_example('README.md', '## Your own images')
