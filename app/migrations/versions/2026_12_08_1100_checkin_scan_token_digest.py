"""check-in scans keep a digest of the token scanned

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08 11:00:00

A nonce sent again with another ticket (two scanners counting their scans from 1) is refused
as `nonce-reused` instead of being answered with the first ticket's result. Null for the scans
recorded before this migration, which replay as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("checkin_scans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_digest", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("checkin_scans", schema=None) as batch_op:
        batch_op.drop_column("token_digest")
