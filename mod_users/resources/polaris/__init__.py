"""The Polaris-style resource set: Polaris ApplicationServices' patron block, association and registration
calls at Polaris' own URLs (``blocks``, ``associations``, ``registration``), the FOLIO-style configuration
they read (``admin``), and what Polaris clients' own listener adds: staff users, their login, and patron
look-ups (``staff_users``, ``login``, ``lookups``)."""

from mod_users.resources.polaris import admin, associations, blocks, login, lookups, registration, staff_users

ROUTES = (
    *admin.ROUTES,
    *blocks.ROUTES,
    *associations.ROUTES,
    *registration.ROUTES,
    *staff_users.ROUTES,
    *lookups.ROUTES,
)
# Served only on the Polaris listener: what authenticates its clients.
LISTENER_ROUTES = (*login.ROUTES,)

__all__ = ["LISTENER_ROUTES", "ROUTES"]
