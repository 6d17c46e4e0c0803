"""The Polaris-style resource set: Polaris ApplicationServices' patron block and association calls at
Polaris' own URLs (``blocks``, ``associations``), and the FOLIO-style configuration they read (``admin``)."""

from mod_users.resources.polaris import admin, associations, blocks

ROUTES = (*admin.ROUTES, *blocks.ROUTES, *associations.ROUTES)

__all__ = ["ROUTES"]
