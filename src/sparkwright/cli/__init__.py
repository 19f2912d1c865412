"""The ``sparkwright`` command line. Heavy modules (pyspark, mlflow) are imported inside the commands,
so ``--help`` and ``validate`` answer without starting a JVM.

Exit codes: 0 success, 1 unexpected error, 2 invalid project file or option, 3 unusable data,
4 invalid model, 5 Spark or MLflow failure, 6 a monitoring threshold was crossed (``monitor``, after
writing every output).

Each module of this package registers its commands on the shared ``app`` when imported.
"""

from sparkwright.cli import (  # noqa: F401  (each registers its commands)
    export,
    init,
    lake,
    main_job,
    models,
    monitor,
    predict,
    profile,
    recommend,
    serve,
    server,
    stream,
)
from sparkwright.cli.common import app


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
