"""A fake KIE task API on a loopback port: both the Flux Kontext and the market (jobs) endpoints.

Tests script each task's life with ``plan(["pending", "pending", "success"])``:
every status poll answers the next state, the last one repeats. Successful
tasks point at a PNG served by the same server under ``/files/<taskId>.png``.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from urllib.parse import parse_qs, urlsplit

from tests.support.fake_openai import FakeServer, Recorded, Reply, png_bytes

KONTEXT_CREATE = "/api/v1/flux/kontext/generate"
KONTEXT_RECORD = "/api/v1/flux/kontext/record-info"
MARKET_CREATE = "/api/v1/jobs/createTask"
MARKET_RECORD = "/api/v1/jobs/recordInfo"


class FakeKie(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.states: list[str] = ["success"]
        self.fail_message = "Image generation failed: prompt flagged"
        self.result_image = png_bytes(96, 72, "orange")
        # One-off answers to the next create / status calls (errors, garbage), before normal service.
        self.create_replies: deque[Reply] = deque()
        self.record_replies: deque[Reply] = deque()
        # Where a successful task's result lives; default: this server's /files/<taskId>.png.
        self.result_url_for = lambda task_id: self.url(f"/files/{task_id}.png")
        self._tasks: dict[str, deque[str]] = {}
        self._counter = 0
        self._task_lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return self.origin

    def plan(self, states: list[str]) -> None:
        """States each new task goes through: "pending", "success" or "fail"."""
        self.states = list(states)

    def creates(self) -> list[Recorded]:
        return [r for r in self.requests if r.path in (KONTEXT_CREATE, MARKET_CREATE)]

    def polls(self) -> list[Recorded]:
        return [r for r in self.requests if urlsplit(r.path).path in (KONTEXT_RECORD, MARKET_RECORD)]

    def answer(self, request: Recorded) -> Reply:
        path = urlsplit(request.path).path
        if request.method == "POST" and path in (KONTEXT_CREATE, MARKET_CREATE):
            if self.create_replies:
                return self.create_replies.popleft()
            with self._task_lock:
                self._counter += 1
                task_id = f"task_{self._counter}"
                self._tasks[task_id] = deque(self.states)
            self.files[f"/files/{task_id}.png"] = Reply(body=self.result_image, headers={"Content-Type": "image/png"})
            return Reply(json={"code": 200, "msg": "success", "data": {"taskId": task_id}})
        if request.method == "GET" and path in (KONTEXT_RECORD, MARKET_RECORD):
            if self.record_replies:
                return self.record_replies.popleft()
            task_id = parse_qs(urlsplit(request.path).query).get("taskId", [""])[0]
            if task_id not in self._tasks:
                return Reply(json={"code": 404, "msg": f"task {task_id} not found", "data": None})
            states = self._tasks[task_id]
            state = states.popleft() if len(states) > 1 else states[0]
            record = self._kontext(task_id, state) if path == KONTEXT_RECORD else self._market(task_id, state)
            return Reply(json={"code": 200, "msg": "success", "data": record})
        return super().answer(request)

    def _kontext(self, task_id: str, state: str) -> dict:
        record: dict = {"taskId": task_id, "successFlag": {"pending": 0, "success": 1, "fail": 3}[state]}
        if state == "success":
            record["response"] = {"resultImageUrl": self.result_url_for(task_id)}
        if state == "fail":
            record.update(errorCode=501, errorMessage=self.fail_message)
        return record

    def _market(self, task_id: str, state: str) -> dict:
        record: dict = {
            "taskId": task_id,
            "state": {"pending": "generating", "success": "success", "fail": "fail"}[state],
        }
        if state == "success":
            record["resultJson"] = json.dumps({"resultUrls": [self.result_url_for(task_id)]})
        if state == "fail":
            record.update(failCode="500", failMsg=self.fail_message)
        return record
