from datetime import date, datetime

from pydantic import BaseModel, ConfigDict


class SyncRunRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    started_at: datetime
    finished_at: datetime | None
    mode: str
    source: str | None
    changed_since: date | None
    status: str
    created: int
    updated: int
    unchanged: int
    skipped: int
    error: str | None


class SyncTriggered(BaseModel):
    run_id: int
