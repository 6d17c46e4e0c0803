"""The Polaris-style resource set: Polaris ApplicationServices' patron block, association and registration
calls at Polaris' own URLs (``blocks``, ``associations``, ``registration``), the FOLIO-style configuration
they read (``admin``), and what Polaris clients' own listener adds: staff users, their login, and patron
look-ups, and PAPI's circulation blocks (``staff_users``, ``login``, ``lookups``, ``papi_keys``, ``papi``)."""

from mod_users.resources.polaris import (
    admin,
    associations,
    blocks,
    login,
    lookups,
    papi,
    papi_keys,
    registration,
    staff_users,
)

ROUTES = (
    *admin.ROUTES,
    *blocks.ROUTES,
    *associations.ROUTES,
    *registration.ROUTES,
    *staff_users.ROUTES,
    *lookups.ROUTES,
    *papi_keys.ROUTES,
)
# Served only on the Polaris listener: what authenticates its clients.
LISTENER_ROUTES = (*login.ROUTES, *papi.ROUTES)

__all__ = ["LISTENER_ROUTES", "ROUTES"]
