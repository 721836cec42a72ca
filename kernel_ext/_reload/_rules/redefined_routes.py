"""A route a cell defines replaces the one it redefines, in that one's slot: the last one wins.

Starlette serves the first matching route, so a re-run `@app.get("/x")` would append a second
route and leave the first one serving. After a cell, each router's new entries are matched with
the ones they replace (same method and path, or same include or mount; without cell ids also
the same endpoint name) and take their slots, as a fresh run of the notebook would order them.
What a re-run cell no longer defines goes, and the definition it had replaced comes back.
"""

from __future__ import annotations

from collections.abc import Hashable

from starlette.routing import BaseRoute, Router

from ... import _compat as private
from .._routeindex import RouteIndex
from .._routes import endpoint_name, replaces
from .records import CellRecord
from .route_table import RouteTable


def settle_router(
    table: RouteTable, router: Router, before: list[BaseRoute], record: CellRecord, by_name: bool
) -> int:
    """Settle what a cell did to `router`, whose routes were `before`. Returns how many routes
    it added or removed. `by_name`: no cell ids, so a re-run is known by its endpoint's name."""
    routes = router.routes
    if len(routes) == len(before) and (not routes or routes[-1] is before[-1]):
        return 0  # the usual cell: it defined no route here
    index = table.index(router, before)
    new, gone = _new_and_gone(table, router, before, index)
    if not new:
        return len(gone)
    record.routes.extend((router, r) for r in new)
    slots = _Slots()
    new_ids = set(map(id, new))
    for entry in new:
        for old in index.candidates(entry, by_name):
            if id(old) in new_ids or id(old) in slots.dropped:
                continue
            if replaces(entry, old, table.names) or (by_name and _same_endpoint(entry, old)):
                slots.drop(old, entry)
    superseded = _supersede_within_cell(table, new, slots.slot_of, slots.placed)
    for entry in new:
        if id(entry) not in superseded:
            index.add(entry)
            table.count_dependencies(entry, +1)
    if slots.dropped or superseded:
        _take_slots(table, router, new, slots, superseded, by_name)
    return len(new) + len(gone)


class _Slots:
    """Which old entries a cell's new ones replace, and which new entry takes each one's slot."""

    def __init__(self) -> None:
        self.dropped: dict[int, BaseRoute] = {}  # id(old entry) -> it
        self.slot_of: dict[int, BaseRoute] = {}  # id(old entry) -> the new entry in its slot
        self.placed: set[int] = set()  # ids of the new entries that took a slot

    def drop(self, old: BaseRoute, entry: BaseRoute) -> None:
        self.dropped[id(old)] = old
        if id(entry) not in self.placed:  # one slot per new entry: the first old one's
            self.slot_of[id(old)] = entry
            self.placed.add(id(entry))


def _new_and_gone(
    table: RouteTable, router: Router, before: list[BaseRoute], index: RouteIndex
) -> tuple[list[BaseRoute], list[BaseRoute]]:
    """The entries the cell added to `router`, and those it took out of the list itself."""
    routes, count = router.routes, len(before)
    appended = len(routes) > count and (count == 0 or routes[count - 1] is before[-1])
    if appended and (count == 0 or routes[0] is before[0]):
        return routes[count:], []  # the usual case: decorators appended to the same list
    # The cell changed the list itself, e.g. removed a route by hand.
    known, current = set(map(id, before)), set(map(id, routes))
    new = [r for r in routes if id(r) not in known]
    gone = [r for r in before if id(r) not in current]
    for route in gone:
        index.remove(route)
        table.count_dependencies(route, -1)
        table.shadows.remove(route)
    if gone:
        table.forget_includes(router)
        private.mark_routes_changed(router)
    return new, gone


