"""The package layout: split like FastAPI's "bigger applications" where natural, else one file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kernel_ext._export import export_cells

SETTINGS = """\
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    app_name: str = "Shop"
    database_url: str = "sqlite:///./shop.db"
    model_config = SettingsConfigDict(env_file=".env")


settings = Settings()
"""
DATABASE = """\
from sqlalchemy import String, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

engine = create_engine(settings.database_url, connect_args={"check_same_thread": False})
SessionLocal = sessionmaker(bind=engine)


class Base(DeclarativeBase):
    pass


def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()
"""
MODELS = """\
from pydantic import BaseModel, ConfigDict


class ItemRow(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))


class ItemIn(BaseModel):
    name: str


class ItemOut(ItemIn):
    id: int
    model_config = ConfigDict(from_attributes=True)


class UserOut(BaseModel):
    name: str
"""
DEPENDENCIES = """\
from typing import Annotated

from fastapi import Depends


def pagination(skip: int = 0, limit: int = 10) -> dict:
    return {"skip": skip, "limit": limit}
"""
ITEMS = """\
from fastapi import APIRouter

router = APIRouter(prefix="/items", tags=["items"])


@router.post("/", response_model=ItemOut)
def create_item(item: ItemIn, db: Annotated[Session, Depends(get_db)]):
    row = ItemRow(name=item.name)
    db.add(row)
    db.commit()
    db.refresh(row)
    return row


@router.get("/", response_model=list[ItemOut])
def list_items(db: Annotated[Session, Depends(get_db)],
               page: Annotated[dict, Depends(pagination)]):
    return db.query(ItemRow).offset(page["skip"]).limit(page["limit"]).all()
"""
USERS = """\
users_router = APIRouter(prefix="/users", tags=["users"])


@users_router.get("/me", response_model=UserOut)
def me():
    return {"name": "ada"}
"""
MAIN = """\
from fastapi import FastAPI

app = FastAPI(title=settings.app_name)
Base.metadata.create_all(bind=engine)
app.include_router(router)
app.include_router(users_router)


@app.get("/")
def root():
    return {"app": settings.app_name}
"""
PROBE = """\
import httpx
import kernel_ext

r = httpx.post(kernel_ext.base_url() + "/items/", json={"name": "pen"})
assert r.status_code == 200
"""

CHECK = """\
import sys
from fastapi.testclient import TestClient
from app.main import app

client = TestClient(app)
assert client.post("/items/", json={"name": "pen"}).json() == {"name": "pen", "id": 1}
assert client.get("/items/").json() == [{"name": "pen", "id": 1}]
assert client.get("/users/me").json() == {"name": "ada"}
assert client.get("/").json() == {"app": "Shop"}
print("ok")
"""


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_a_bigger_app_is_split_into_modules(tmp_path: Path) -> None:
    cells = ["%load_ext kernel_ext", SETTINGS, DATABASE, MODELS, DEPENDENCIES, ITEMS, USERS, MAIN, PROBE]
    result = export_cells(cells, tmp_path)
    package = [f for f in result.files if f.startswith("app/")]
    assert package == [
        "app/__init__.py",
        "app/config.py",
        "app/database.py",
        "app/dependencies.py",
        "app/main.py",
        "app/models/__init__.py",
        "app/models/item.py",
        "app/models/user.py",
        "app/routers/__init__.py",
        "app/routers/items.py",
        "app/routers/users.py",
    ]
    main = (tmp_path / "app/main.py").read_text()
    assert "from app.routers.items import router" in main
    assert "from app.routers.users import users_router" in main
    assert "Base.metadata.create_all(bind=engine)" in main
    items = (tmp_path / "app/routers/items.py").read_text()
    assert "from app.dependencies import pagination" in items
    assert "from app.models.item import ItemIn, ItemOut, ItemRow" in items
    database = (tmp_path / "app/database.py").read_text()
    assert "from app.config import settings" in database and "def get_db():" in database
    assert "class ItemRow(Base)" in (tmp_path / "app/models/item.py").read_text()
    assert "httpx" not in "".join((tmp_path / f).read_text() for f in package)
    run = run_python(CHECK, tmp_path)
    assert run.stdout.strip() == "ok", run.stderr


def test_without_a_natural_split_everything_is_in_main(tmp_path: Path) -> None:
    cells = [
        "from fastapi import FastAPI, APIRouter\napp = FastAPI()",
        "router = APIRouter(prefix='/a')\n\n@router.get('/')\ndef a():\n    return 'a'\n\n"
        "app.include_router(router)",
        "router = APIRouter(prefix='/b')\n\n@router.get('/')\ndef b():\n    return 'b'\n\n"
        "app.include_router(router)",
    ]
    result = export_cells(cells, tmp_path)
    assert [f for f in result.files if f.startswith("app/")] == ["app/__init__.py", "app/main.py"]
    check = (
        "from fastapi.testclient import TestClient\nfrom app.main import app\n"
        "c = TestClient(app)\nprint(c.get('/a/').json(), c.get('/b/').json())"
    )
    run = run_python(check, tmp_path)
    assert run.stdout.strip() == "a b", run.stderr


def test_imports_are_merged_and_grouped(tmp_path: Path) -> None:
    cells = [
        "from fastapi import FastAPI\nimport os\napp = FastAPI()",
        "from fastapi import Query\nfrom typing import Annotated\n\n@app.get('/q')\n"
        "def q(x: Annotated[str, Query()] = os.sep):\n    return x",
    ]
    export_cells(cells, tmp_path)
    main = (tmp_path / "app/main.py").read_text()
    assert main.startswith(
        '"""The FastAPI app."""\n\nimport os\nfrom typing import Annotated\n\n'
        "from fastapi import FastAPI, Query\n\n\napp = FastAPI()\n"
    )
