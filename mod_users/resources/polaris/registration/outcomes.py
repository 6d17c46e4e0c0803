"""What one call of a registration conversation answers (Polaris' DtoPatronResult): a prompt to reply
to, a stop, a cancellation, or the saved patron."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from mod_users.resources.polaris.registration import duplicates
from mod_users.resources.polaris.registration.papi import (
    Action,
    Procedure,
    ProcedureStatus,
    PromptType,
    ReturnCode,
    Step,
    StopType,
)
from mod_users.resources.polaris.registration.proposal import patron_fields


@dataclass(frozen=True)
class Outcome:
    """How a call ended, without the patron it concerns."""

    step: Step
    status: ProcedureStatus
    action: Action
    code: ReturnCode
    message: str
    details: list[str] = field(default_factory=list)
    prompt_type: PromptType = PromptType.NONE
    stop_type: StopType = StopType.NONE
    duplicates: list[dict[str, Any]] | None = None
    barcode_in_use: bool = False

    def answer(self, record: dict[str, Any], charge: Decimal, answered: int | None) -> dict[str, Any]:
        """The DtoPatronResult for ``record`` (saved, or what would have been saved), in the order of the
        seed's example: ``charge`` is the registration charge of this registration (0: none), ``answered``
        the request's Answer, given back as the example gives it back."""
        patron = patron_fields(record)
        registration = patron.pop("Registration")
        return {
            **patron,
            # The step to reply with is PAPIProcedureStep; the example's answer has ProcedureStep null.
            "ProcedureStep": None,
            "Answer": answered,
            "RegCharge": float(charge),
            "AdditionalMessages": list(self.details),
            "DuplicateBarcodeExists": self.barcode_in_use,
            "DuplicatePatronDisplayProperties": list(duplicates.DISPLAY_PROPERTIES) if self.duplicates else None,
            "DuplicatePatrons": self.duplicates,
            # Usernames are not checked for uniqueness here, so none are suggested.
            "SuggestedUserNames": [],
            "Registration": registration,
            # 0, as the seed's example answer gives it: no other procedure (PAPIAction 3) is asked for.
            "PAPIProcedure": int(Procedure.NONE),
            "PAPIProcedureStep": int(self.step),
            "PAPIAction": int(self.action),
            "PAPIActionProcedure": int(Procedure.NONE),
            "PAPIPromptType": int(self.prompt_type),
            "PAPIStopType": int(self.stop_type),
            "PAPIReturnCode": int(self.code),
            "PAPIProcedureStatus": int(self.status),
            "Success": self.action == Action.NONE,
            "Message": self.message,
        }


def prompt(
    step: Step,
    kind: PromptType,
    code: ReturnCode,
    message: str,
    details: list[str] | None = None,
    found: list[dict[str, Any]] | None = None,
) -> Outcome:
    """A question for the user; the client replies with ProcedureStep ``step`` and an Answer."""
    return Outcome(
        step, ProcedureStatus.CONTINUE, Action.PROMPT, code, message, details or [], prompt_type=kind, duplicates=found
    )


def stop(code: ReturnCode, message: str, details: list[str] | None = None, *, barcode_in_use: bool = False) -> Outcome:
    """The request cannot be saved as it is; nothing was saved, and there is no step to reply to."""
    return Outcome(
        Step.NONE,
        ProcedureStatus.ERROR,
        Action.STOP,
        code,
        message,
        details or [],
        stop_type=StopType.ERROR,
        barcode_in_use=barcode_in_use,
    )


def cancelled(step: Step) -> Outcome:
    """The user ended the conversation at the prompt of ``step``; nothing was saved."""
    return Outcome(
        step,
        ProcedureStatus.EXIT,
        Action.STOP,
        ReturnCode.CANCELLED,
        f"Cancelled at step {int(step)}: nothing was saved.",
        stop_type=StopType.EXIT,
    )


def done(message: str, details: list[str] | None = None) -> Outcome:
    """The patron was saved."""
    return Outcome(Step.NONE, ProcedureStatus.EXIT, Action.NONE, ReturnCode.DONE, message, details or [])
