from .decorators import background_action

__all__ = ["background_action"]
