"""Bench scripts: run each as a module from the repository root, e.g. `python -m bench.run_all`
(what `make bench` does), so that `bench` and `tests.support` import without sys.path edits."""
