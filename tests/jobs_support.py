"""A runner that only records what it was asked to start, so tests run jobs themselves."""

started: list[int] = []


class RecordingRunner:
    def start(self, job_id: int) -> None:
        started.append(job_id)


class BrokenRunner:
    def start(self, job_id: int) -> None:
        raise ConnectionError("the queue is down")
