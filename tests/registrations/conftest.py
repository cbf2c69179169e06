from tests.support.notifications import api, notifications, relay_app

__all__ = ["api", "notifications", "relay_app"]
