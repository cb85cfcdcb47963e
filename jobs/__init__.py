"""Spark jobs that rebuild the index and learn from behaviour logs."""
