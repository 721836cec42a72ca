"""A demo app covering every kind of input the explorer handles (serve it with support.servers)."""

from __future__ import annotations

import asyncio
import base64
from enum import StrEnum
from typing import Annotated, Any

from fastapi import (
    Cookie,
    Depends,
    FastAPI,
    File,
    Form,
    Header,
    HTTPException,
    Query,
    UploadFile,
    WebSocket,
    WebSocketDisconnect,
)
from fastapi.responses import HTMLResponse, PlainTextResponse, Response, StreamingResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials, OAuth2PasswordBearer, OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


class Color(StrEnum):
    red = "red"
    blue = "blue"


class Tag(BaseModel):
    label: str
    weight: int = 1


class Item(BaseModel):
    name: str = Field(min_length=1)
    price: float = Field(gt=0)
    tags: list[Tag] = []


oauth2 = OAuth2PasswordBearer(tokenUrl="token")
basic = HTTPBasic()


def demo_app() -> FastAPI:
    """Every kind of input the explorer must handle, in one app."""
    app = FastAPI(title="demo")

    @app.get("/items/{item_id}", tags=["items"])
    def read_item(
        item_id: int,
        q: str | None = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 10,
        color: Color = Color.red,
        flag: bool = False,
        ids: Annotated[list[int], Query()] = [],  # noqa: B006 - FastAPI copies defaults
        x_trace: Annotated[str | None, Header()] = None,
        session: Annotated[str | None, Cookie()] = None,
    ) -> dict[str, Any]:
        return {
            "item_id": item_id,
            "q": q,
            "limit": limit,
            "color": color,
            "flag": flag,
            "ids": ids,
            "x_trace": x_trace,
            "session": session,
        }

    @app.post("/items", tags=["items"], status_code=201)
    def create_item(item: Item) -> Item:
        return item

    @app.post("/login", tags=["forms"])
    def login(username: Annotated[str, Form()], password: Annotated[str, Form()]) -> dict[str, str]:
        return {"username": username, "password_length": str(len(password))}

    @app.post("/upload", tags=["forms"])
    async def upload(
        file: UploadFile, extra: Annotated[list[UploadFile], File()], note: Annotated[str, Form()] = ""
    ) -> dict[str, Any]:
        first = await file.read()
        return {
            "file": file.filename,
            "size": len(first),
            "note": note,
            "extra": [f.filename for f in extra],
        }

    @app.post("/token", tags=["auth"])
    def token(form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> dict[str, str]:
        if form.password != "secret":
            raise HTTPException(400, "Incorrect username or password")
        return {"access_token": f"token-{form.username}", "token_type": "bearer"}

    @app.get("/me", tags=["auth"])
    def me(token: Annotated[str, Depends(oauth2)]) -> dict[str, str]:
        return {"token": token}

    @app.get("/basic", tags=["auth"])
    def basic_me(credentials: Annotated[HTTPBasicCredentials, Depends(basic)]) -> dict[str, str]:
        return {"user": credentials.username}

    @app.get("/page", tags=["render"], response_class=HTMLResponse)
    def page() -> str:
        return "<h1>Hello</h1>"

    @app.get("/text", tags=["render"], response_class=PlainTextResponse)
    def text() -> str:
        return "plain text"

    @app.get("/image", tags=["render"])
    def image() -> Response:
        return Response(PNG_1PX, media_type="image/png")

    @app.get("/stream", tags=["render"])
    def stream(n: int = 3, delay: float = 0.0) -> StreamingResponse:
        async def chunks() -> Any:
            for i in range(n):
                yield f"chunk {i}\n"
                await asyncio.sleep(delay)

        return StreamingResponse(chunks(), media_type="text/plain")

    @app.get("/boom", tags=["errors"])
    def boom() -> None:
        raise RuntimeError("boom")

    @app.get("/slow", tags=["errors"])
    async def slow(seconds: float = 2.0) -> dict[str, float]:
        await asyncio.sleep(seconds)
        return {"slept": seconds}

    @app.websocket("/ws/{room}")
    async def chat(websocket: WebSocket, room: str, name: str = "anon") -> None:
        await websocket.accept()
        try:
            while True:
                text = await websocket.receive_text()
                await websocket.send_text(f"{room}/{name}: {text}")
        except WebSocketDisconnect:
            pass

    return app
