"""Hot reload: what a cell (or a reloaded module) changed, applied to the live app at once.

`_hotreload.HotReloader` runs the hooks and the order of phases; `_rules/` holds one rule per
kind of change (routes, routers and sub-apps made anew, stale classes and dependencies,
middleware, exception and event handlers, lifespan, dependency overrides), each testable on bare
routers and apps. The other modules are the pieces they use: names a cell binds and what it
rebound (`_boundnames`, `_namespace`), route keys and rebuilding, type substitution, slot history
for shadowed definitions, the notebook's live cells, and module reloads.
"""
