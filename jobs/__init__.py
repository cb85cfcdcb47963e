"""Batch jobs (Spark): index building and listing export."""
