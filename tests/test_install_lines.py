"""Every `pip install` a reader is told to run, in the README, the contributing guide, the
docs and the notebooks, installs something there is: a path in the repository, with extras
that pyproject.toml defines, and constraints files that exist. gbp-widgets is not on the
package index, so no line may install it by name."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import nbformat
import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
EXTRAS = set(
    tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
)
# Code: fenced blocks, then inline spans.
CODE = re.compile(r"```[^\n]*\n(.*?)```|`([^`\n]+)`", re.S)


def _texts() -> dict[str, str]:
    """Each place's prose and code, by its path (a notebook's markdown and code cells)."""
    found = {}
    for path in [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted(ROOT.glob("docs/**/*.md"))]:
        found[str(path.relative_to(ROOT))] = path.read_text()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = nbformat.read(path, as_version=4).cells
        found[str(path.relative_to(ROOT))] = "\n".join(
            c.source if c.cell_type == "markdown" else f"```\n{c.source}\n```" for c in cells
        )
    return found


def _pip_lines() -> list[tuple[str, str]]:
    """``(place, command)`` for each pip install a reader is told to run."""
    lines = []
    for place, text in _texts().items():
        for fenced, inline in CODE.findall(text):
            for line in (fenced or inline).splitlines():
                for command in re.split(r"&&|;", line):
                    if re.search(r"\bpip install\b", command):
                        lines.append((place, command.strip()))
    return lines


def _problems(command: str) -> list[str]:
    words = shlex.split(command)
    arguments = words[words.index("install") + 1 :]
    problems, skip = [], False
    for at, word in enumerate(arguments):
        if skip:
            skip = False
            continue
        if word in ("-c", "-r", "--constraint", "--requirement"):
            listed = arguments[at + 1]
            if not (ROOT / listed).is_file():
                problems.append(f"{word} {listed}: no such file in the repository")
            skip = True
            continue
        if word.startswith("-"):
            continue
        target, _, extras = word.partition("[")
        if target not in (".", "./"):
            problems.append(f"{word}: installs by name; from a clone, install the path .")
            continue
        for extra in filter(None, extras.rstrip("]").split(",")):
            if extra.strip() not in EXTRAS:
                problems.append(f"{word}: no extra {extra.strip()!r} in pyproject.toml")
    return problems


LINES = _pip_lines()


def test_the_readme_and_the_docs_tell_readers_to_install():
    places = {place for place, _ in LINES}
    assert {"README.md", "docs/getting-started.md", "notebooks/01_quickstart.ipynb"} <= places
    assert any(".[lab]" in command for _, command in LINES), "JupyterLab is reachable"


@pytest.mark.parametrize(("place", "command"), LINES)
def test_each_pip_install_names_what_there_is(place, command):
    assert _problems(command) == [], f"{place}: {command}"


def test_a_line_that_installs_by_name_or_a_missing_extra_is_caught():
    assert _problems('pip install "gbp-widgets[app]"') == [
        "gbp-widgets[app]: installs by name; from a clone, install the path ."
    ]
    assert _problems('pip install -c constraints.txt -e ".[nothing]"') == [
        ".[nothing]: no extra 'nothing' in pyproject.toml"
    ]
    assert _problems("pip install -c nowhere.txt .") == [
        "-c nowhere.txt: no such file in the repository"
    ]


def _package_hints() -> list[tuple[str, str]]:
    """``(file, rest of the line)`` for each ``pip install`` the package's docstrings and
    error messages tell a user to run."""
    return [
        (str(path.relative_to(ROOT)), found.group(1))
        for path in sorted((ROOT / "gbp_widgets").rglob("*.py"))
        for found in re.finditer(r"pip install([^\n]*)", path.read_text(encoding="utf-8"))
    ]


def test_the_packages_messages_install_extras_there_are_from_a_clone():
    hints = _package_hints()
    assert len(hints) >= 4, hints  # the data set, Ray and pandas extras at least
    for place, rest in hints:
        extras = re.findall(r'-e "\.\[([^\]]+)\]"', rest)
        assert extras, f"{place}: pip install{rest} does not install the clone's path"
        for extra in ",".join(extras).split(","):
            assert extra.strip() in EXTRAS, f"{place}: no extra {extra!r} in pyproject.toml"
