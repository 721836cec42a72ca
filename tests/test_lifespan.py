import asyncio
from contextlib import asynccontextmanager

import pytest
from fastapi import FastAPI

from kernel_ext._serving._lifespan import Lifespan, LifespanError


def run(coro):
    return asyncio.run(coro)


def test_startup_and_shutdown_run_around_the_yield_and_keep_state() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        events.append("start")
        yield {"db": "connected"}
        events.append("stop")

    async def scenario() -> dict:
        runner = Lifespan(FastAPI(lifespan=lifespan))
        await runner.startup()
        assert events == ["start"]
        await runner.shutdown()
        return runner.state

    assert run(scenario()) == {"db": "connected"}
    assert events == ["start", "stop"]


def test_failing_startup_raises_a_short_error() -> None:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        raise RuntimeError("database unreachable")
        yield

    async def scenario() -> None:
        await Lifespan(FastAPI(lifespan=lifespan)).startup()

    with pytest.raises(LifespanError, match="RuntimeError: database unreachable"):
        run(scenario())


def test_app_without_lifespan_starts_and_stops() -> None:
    async def scenario() -> None:
        runner = Lifespan(FastAPI())
        await runner.startup()
        await runner.shutdown()

    run(scenario())
