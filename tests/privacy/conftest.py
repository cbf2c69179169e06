from tests.support.notifications import notifications

__all__ = ["notifications"]
