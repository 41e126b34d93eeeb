"""jobs.parent_job_name: a job may be a step of another (pipeline child jobs)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 01:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_job_name", sa.String(length=128), nullable=True))
        batch_op.create_index(batch_op.f("ix_jobs_parent_job_name"), ["parent_job_name"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_parent_job_name"))
        batch_op.drop_column("parent_job_name")