def _take_slots(
    table: RouteTable,
    router: Router,
    new: list[BaseRoute],
    slots: _Slots,
    superseded: dict[int, BaseRoute],
    by_name: bool,
) -> None:
    """Each new entry that replaces one moves into its slot; the entries replaced, and those a
    later definition in the same cell superseded, go. One assignment for the router."""
    routes = router.routes
    dropped, slot_of, placed = slots.dropped, slots.slot_of, slots.placed
    # Appended entries sit at the end: say where, rather than search 5,000 ids for them.
    appended_at = {id(r): len(routes) - len(new) + i for i, r in enumerate(new)}
    wanted = [*dropped.values(), *(r for r in new if id(r) in placed), *superseded.values()]
    ids, position_of = table.locate(router, routes, wanted, appended_at)
    settled, settled_ids = list(routes), list(ids)
    delete: set[int] = set()
    for old_id, old in dropped.items():
        if old_id not in position_of:  # someone else removed it already
            placed.discard(id(slot_of.pop(old_id, old)))
            continue
        position = position_of[old_id]
        if old_id in slot_of:
            settled[position] = slot_of[old_id]  # the new entry keeps the old one's place
            settled_ids[position] = id(slot_of[old_id])
            if not by_name:  # cells with ids can be edited away: then the old one returns
                table.shadows.push(slot_of[old_id], old)
                table.taken.append((old, slot_of[old_id]))
        else:
            delete.add(position)
    delete.update(position_of[entry_id] for entry_id in placed)
    delete.update(position_of[entry_id] for entry_id in superseded if entry_id in position_of)
    for position in sorted(delete, reverse=True):
        del settled[position]
        del settled_ids[position]
    table.assign(router, settled, removed=list(dropped.values()), replaced_by=slot_of)
    table.remember_ids(router, settled, settled_ids)


def _supersede_within_cell(
    table: RouteTable, new: list[BaseRoute], slot_of: dict[int, BaseRoute], placed: set[int]
) -> dict[int, BaseRoute]:
    """One cell defining a method and path twice: the later definition wins, as it would
    across cells, in the slot the earlier one took. Returns the earlier ones, by id."""
    superseded: dict[int, BaseRoute] = {}
    seen: dict[Hashable, list[BaseRoute]] = {}
    for entry in new:
        key = table.key(entry)
        if key is None:
            continue
        for earlier in seen.get(key, ()):
            if id(earlier) in superseded or not replaces(entry, earlier, table.names):
                continue
            superseded[id(earlier)] = earlier
            if id(earlier) in placed:
                placed.discard(id(earlier))
                for old_id, taker in list(slot_of.items()):
                    if taker is earlier:
                        if id(entry) in placed:  # it has a slot already: this one goes
                            del slot_of[old_id]
                        else:
                            slot_of[old_id] = entry
                            placed.add(id(entry))
        seen.setdefault(key, []).append(entry)
    return superseded


def drop_previous_routes(
    table: RouteTable, previous: CellRecord, record: CellRecord
) -> tuple[int, list[BaseRoute]]:
    """A re-run cell no longer registers something: take it away (e.g. /a edited to /b).

    Where it had replaced an older definition that a live cell still makes, that one comes back
    in its slot, as a fresh run would serve it. Returns how many routes went, and those that
    came back (they may name classes redefined since: the caller rebuilds them).
    """
    keep = {id(r) for _, r in record.routes}
    gone: dict[int, tuple[Router, dict[int, BaseRoute | None]]] = {}
    for router, route in previous.routes:
        if id(route) in keep:
            continue
        table.owner.pop(id(route), None)
        below, serving = table.shadows.remove(route)
        if serving:
            gone.setdefault(id(router), (router, {}))[1][id(route)] = below
    removed = 0
    restored_all: list[BaseRoute] = []
    for router, replacement in gone.values():
        settled: list[BaseRoute] = []
        dropped: list[BaseRoute] = []
        restored: dict[int, BaseRoute] = {}  # id(dropped) -> the older definition in its place
        for route in router.routes:
            if id(route) not in replacement:
                settled.append(route)
                continue
            dropped.append(route)
            below = replacement[id(route)]
            if below is not None:
                settled.append(below)
                restored[id(route)] = below
        if dropped:
            removed += len(dropped)
            table.assign(
                router, settled, removed=dropped, added=list(restored.values()), replaced_by=restored
            )
            restored_all.extend(restored.values())
    return removed, restored_all


def _same_endpoint(new: BaseRoute, old: BaseRoute) -> bool:
    name = endpoint_name(new)
    return name is not None and "<lambda>" not in name and name == endpoint_name(old)
