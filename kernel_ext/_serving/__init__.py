"""Serving: uvicorn in a thread, the gateway that forwards each request to the current app,
lifespans, the Host guard, proxy URLs and the request log.
"""
