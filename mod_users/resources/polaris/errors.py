"""The Polaris-style API's answers to each failing condition: HTTP status, ErrorCode and Message.

Polaris documents the texts of some answers but none of its ErrorCode numbers, so the numbers are ours,
one per condition (listed in the RAML documentation). Where PAPI, Polaris' other API, has a code for the
same condition we reuse it: -3506 invalid block value, -3507 duplicate block, -5000 invalid organisation.
Where the seed documents give a text (``tests/seeds``), the message is that text, or begins with it and
names the values concerned.
"""

from __future__ import annotations

from mod_users.errors import PolarisError

INVALID_PATRON = -3000
SECURED = -3001
PATRON_ID_MISMATCH = -3002
ANSWER_REQUIRED = -3003
TXN_CODE_NOT_FOR_REGISTRATION = -3004
INVALID_BLOCK_TYPE = -3500
UNKNOWN_BLOCK = -3501
SYSTEM_BLOCK = -3502
INVALID_BLOCK_ID = -3506
DUPLICATE_BLOCK = -3507
DESCRIPTION_REQUIRED = -3508
DESCRIPTION_TOO_LONG = -3509
UNKNOWN_LINKED_PATRON = -3800
SELF_ASSOCIATION = -3801
ASSOCIATION_EXISTS = -3802
NO_SUCH_ASSOCIATION = -3803
TOO_MANY_ASSOCIATIONS = -3804
MALFORMED_ID_LIST = -3805
NO_ASSOCIATIONS = -3806
INVALID_ORGANIZATION = -5000


def invalid_patron() -> PolarisError:
    return PolarisError(404, "Invalid Patron ID.", INVALID_PATRON)


def secured() -> PolarisError:
    return PolarisError(409, "Patron record is secured.", SECURED)


def patron_id_mismatch(sent: object, patron_id: int) -> PolarisError:
    return PolarisError(
        400, f"PatronID {sent} in the body is not the patron of the URL ({patron_id}).", PATRON_ID_MISMATCH
    )


def answer_required(step: int) -> PolarisError:
    return PolarisError(
        400,
        f"An Answer (PAPIPromptResult: 1 Yes, 2 OK or 6 Ignore to go on, 0 No, 3 Cancel or 4 Abort to end, 5 Retry "
        f"to ask again) is required when replying to step {step}.",
        ANSWER_REQUIRED,
    )


def txn_code_not_for_registration(code: int, name: str, accepted: str) -> PolarisError:
    return PolarisError(
        400,
        f"PatronAccountTxnCode {code} ({name}) cannot settle a registration charge: send {accepted}.",
        TXN_CODE_NOT_FOR_REGISTRATION,
    )


def invalid_organization() -> PolarisError:
    return PolarisError(404, "Invalid organization ID specified.", INVALID_ORGANIZATION)


def no_associations(what: str) -> PolarisError:
    """400 for a null body where a list of DtoPatronAssociationInfo is expected (``what`` names it as the
    seed does: "DtoPatronAssociationInfo list" for POST, "DtoPatronAssociationInfo" for PUT)."""
    return PolarisError(400, f"{what} is null.", NO_ASSOCIATIONS)


def invalid_block_type() -> PolarisError:
    return PolarisError(400, "Invalid BlockType.", INVALID_BLOCK_TYPE)


def unknown_block() -> PolarisError:
    return PolarisError(404, "Invalid BlockID.", UNKNOWN_BLOCK)


def system_block() -> PolarisError:
    return PolarisError(400, "System blocks cannot be placed, changed or removed here.", SYSTEM_BLOCK)


def invalid_block_id(block_id: object, organization_id: int) -> PolarisError:
    if block_id is None:
        return PolarisError(400, "Invalid BlockID: a library-defined block needs one.", INVALID_BLOCK_ID)
    return PolarisError(
        400, f"Invalid BlockID: {block_id} is not a block of organization {organization_id}.", INVALID_BLOCK_ID
    )


def duplicate_block() -> PolarisError:
    return PolarisError(400, "The patron already has this block.", DUPLICATE_BLOCK)


def description_required() -> PolarisError:
    return PolarisError(400, "Null or empty BlockDescription.", DESCRIPTION_REQUIRED)


def description_too_long(limit: int) -> PolarisError:
    return PolarisError(400, f"BlockDescription longer than {limit} characters.", DESCRIPTION_TOO_LONG)


def unknown_linked_patron(patron_id: int) -> PolarisError:
    return PolarisError(400, f"Invalid linked patronID: {patron_id}.", UNKNOWN_LINKED_PATRON)


def self_association() -> PolarisError:
    return PolarisError(400, "A patron cannot be associated with itself.", SELF_ASSOCIATION)


def association_exists(patron_id: int, linked_id: int) -> PolarisError:
    return PolarisError(
        400,
        f"Associated patron record already exists with id {linked_id} (patron {patron_id} is already associated "
        "with it).",
        ASSOCIATION_EXISTS,
    )


def listed_twice(linked_id: int) -> PolarisError:
    return PolarisError(400, f"Patron {linked_id} is listed more than once.", ASSOCIATION_EXISTS)


def no_such_association(patron_id: int, linked_id: int) -> PolarisError:
    return PolarisError(
        400,
        f"Associated patron record does not exist: patron {patron_id} is not associated with patron {linked_id}.",
        NO_SUCH_ASSOCIATION,
    )


def too_many_associations(patron_id: int, limit: int) -> PolarisError:
    return PolarisError(400, f"Patron {patron_id} would have more than {limit} associations.", TOO_MANY_ASSOCIATIONS)


def malformed_id_list(raw: str) -> PolarisError:
    shown = raw if len(raw) <= 100 else raw[:100] + "..."
    return PolarisError(400, f"Invalid linked patron id list: '{shown}'.", MALFORMED_ID_LIST)
