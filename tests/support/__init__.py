"""What the tests and the bench scripts share; none of it ships in the kernel_ext package.

- `waiting`: `wait_for`, the one polling helper (a hang detector, never a time budget).
- `ports`: `free_port`, `port_is_free`.
- `kernel`: a real IPython kernel over jupyter_client (`Kernel`), and helpers to start one with
  kernel_ext loaded and an app defined (`start_kernel`, `kernel_with_app`, `ok`, ...).
- `shell`: `Shell`, the in-process IPython shell behind the `shell` fixture (tests/conftest.py).
- `servers`: `serve`, uvicorn in a thread on a port the OS picks.
- `explorer_app`: the demo app with every kind of input the explorer handles.
- `load`: concurrent HTTP clients that record every outcome.
- `jupyter`: a real jupyter-server (with jupyter-server-proxy) and the kernels it starts.
- `notebooks`: the project's notebooks, the cells that serve their app, new notebooks from cells.
- `http_files`: `.http` text parsed and its variables checked, as a cell's would be.
- `shop`: a package beside the notebook, for the tests of reloading imported modules.
- `reload_harness`, `reload_corpus`: the differential hot-reload tests' machinery.
- `export_replay`, `export_replay_ws`: record a notebook's requests, replay them against gunicorn.

bench/ imports these as `tests.support...`: run the bench scripts as modules from the repository
root (`python -m bench.run_all`, as `make bench` does), which puts the root on `sys.path`.
"""
