"""Hot reload: what a cell (or a reloaded module) changed, applied to the live app at once.

`_hotreload.HotReloader` is the engine; the other modules are the pieces it uses: names a cell
binds, route rebuilding and lookup, type substitution, dependency overrides, slot history for
shadowed definitions, the notebook's live cells, and module reloads.
"""
