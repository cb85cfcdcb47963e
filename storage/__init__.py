"""File systems: the local one and HDFS, behind one interface."""
