"""Automated patron blocks (FOLIO's mod-patron-blocks): limits per patron group, user summaries kept up
to date by circulation and fee/fine events, the blocks they raise and the reason for each, and
synchronisation jobs that rebuild the summaries from loan-storage and feesfines."""

from mod_users.resources.automated_blocks import api, limits
from mod_users.resources.automated_blocks.api import lifetime

ROUTES = (*limits.ROUTES, *api.ROUTES)

__all__ = ["ROUTES", "lifetime"]
