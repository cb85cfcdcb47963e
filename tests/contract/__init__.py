"""One contract test per external-system interface, run against every backend."""
