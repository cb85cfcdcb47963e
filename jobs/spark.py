"""The Spark session every job starts: ``local[*]`` by default, the submitter's master otherwise."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from matchmaker.settings import PROJECT_ROOT

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MASTER_ENV = "MATCHMAKER_SPARK_MASTER"


def add_master_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--master`` option every job takes (default: ``$MATCHMAKER_SPARK_MASTER``)."""
    parser.add_argument("--master", default=os.environ.get(MASTER_ENV) or None,
                        help=f"Spark master, e.g. spark://127.0.0.1:7077 (default: ${MASTER_ENV}, "
                             "else local[*] unless spark-submit sets one)")


def spark_session(master: str | None, app_name: str) -> SparkSession:
    """A session on ``master``, else ``$MATCHMAKER_SPARK_MASTER``, else ``local[*]`` (unless spark-submit set one).

    Executors get the driver's Python (unless ``PYSPARK_PYTHON`` names one) and the project on
    their ``PYTHONPATH``, so the jobs' functions unpickle on a standalone worker as they do locally.
    """
    from pyspark.sql import SparkSession

    master = master or os.environ.get(MASTER_ENV) or None
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    elif "SPARK_HOME" not in os.environ and "PYSPARK_SUBMIT_ARGS" not in os.environ:
        builder = builder.master("local[*]")
    interactive = sys.stderr.isatty()
    paths = [str(PROJECT_ROOT), *os.environ.get("PYTHONPATH", "").split(os.pathsep)]
    python_path = os.pathsep.join(dict.fromkeys(path for path in paths if path))
    builder = (builder.config("spark.ui.showConsoleProgress", "true" if interactive else "false")
               .config("spark.ui.enabled", "false")
               .config("spark.hadoop.dfs.replication", "1")
               .config("spark.executorEnv.PYTHONPATH", python_path)
               .config("spark.executorEnv.HF_HUB_OFFLINE", "1")
               .config("spark.executorEnv.TOKENIZERS_PARALLELISM", "false"))
    return builder.getOrCreate()
