"""The Polaris-style resource set: Polaris ApplicationServices' patron block, association and registration
calls at Polaris' own URLs (``blocks``, ``associations``, ``registration``), and the FOLIO-style
configuration they read (``admin``)."""

from mod_users.resources.polaris import admin, associations, blocks, registration

ROUTES = (*admin.ROUTES, *blocks.ROUTES, *associations.ROUTES, *registration.ROUTES)

__all__ = ["ROUTES"]
