"""Running a student's code: errors told with their own line, no trace left behind.

Student code runs with grad mode on and the global random state forked, so a
check never changes either for the notebook around it. Calls into the
package's own rule implementation are noticed, so delegating to it is flagged
rather than credited.
"""

from __future__ import annotations

import sys
import sysconfig
import traceback
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

_LIBRARY_DIRS = tuple(
    str(Path(p).resolve())
    for p in (
        Path(torch.__file__).parent,
        Path(__file__).parents[1],
        sysconfig.get_paths()["stdlib"],
        sysconfig.get_paths()["purelib"],
        sysconfig.get_paths()["platlib"],
    )
)
_ENGINE = "gbp_widgets.engine"


class StudentCodeError(Exception):
    """The student's code raised; the message says what, and on which of their lines."""


@contextmanager
def isolated() -> Iterator[None]:
    """Grad mode on, the global RNG forked and warnings held back, all restored after."""
    with torch.random.fork_rng(devices=[]), torch.enable_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@contextmanager
def student(doing: str) -> Iterator[None]:
    """Turn anything the student's code raises into a :class:`StudentCodeError`.

    ``doing`` names the code in the message, e.g. ``"your backward"``.
    """
    try:
        yield
    except StudentCodeError:
        raise
    except Exception as err:  # noqa: BLE001 - a student's bug becomes feedback
        raise StudentCodeError(explain_error(err, doing)) from err


def explain_error(err: BaseException, doing: str) -> str:
    """``doing`` raised ``err``: say so with the student's own line and a hint if one fits."""
    if isinstance(err, NotImplementedError):
        return f"{doing} still raises NotImplementedError: replace that line with your code"
    where = _student_line(err)
    told = f"{doing} raised {type(err).__name__}: {_first_line(err)}"
    told += f" ({where})" if where else " (inside torch, not on a line of yours)"
    hint = _hint(err, where)
    return f"{told}. {hint}" if hint else told


def _student_line(err: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(err.__traceback__) if not _is_library(f.filename)]
    if not frames:
        return ""
    frame = frames[-1]
    code = (frame.line or "").strip()
    return f"line {frame.lineno}: `{code}`" if code else f"line {frame.lineno}"


def _is_library(filename: str) -> bool:
    try:
        resolved = str(Path(filename).resolve())
    except (OSError, ValueError):
        return False
    return resolved.startswith(_LIBRARY_DIRS)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    line = text.splitlines()[0] if text else "(no message)"
    # torch's longer messages put the fact in the first sentence and advice after it.
    return line.split(". ")[0] if len(line) > 120 else line


def _hint(err: BaseException, where: str) -> str:
    text = str(err)
    if isinstance(err, ValueError) and "saved_tensors" in where and "unpack" in text:
        return (
            "ctx.saved_tensors holds what forward passed to ctx.save_for_backward: "
            "forward must call ctx.save_for_backward(x)"
        )
    if isinstance(err, AttributeError) and "Backward" in text and "has no attribute" in text:
        return "backward reads something from ctx that forward never stored there"
    if "BackwardHookFunction" in text and "modified inplace" in text:
        return (
            "full backward hooks cannot sit on in-place ReLU modules: set module.inplace = False "
            "while your hooks are on, and put the old value back afterwards"
        )
    return ""


class EngineCalls:
    """Notice calls into ``gbp_widgets.engine`` while active (a profile hook).

    Student code runs on this thread, and so does autograd's backward of CPU
    tensors, so the hook sees every Python call the student's code makes.
    """

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __enter__(self) -> EngineCalls:
        self._previous = sys.getprofile()
        sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.setprofile(self._previous)

    def _profile(self, frame, event: str, arg: object) -> None:
        if event != "call":
            return
        module = frame.f_globals.get("__name__", "")
        if module.startswith(_ENGINE):
            name = f"{module}.{frame.f_code.co_name}"
            if name not in self.calls:
                self.calls.append(name)

    def flag(self) -> str:
        """A sentence for the feedback when the engine was called, else ``""``."""
        if not self.calls:
            return ""
        return (
            f"Your code calls gbp-widgets' own implementation ({self.calls[0]}). "
            "The point is to write the rule yourself from torch operations."
        )
