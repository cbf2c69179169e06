from app.core.errors import ServiceUnavailableError

# A draining replica is gone within its graceful-shutdown window; a migration takes longer.
DRAINING_RETRY_AFTER_SECONDS = 1
MIGRATING_RETRY_AFTER_SECONDS = 5


class ReplicaDrainingError(ServiceUnavailableError):
    """This replica is shutting down and takes no new work: a load balancer sends the request
    to another one."""

    slug = "replica-draining"
    detail_text = "The replica is shutting down."

    def __init__(self) -> None:
        super().__init__(retry_after=DRAINING_RETRY_AFTER_SECONDS)


class MigrationsBehindError(ServiceUnavailableError):
    """The database's schema is not at the revision this code needs: apply the migrations
    (`events-face migrate`) before sending traffic."""

    slug = "migrations-behind"
    detail_text = "Database migrations are not at head."

    def __init__(self) -> None:
        super().__init__(retry_after=MIGRATING_RETRY_AFTER_SECONDS)
