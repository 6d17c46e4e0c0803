"""Which tenant a Polaris client means.

Polaris clients name no FOLIO tenant; they name Polaris domains: the ``siteDomain`` of every
ApplicationServices URL (and of the ``PAS siteDomain:token:secret`` header), the user domain of a staff login
(``DOMAIN\\user``), the domain of a PAPI AccessID (``id@domain``). A domain names the tenant of the same name
(lower-cased, as domains are compared ignoring case), unless ``MOD_USERS_POLARIS_DOMAINS`` maps it to
another: ``polaris=diku,STLOUIS=diku`` lets a client keep Polaris' default site domain ``polaris``.
"""

from __future__ import annotations

from mod_users.config import Settings
from mod_users.storage.tenants import TenantSchema


def tenant_of(settings: Settings, domain: str) -> TenantSchema:
    """The tenant ``domain`` names; InvalidTenant when it names none that could exist."""
    folded = domain.strip().lower()
    return TenantSchema(settings.polaris_domains.get(folded, folded))


def site_domain(settings: Settings, tenant: str) -> str:
    """The domain a client should use for ``tenant``: the first one mapped to it, else its own name."""
    return next((domain for domain, named in settings.polaris_domains.items() if named == tenant), tenant)


__all__ = ["site_domain", "tenant_of"]
