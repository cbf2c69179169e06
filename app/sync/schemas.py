from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class SyncRunRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description="The run's number")
    started_at: datetime = Field(description="When it started")
    finished_at: datetime | None = Field(description="When it ended; null while it runs")
    mode: str = Field(
        description="`all` (every event), `date` (changed since a date) or `incremental` (since "
        "the last successful run)"
    )
    source: str | None = Field(
        description="Where it read from (the provider's URL, or `local:generated`); null for runs "
        "recorded before this was kept"
    )
    changed_since: date | None = Field(description="The date it read changes from; null: all")
    status: str = Field(description="`running`, `success` or `failed`")
    created: int = Field(description="Events added")
    updated: int = Field(description="Events changed")
    unchanged: int = Field(description="Events read that had not changed")
    skipped: int = Field(description="Records refused as malformed")
    error: str | None = Field(description="Why it failed; null unless it did")


class SyncTriggered(BaseModel):
    run_id: int = Field(description="The run started: see `GET /api/sync/runs`")
