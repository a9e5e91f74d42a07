"""Discord UI for jobs: embeds (``render``), buttons (``views``), the follow-up button (``components``), modals."""

from cogs.ui.components import FollowUpButton, dynamic_items
from cogs.ui.modals import ExtendModal
from cogs.ui.render import RenderedJob, job_title, render_job
from cogs.ui.views import job_view

__all__ = ["ExtendModal", "FollowUpButton", "RenderedJob", "dynamic_items", "job_title", "job_view", "render_job"]
