"""The Spark session every job starts: ``local[*]`` by default, the submitter's master otherwise."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def spark_session(master: str | None, app_name: str) -> SparkSession:
    """A session on ``master`` (``local[*]`` unless run by spark-submit with its own master)."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    elif "SPARK_HOME" not in os.environ and "PYSPARK_SUBMIT_ARGS" not in os.environ:
        builder = builder.master("local[*]")
    interactive = sys.stderr.isatty()
    builder = (builder.config("spark.ui.showConsoleProgress", "true" if interactive else "false")
               .config("spark.ui.enabled", "false")
               .config("spark.hadoop.dfs.replication", "1")
               .config("spark.executorEnv.HF_HUB_OFFLINE", "1")
               .config("spark.executorEnv.TOKENIZERS_PARALLELISM", "false"))
    if os.environ.get("PYTHONPATH"):
        builder = builder.config("spark.executorEnv.PYTHONPATH", os.environ["PYTHONPATH"])
    return builder.getOrCreate()
