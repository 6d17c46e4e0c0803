"""Patron registration and update in Polaris' conversational (workflow) model: ``POST patrons`` and
``PUT patrons/{id}``. ``steps`` holds the checks in their order, ``proposal`` the record a conversation
would save, ``outcomes`` the answers, ``papi`` the numbers of Polaris' model, ``postal_codes`` and
``duplicates`` two of the checks' rules, ``api`` the handlers."""

from mod_users.resources.polaris.registration.api import ROUTES

__all__ = ["ROUTES"]
