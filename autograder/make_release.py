"""Make the student release: the folder a student needs, and nothing else, to install and run the workbook.

    .venv/bin/python -m autograder.make_release                 # autograder/course/release/ddpg/ and ddpg.zip
    .venv/bin/python -m autograder.make_release --course DIR    # the same for another copy of the course

1. ``nbgrader generate_assignment ddpg --force`` in the course directory: ``release/ddpg/`` gets the student
   notebook (no solutions, no hidden tests) and ``resources/``.
2. A wheel of ``workshop_lib`` (built from a copy of the package alone, so nothing else of the repository can
   slip in) and ``requirements.txt`` go beside the notebook. The requirements file lists the pinned runtime and
   student dependencies of ``pyproject.toml`` and then the wheel, by its relative path: run ``pip install -r
   requirements.txt`` from inside the folder. The student page, ``docs/students.md``, goes beside them as
   ``students.md`` (it is the wheel's description too).
3. The folder is zipped as ``release/ddpg.zip`` (one top folder, ``ddpg/``) for the students who get a file
   instead of nbgrader's exchange, and for Colab.

``nbgrader release_assignment`` copies ``release/ddpg/`` as it is, so students who fetch the assignment through
nbgrader's exchange get the wheel and the requirements file too.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from autograder.course_folder import ASSIGNMENT, COURSE_DIR, REPO, release_dir
from autograder.nbgrader_cli import nbgrader

#: The page students read: the wheel's description (pyproject's ``readme``) and ``students.md`` in the release.
STUDENT_PAGE = Path("docs") / "students.md"
#: The extras of pyproject.toml that a student installs beside the runtime dependencies.
STUDENT_EXTRAS = ("student",)
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def student_requirements() -> list[str]:
    """The pinned requirements of a student's environment, runtime first, without duplicates, in file order."""
    project = pyproject()
    reqs = list(project["dependencies"])
    for extra in STUDENT_EXTRAS:
        reqs += [r for r in project["optional-dependencies"][extra] if r not in reqs]
    return reqs


STUDENT_PACKAGE = "workshop_lib"
"""The one package of the student wheel (the grading host's ``autograder`` is never in it)."""
_PACKAGES_LINE = re.compile(r"^packages\s*=\s*\[.*?\]", re.M | re.S)


def student_pyproject(text: str) -> str:
    """``pyproject.toml`` as the student wheel is built from: its ``[tool.setuptools] packages`` cut down to
    ``workshop_lib`` and its subpackages (the repository's list also names the host's ``autograder``).

    Raises:
        ValueError: the file has no ``packages = [...]`` line, or lists no ``workshop_lib`` package (fix the
            repository's pyproject.toml).
    """
    packages = tomllib.loads(text).get("tool", {}).get("setuptools", {}).get("packages", [])
    kept = [p for p in packages if p == STUDENT_PACKAGE or p.startswith(STUDENT_PACKAGE + ".")]
    if STUDENT_PACKAGE not in kept or not _PACKAGES_LINE.search(text):
        raise ValueError(f"pyproject.toml should list {STUDENT_PACKAGE!r} in [tool.setuptools] packages = [...], got "
                         f"{packages!r}: add it there")
    return _PACKAGES_LINE.sub("packages = [" + ", ".join(f'"{p}"' for p in kept) + "]", text, count=1)


def build_wheel(dest: Path) -> Path:
    """Build the wheel of workshop_lib into ``dest`` from a copy of the package alone; return its path."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        (src / "pyproject.toml").write_text(student_pyproject((REPO / "pyproject.toml").read_text()))
        (src / STUDENT_PAGE).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / STUDENT_PAGE, src / STUDENT_PAGE)
        shutil.copytree(REPO / "workshop_lib", src / "workshop_lib",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        out = Path(tmp) / "wheel"
        # No build isolation: setuptools of this environment builds it, without reaching a package index.
        cmd = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
               "--wheel-dir", str(out), str(src)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"building the wheel failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        (wheel,) = out.glob("workshop_lib-*.whl")
        for old in dest.glob("workshop_lib-*.whl"):
            old.unlink()
        return Path(shutil.copy2(wheel, dest / wheel.name))


def requirements_text(wheel_name: str) -> str:
    """The released requirements.txt: how to use it, the pins, and the wheel."""
    python = pyproject()["requires-python"].removeprefix(">=")
    torch = next(r for r in pyproject()["dependencies"] if r.startswith("torch=="))
    lines = [
        f"# The DDPG workbook, for students: everything the notebook needs (Python {python} or newer).",
        "# From inside this folder:",
        "#   python -m venv .venv",
        "#   source .venv/bin/activate                  (Windows: .venv\\Scripts\\activate)",
        f"#   pip install {torch} --index-url {CPU_INDEX}",
        "#   pip install -r requirements.txt",
        "#   jupyter lab ddpg_pendulum.ipynb            (as root: add --allow-root)",
        f"# Install torch first, from PyTorch's CPU index as above: on Linux the default index's {torch} is",
        "# the CUDA build, several GB. The wheel's path below is relative to the folder pip runs in.",
    ]
    lines += student_requirements()
    lines.append(f"./{wheel_name}")
    return "\n".join(lines) + "\n"


def make_release(course: Path = COURSE_DIR, zip_it: bool = True) -> Path:
    """Generate the release of ``course`` and add the wheel, the requirements and the zip; return the folder."""
    nbgrader(["generate_assignment", ASSIGNMENT, "--force"], cwd=course)
    release = release_dir(course)
    wheel = build_wheel(release)
    (release / "requirements.txt").write_text(requirements_text(wheel.name))
    shutil.copy2(REPO / STUDENT_PAGE, release / STUDENT_PAGE.name)
    if zip_it:
        archive = release.parent / f"{ASSIGNMENT}.zip"
        archive.unlink(missing_ok=True)
        shutil.make_archive(str(archive.with_suffix("")), "zip", root_dir=release.parent, base_dir=ASSIGNMENT)
    return release


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--course", type=Path, default=COURSE_DIR, help="the nbgrader course folder")
    parser.add_argument("--no-zip", action="store_true", help="do not write release/ddpg.zip")
    args = parser.parse_args(argv)
    release = make_release(args.course.resolve(), zip_it=not args.no_zip)
    for path in sorted(release.rglob("*")):
        if path.is_file():
            print(f"{path.relative_to(args.course.resolve())}  ({path.stat().st_size:,} bytes)")
    if not args.no_zip:
        print(f"release/{ASSIGNMENT}.zip: the same folder, zipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
