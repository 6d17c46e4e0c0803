"""The numbers of Polaris' conversational (PAPI workflow) model, as this module uses them.

Polaris names these enums (PAPIProcedure, PAPIProcedureStep, PAPIAction, PAPIPromptType, ...) but its
documentation of their values could not be found. The values the issue gives are kept (procedure 4
PatronRegistration; actions 1 Stop, 2 Prompt, 3 Procedure; prompt types 4 YesNo, 6 Acknowledge; steps 15,
16, 17, 34 and 35); every other value is ours, and all are published in
ramls/polaris-patron-registration.raml. AccountTxnCode is the exception: its values are those of Polaris'
PatronAccTxnCodes table.
"""

from __future__ import annotations

from enum import IntEnum


class Procedure(IntEnum):
    """PAPIProcedure: which procedure a conversation runs."""

    PATRON_REGISTRATION = 4


class Step(IntEnum):
    """PAPIProcedureStep: the steps of a patron registration, and the client's first call (START)."""

    NONE = 0  # an answer that asks nothing: the conversation is over
    START = 1
    REGISTRATION_CHARGE = 15
    DUPLICATE_PATRONS = 16
    ADDRESS_EMPTY = 17
    VERIFY_PATRON_DATA = 34
    POSTAL_CODE_FORMAT = 35
    REQUIRED_FIELDS = 36  # ours
    BARCODE_IN_USE = 37  # ours


class Status(IntEnum):
    """PAPIProcedureStatus: where the conversation is."""

    IN_PROGRESS = 1
    COMPLETED = 2
    STOPPED = 3
    CANCELLED = 4


class Action(IntEnum):
    """PAPIAction: what the client does next."""

    NONE = 0
    STOP = 1
    PROMPT = 2
    PROCEDURE = 3  # run another procedure; a registration never asks for one


class PromptType(IntEnum):
    """PAPIPromptType; 4 and 6 as the issue gives them, the others after .NET's MessageBoxButtons, whose
    YesNo is 4 too. A registration sends only YES_NO and ACKNOWLEDGE (and NONE when it is not prompting)."""

    NONE = 0
    OK = 1
    OK_CANCEL = 2
    YES_NO_CANCEL = 3
    YES_NO = 4
    RETRY_CANCEL = 5
    ACKNOWLEDGE = 6


class StopType(IntEnum):
    """PAPIStopType: why a conversation stopped."""

    NONE = 0
    INVALID_DATA = 1
    CONFLICT = 2
    CANCELLED = 3


class PromptResult(IntEnum):
    """PAPIPromptResult: the values of a reply's Answer. An Acknowledge prompt is answered YES."""

    NO = 0
    YES = 1


class ReturnCode(IntEnum):
    """PAPIReturnCode: 0 done; one negative code per condition. -3505 (duplicate barcode) and -5000
    (invalid organisation) are the codes PAPI's own patron registration returns for the same conditions."""

    DONE = 0
    REQUIRED_FIELDS_MISSING = -3100
    ADDRESS_EMPTY = -3110
    POSTAL_CODE_FORMAT = -3111
    VERIFY_PATRON_DATA = -3112
    REGISTRATION_CHARGE = -3113
    DUPLICATE_PATRONS = -3114
    CANCELLED = -3120
    BARCODE_IN_USE = -3505
    INVALID_ORGANIZATION = -5000


class AccountTxnCode(IntEnum):
    """PatronAccountTxnCode: Polaris' patron account transaction codes (its PatronAccTxnCodes table, whose
    rows 5 and 6 are both "Waive"). A registration charge is charged to the account, paid or waived, so a
    registration takes only those (REGISTRATION_TXN_CODES)."""

    CHARGE = 1
    PAY = 2
    RETURN = 3
    DEPOSIT = 4
    WAIVE = 5
    WAIVE_TOO = 6  # Polaris' table names 6 "Waive" as well; recorded as sent
    FORFEIT = 7
    CREDIT = 8
    REFUND = 9
    AUTO_WAIVE = 10  # the system's own waive, never a person's answer

    @property
    def label(self) -> str:
        """Polaris' name for the code ("Pay", "Auto-waive")."""
        return "Waive" if self is AccountTxnCode.WAIVE_TOO else self.name.replace("_", "-").capitalize()


# The codes a registration charge can be settled with; what each waive records is nothing owed.
REGISTRATION_TXN_CODES = (AccountTxnCode.CHARGE, AccountTxnCode.PAY, AccountTxnCode.WAIVE, AccountTxnCode.WAIVE_TOO)
WAIVES = frozenset({AccountTxnCode.WAIVE, AccountTxnCode.WAIVE_TOO})
