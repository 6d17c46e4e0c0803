"""The numbers of Polaris' conversational (PAPI workflow) model.

Every PAPI enum is copied, name and value, from the seed document that specifies the registration
(``002_04ea5ab52a4d83cb.txt``: PAPIProcedureStatus, PAPIProcedure, PAPIProcedureStep, PAPIAction,
PAPIStopType, PAPIPromptType, PAPIPromptResult); ``tests/seeds`` keeps a copy and checks these classes, the
schemas and live answers against it. The document gives no PAPIReturnCode values beyond its example's
-3608 for duplicate patrons: the others are ours (ReturnCode). AccountTxnCode has the values of Polaris'
PatronAccTxnCodes table.
"""

from __future__ import annotations

from enum import IntEnum


class ProcedureStatus(IntEnum):
    """PAPIProcedureStatus: where the procedure is."""

    ERROR = -1
    EXIT = 0
    CONTINUE = 1


class Procedure(IntEnum):
    """PAPIProcedure: a procedure. A registration's answers send NONE in PAPIProcedure, as the seed's example
    answer does, and in PAPIActionProcedure (no other procedure is asked for)."""

    NONE = 0
    CHECK_IN = 1
    CHECK_OUT = 2
    CREATE_OTF_ITEM = 3
    PATRON_REGISTRATION = 4
    PLACE_HOLD_REQUEST = 5
    RENEW_ITEM_CHECKOUT = 6


class Step(IntEnum):
    """PAPIProcedureStep. A registration starts at START and prompts at PATRON_REGISTRATION_CHARGE,
    DUPLICATE_PATRONS, PATRON_ADDRESS_EMPTY, VERIFY_PATRON_DATA_BLOCK and INVALID_POSTALCODE_FORMAT; NONE
    says there is nothing to reply to (saved, or stopped)."""

    NONE = 0
    START = 1
    CHECK_PATRON_BLOCKS = 2
    GET_EPHEMERAL_ITEM_COUNT = 3
    CHECK_ASSIGNED_BRANCH = 4
    PLACE_ITEM_IN_TRANSIT = 5
    PERMIT_OVERNIGHT_LOAN = 6
    NON_CIRCULATING_ITEM_BLOCK = 7
    RESTRICTED_PATRON_CODE_BLOCK = 8
    CHECK_ITEM_BLOCKS = 9
    CHECK_OUT_ITEM_IN_TRANSIT = 10
    FLOATING_CHECK_IN = 11
    PLACE_IN_TRANSIT = 12
    OUT_TO_DIFFERENT_PATRON = 13
    RESOLVE_LOST_BILLED_ITEM = 14
    PATRON_REGISTRATION_CHARGE = 15
    DUPLICATE_PATRONS = 16
    PATRON_ADDRESS_EMPTY = 17
    VERIFY_PATRON_DATA_BLOCK = 34
    INVALID_POSTALCODE_FORMAT = 35


class Action(IntEnum):
    """PAPIAction: what the client does next (a registration never asks for another PROCEDURE)."""

    NONE = 0
    STOP = 1
    PROMPT = 2
    PROCEDURE = 3


class StopType(IntEnum):
    """PAPIStopType: why a conversation stopped: EXIT when the user ended it, ERROR when the request cannot
    be saved as it is."""

    NONE = 0
    EXIT = 1
    ERROR = 2


class PromptType(IntEnum):
    """PAPIPromptType. A registration asks YES_NO questions and one ACKNOWLEDGE reminder."""

    NONE = 0
    WARNING = 1
    CONTINUE = 2
    COUNT = 3
    YES_NO = 4
    YES_NO_CANCEL = 5
    ACKNOWLEDGE = 6
    RESOLVE_LOST_BILLED_ITEM = 7


class PromptResult(IntEnum):
    """PAPIPromptResult: the values of a reply's Answer. What each does to a prompt is ours (GO_ON, END,
    ASK_AGAIN): the document names the values only."""

    NONE = -1
    NO = 0
    YES = 1
    OK = 2
    CANCEL = 3
    ABORT = 4
    RETRY = 5
    IGNORE = 6


# Answers that accept a prompt and go on, answers that end the conversation (nothing saved), and the one that
# asks the same question again (the checks run again from the answered step, after a correction).
GO_ON = frozenset({PromptResult.YES, PromptResult.OK, PromptResult.IGNORE})
END = frozenset({PromptResult.NO, PromptResult.CANCEL, PromptResult.ABORT})
ASK_AGAIN = PromptResult.RETRY


class ReturnCode(IntEnum):
    """PAPIReturnCode: 0 done; one negative code per condition. DUPLICATE_PATRONS is the seed's example's
    (-3608); BARCODE_IN_USE (-3505) and INVALID_ORGANIZATION (-5000) are the codes PAPI's own patron
    registration returns for the same conditions; the others are ours."""

    DONE = 0
    REQUIRED_FIELDS_MISSING = -3100
    ADDRESS_EMPTY = -3110
    POSTAL_CODE_FORMAT = -3111
    VERIFY_PATRON_DATA = -3112
    REGISTRATION_CHARGE = -3113
    CANCELLED = -3120
    BARCODE_IN_USE = -3505
    DUPLICATE_PATRONS = -3608
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
