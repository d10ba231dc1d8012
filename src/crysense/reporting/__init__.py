"""What a run leaves behind: figures, JSON reports and generated README sections (`outputs`), the generated text
and the model card (`text`), and the notebook chain with papermill (`runner`). The names notebooks use are
re-exported here (``reporting.save_figure``, ``reporting.run_notebooks``).

May import: every other subpackage (it reports on all of them).
"""
from .outputs import markdown_table, publish, save_figure, update_generated, writes_generated
from .runner import (
    NEEDS,
    ONE_THREAD_ENV,
    in_dependency_order,
    machine,
    run_notebooks,
    run_times_markdown,
    run_total_markdown,
    select_notebooks,
    study_notebooks,
)

__all__ = ["NEEDS", "ONE_THREAD_ENV", "in_dependency_order", "machine", "markdown_table", "publish", "run_notebooks",
           "run_times_markdown", "run_total_markdown", "save_figure", "select_notebooks", "study_notebooks",
           "update_generated", "writes_generated"]
