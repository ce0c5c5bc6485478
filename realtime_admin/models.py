from .jobs.models import Job

__all__ = ["Job"]
