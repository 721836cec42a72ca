"""The rules hot reload applies after a cell, one kind of change per module.

`_hotreload.HotReloader` runs them in order; each works on bare routers and apps, and is
unit-tested on them (tests/test_reload_rules_*.py):

- `records`: what a cell registered, and what one settle step reports.
- `route_table`: the live routers, and the caches that keep the hooks flat as an app grows.
- `redefined_routes`: a route a cell defines takes the slot of the one it replaces.
- `recreated_routers`: a router or sub-app made anew is served where the old one was.
- `stale_routes`: routes naming a redefined class or dependency are rebuilt with the new one.
- `middleware`: re-run middleware replaces its earlier copy, in its place.
- `exception_handlers`: the last registration wins; deleting it brings the earlier back.
- `app_registrations`: the two above over every app; a changed sub-app's stack is reset.
- `event_handlers`: `@app.on_event` handlers a re-run cell replaces rather than stacks.
- `lifespan`: whether a cell changed what the served app's lifespan runs.
- `dependency_overrides`: routes holding `Depends(old)` reach the newest version.
"""
