"""Run a notebook inside the grading sandbox, cell by cell, with caps on its output; report each cell as it ends.

    python -m workshop_lib.grading.notebook_runner NOTEBOOK.ipynb [LIMITS.json]

This is what nbgrader's ``Execute`` preprocessor does, moved into the sandbox: a kernel in the notebook's folder,
errors allowed (the next cell still runs), a per-cell timeout that interrupts the kernel. Two things are added:

* **output caps**: once a cell has written ``cell_output_bytes`` bytes of output, or the notebook
  ``notebook_output_bytes``, the rest of that output is dropped and the cell ends with a note saying so (the limits
  are the :class:`~workshop_lib.grading.limits.SandboxLimits` in ``LIMITS.json``; without it, the defaults);
* **streaming**: after each cell, one JSON line ``{"index": i, "execution_count": n, "outputs": [...]}`` goes
  to the standard output this process started with, so that a notebook cut by the wall-clock limit is still
  graded as far as it got. A last line ``{"event": "done"}`` (or ``"kernel_died"``) ends the stream.

The kernel's own standard output and error go nowhere: only this process writes the stream. Nothing here decides
a grade.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

from workshop_lib.grading import open_channel, speed

speed.skip_iri_grammar()  # before nbformat imports jsonschema: 1.5 CPU-s of grammar no notebook needs

import nbformat  # noqa: E402
from jupyter_client.manager import AsyncKernelManager  # noqa: E402
from nbclient import NotebookClient  # noqa: E402
from nbclient.exceptions import DeadKernelError  # noqa: E402

from workshop_lib.grading.limits import SandboxLimits  # noqa: E402

CUT_NOTE = ("[output cut by the grader: {what} wrote more than {limit} of output; the rest was not kept. "
            "Print less, e.g. only every 10th episode.]\n")


def _size(out: Any) -> int:
    return len(json.dumps(out, default=str))


def _human(n: int) -> str:
    return f"{n / 1e6:g} MB" if n >= 1e6 else f"{n / 1e3:g} kB"


class GradingKernelManager(AsyncKernelManager):
    """The ``python3`` kernel, started through :mod:`workshop_lib.grading.kernel` (ipykernel without the imports
    that decide nothing) instead of ``ipykernel_launcher``."""

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        return [sys.executable, "-m", "workshop_lib.grading.kernel", "-f", os.path.realpath(self.connection_file),
                *(extra_arguments or [])]


class CappedClient(NotebookClient):
    """A :class:`nbclient.NotebookClient` that keeps at most ``cell_cap`` bytes of output per cell and
    ``notebook_cap`` bytes in all."""

    def __init__(self, nb: nbformat.NotebookNode, cell_cap: int, notebook_cap: int, **kw: Any) -> None:
        super().__init__(nb, **kw)
        self.cell_cap, self.notebook_cap = cell_cap, notebook_cap
        self.cell_bytes: dict[int, int] = {}
        self.total_bytes = 0
        self.cut: dict[int, str] = {}

    def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> Any:
        if cell_index in self.cut:
            return None
        out = nbformat.v4.output_from_msg(msg) if msg["msg_type"] in (
            "stream", "display_data", "execute_result", "error") else None
        size = _size(out) if out is not None else 0
        used = self.cell_bytes.get(cell_index, 0)
        if used + size > self.cell_cap:
            self.cut[cell_index] = CUT_NOTE.format(what="this cell", limit=_human(self.cell_cap))
            return None
        if self.total_bytes + size > self.notebook_cap:
            self.cut[cell_index] = CUT_NOTE.format(what="the notebook", limit=_human(self.notebook_cap))
            return None
        self.cell_bytes[cell_index] = used + size
        self.total_bytes += size
        return super().output(outs, msg, display_id, cell_index)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    path = argv[0]
    limits = SandboxLimits.read(argv[1] if len(argv) > 1 else None)
    cell_cap, notebook_cap, timeout = limits.cell_output_bytes, limits.notebook_output_bytes, limits.cell_timeout
    emit = open_channel()

    nb = nbformat.read(path, as_version=4)
    client = CappedClient(nb, cell_cap, notebook_cap, timeout=timeout, interrupt_on_timeout=True,
                          allow_errors=True, kernel_name="python3", record_timing=False,
                          kernel_manager_class=GradingKernelManager,
                          shutdown_kernel="immediate",  # every cell has reported: nothing left to wait for
                          extra_arguments=["--HistoryManager.hist_file=:memory:"],
                          resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}})

    started: dict[int, float] = {}

    def on_cell_execute(cell: Any, cell_index: int) -> None:
        started[cell_index] = time.monotonic()

    def on_cell_executed(cell: Any, cell_index: int, execute_reply: Any) -> None:
        content = (execute_reply or {}).get("content", {})
        if time.monotonic() - started.get(cell_index, time.monotonic()) >= timeout - 0.5:
            # nbclient interrupts a cell past the timeout: the kernel reports a KeyboardInterrupt; say what it was
            cell.outputs.append(nbformat.v4.new_output(
                "error", ename="CellTimeoutError", evalue=f"the cell ran longer than {timeout} s and was interrupted",
                traceback=[f"CellTimeoutError: the cell ran longer than {timeout} s and was interrupted"]))
        if content.get("status") == "error" and not any(o.get("output_type") == "error" for o in cell.outputs):
            # an error the kernel reported without showing it (a timeout, a silenced traceback)
            cell.outputs.append(nbformat.v4.new_output("error", ename=str(content.get("ename", "Error")),
                                                       evalue=str(content.get("evalue", ""))[:1000],
                                                       traceback=[]))
        record = {"index": cell_index, "execution_count": cell.get("execution_count"), "outputs": cell.outputs}
        if cell_index in client.cut:
            cell.outputs.append(nbformat.v4.new_output("stream", name="stderr", text=client.cut[cell_index]))
            record["cut"] = client.cut[cell_index]
        emit(record)

    client.on_cell_execute = on_cell_execute
    client.on_cell_executed = on_cell_executed
    try:
        client.execute()
    except DeadKernelError as err:
        emit({"event": "kernel_died", "message": str(err)[:500]})
        return 0
    except Exception as err:  # noqa: BLE001 - reported to the grader, which decides
        emit({"event": "runner_error", "message": f"{type(err).__name__}: {err}"[:500]})
        return 0
    emit({"event": "done"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
