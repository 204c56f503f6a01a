"""Real nbgrader on the course in classroom/: the releases in notebooks/ are what
``generate_assignment`` makes from the instructor sources; ``autograde`` gives a correct
submission full marks and a typical wrong one partial marks with feedback naming the mistake."""

import importlib.util
import json
from pathlib import Path

import nbformat
import pytest

# The fast subset leaves this out: nbgrader runs the assignments in kernels.
pytestmark = pytest.mark.notebooks

ROOT = Path(__file__).resolve().parents[1]
SOURCE_CELL_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def load_release_module():
    spec = importlib.util.spec_from_file_location("course_release", ROOT / "classroom/release.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


release = load_release_module()


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    path = release.copy_course(tmp_path_factory.mktemp("course"))
    release.generate(path)
    return path


def cells_by_id(path):
    notebook = nbformat.read(path, as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c for c in notebook.cells}


def solution(source):
    return "\n".join(
        line for line in source.splitlines() if line.strip() not in SOURCE_CELL_MARKERS
    )


def submit(course, student, assignment, answers):
    """Fill the released notebook's answer cells: the instructor's solutions, then ``answers``
    (grade_id -> source) on top, and hand it in as ``student``."""
    name = f"assignment_{assignment}.ipynb"
    source_cells = cells_by_id(course / "source" / assignment / name)
    notebook = nbformat.read(course / "release" / assignment / name, as_version=4)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata["nbgrader"].get("solution") and cell.cell_type == "code":
            cell.source = answers.get(grade_id, solution(source_cells[grade_id].source))
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True)
    nbformat.write(notebook, folder / name)
    (folder / "timestamp.txt").write_text("2026-11-23 09:00:00.000000 UTC")


def submit_blank(course, student, assignment):
    """Hand in the released notebook untouched: every answer cell still raises."""
    name = f"assignment_{assignment}.ipynb"
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True)
    (folder / name).write_bytes((course / "release" / assignment / name).read_bytes())
    (folder / "timestamp.txt").write_text("2026-11-23 09:00:00.000000 UTC")


def grade(course, assignment):
    release.nbgrader("autograde", assignment, "--force", cwd=course)
    release.nbgrader("generate_feedback", assignment, "--force", cwd=course)
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        return {
            s.student_id: (s.code_score, s.max_code_score)
            for s in gradebook.find_assignment(assignment).submissions
        }


def feedback_html(course, student, assignment):
    return (
        course / "feedback" / student / assignment / f"assignment_{assignment}.html"
    ).read_text()


PLAIN_GRADIENT_GUIDED = """
class GuidedReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * (x > 0)
"""


def test_guided_relu_assignment_is_graded_by_nbgrader(course):
    submit(course, "right", "guided_relu", {})
    submit(course, "plain", "guided_relu", {"guided_relu": PLAIN_GRADIENT_GUIDED})
    submit_blank(course, "blank", "guided_relu")
    scores = grade(course, "guided_relu")
    assert scores["right"] == (19.0, 19.0)
    assert scores["blank"] == (0.0, 19.0)
    # 0.7 of the 8-point check, all 5 DeconvNet points, 3 of 6 hidden points.
    assert scores["plain"] == (pytest.approx(13.6), 19.0)
    html = feedback_html(course, "plain", "guided_relu")
    assert "the backward mask 1[g&gt;0] must zero it" in html
    assert "plain ReLU gradient" in html
    assert "in a ResNet-18 with the ReLU before each addition, your input gradient" in html
    assert "plain ReLU gradient" not in feedback_html(course, "right", "guided_relu")


CLASSIC_AS_FIXED = """
def hook_guided_backprop(model, images, target):
    return classic_hook_guided_backprop(model, images, target)
"""


def test_hooks_assignment_is_graded_by_nbgrader(course):
    submit(course, "right", "relu_hooks_miss", {})
    submit(course, "unfixed", "relu_hooks_miss", {"fixed_hooks": CLASSIC_AS_FIXED})
    submit_blank(course, "blank", "relu_hooks_miss")
    scores = grade(course, "relu_hooks_miss")
    assert scores["right"] == (18.0, 18.0)
    assert scores["blank"] == (0.0, 18.0)
    # Part 1 (4) and the answers (2) in full, half of the fixed check (4 of 8), no hidden points.
    assert scores["unfixed"] == (pytest.approx(10.0), 18.0)
    html = feedback_html(course, "unfixed", "relu_hooks_miss")
    assert "nn.ReLU6 is not a subclass of nn.ReLU" in html
    assert "no module hook can catch: FunctionalNet#1" in html


@pytest.mark.parametrize("assignment", release.ASSIGNMENTS)
def test_stored_release_is_what_nbgrader_generates(course, assignment):
    name = f"assignment_{assignment}.ipynb"
    generated = json.loads((course / "release" / assignment / name).read_text())
    stored = json.loads((ROOT / "notebooks" / name).read_text())
    assert [(c["cell_type"], c["source"], c["metadata"]) for c in stored["cells"]] == [
        (c["cell_type"], c["source"], c["metadata"]) for c in generated["cells"]
    ], "run `python classroom/release.py` to regenerate the student notebooks"


@pytest.mark.parametrize("assignment", release.ASSIGNMENTS)
def test_student_release_holds_no_solutions_or_teacher_notes(assignment):
    name = f"assignment_{assignment}.ipynb"
    source = cells_by_id(ROOT / "classroom" / "source" / assignment / name)
    released = cells_by_id(ROOT / "notebooks" / name)
    assert source.keys() == released.keys()
    text = (ROOT / "notebooks" / name).read_text()
    for marker in ("BEGIN SOLUTION", "HIDDEN TESTS", "relu_network_mismatch", "hook_mismatch"):
        assert marker not in text
    for grade_id, cell in source.items():
        if "### BEGIN SOLUTION" in cell.source:
            assert released[grade_id].source != cell.source
