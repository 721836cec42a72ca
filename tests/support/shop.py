"""A package `shop` written beside the notebook, for the tests of reloading imported modules."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

ITEMS = """
from fastapi import APIRouter, Depends
from pydantic import BaseModel

router = APIRouter(prefix="/items")


class Item(BaseModel):
    name: str


def get_user() -> str:
    return "alice"


@router.get("/list")
def list_items() -> list[Item]:
    return [Item(name="a")]


@router.get("/me")
def me(user: str = Depends(get_user)) -> str:
    return user
"""


class Package:
    """A package `shop` beside the notebook; each write moves the file's mtime forward.

    Forward across tests too: `%autoreload` stays loaded in the test process and remembers the
    mtime it last saw for `shop.items`; a new test's file must look newer than that, or an
    edit made within 2 s of the last test's goes unseen (it did, on a loaded machine).
    """

    _last_mtime = 0.0  # the latest mtime any write in this process gave

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "shop").mkdir()
        (root / "shop" / "__init__.py").write_text("")
        self.write("items.py", ITEMS)

    def write(self, name: str, text: str) -> None:
        path = self.root / "shop" / name
        path.write_text(textwrap.dedent(text))
        mtime = max(time.time(), Package._last_mtime + 2)  # + 2: mtimes are coarse
        os.utime(path, (mtime, mtime))
        Package._last_mtime = mtime

    def edit(self, old: str, new: str, name: str = "items.py") -> None:
        text = (self.root / "shop" / name).read_text()
        assert old in text, old
        self.write(name, text.replace(old, new))


# A notebook's app that includes the module's router between two routes of its own.
APP = """
from fastapi import FastAPI
from shop import items

app = FastAPI()

@app.get("/first")
def first() -> str:
    return "first"

app.include_router(items.router, prefix="/api")

@app.get("/last")
def last() -> str:
    return "last"
"""
