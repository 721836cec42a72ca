"""`%%http` cells: the `.http` format, its variables, and the runner that sends them."""
