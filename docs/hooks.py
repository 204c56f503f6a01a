"""MkDocs hooks: the command line's options read from its own parser, and the docstrings'
reStructuredText roles shown as plain code.

Both happen while the site is built, so the pages cannot drift from the code: the options
page is what ``gbp-widgets COMMAND --help`` prints, and the API pages are the docstrings.
"""

from __future__ import annotations

import contextlib
import io
import os
import re

HELP_MARKER = "<!-- gbp-widgets --help -->"
# ":func:`name`" and the like, as mkdocstrings renders them: the role, then the code.
ROLE = re.compile(r":(?:func|class|meth|attr|data|mod|exc|obj|const):(?=<code>)")
# "~gbp_widgets.x.y" in a role shows the last part only, as Sphinx does.
SHORTENED = re.compile(r"<code>~(?:[\w]+\.)*(\w+)</code>")


def _help_text() -> str:
    from gbp_widgets.cli import build_parser

    # argparse wraps at the terminal's width; the page's code blocks show 78 columns whole.
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "78"
    try:
        parser = build_parser()
        main = parser.format_help()
        blocks = [("gbp-widgets --help", main)]
        for name in re.search(r"\{([\w,-]+)\}", main).group(1).split(","):
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed), contextlib.suppress(SystemExit):
                parser.parse_args([name, "--help"])
            blocks.append((f"gbp-widgets {name} --help", printed.getvalue()))
    finally:
        if columns is None:
            os.environ.pop("COLUMNS")
        else:
            os.environ["COLUMNS"] = columns
    return "\n".join(f"### `{title}`\n\n```\n{text.rstrip()}\n```\n" for title, text in blocks)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if HELP_MARKER in markdown:
        return markdown.replace(HELP_MARKER, _help_text())
    return markdown


def on_page_content(html: str, page, config, files) -> str:
    return SHORTENED.sub(r"<code>\1</code>", ROLE.sub("", html))
