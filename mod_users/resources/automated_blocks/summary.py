"""A user's summary (open loans, open fees/fines) and how each event changes it: pure functions.

The rules are mod-patron-blocks' (``UserSummaryService``): a check-out adds an open loan unless it is
there; check-in and loan-closed remove it; declared lost and aged to lost mark it lost (and no longer
claimed returned); claimed returned marks it so (and no longer lost); a due date change sets the due
date and the recall flag (and a change not caused by a recall clears "lost"); a fee/fine balance of zero
closes the fee/fine, any other balance opens or updates it. An event about a loan the summary does not
hold changes nothing. A summary with nothing open is no summary (it is deleted).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from mod_users.resources.automated_blocks import events as ev

Summary = dict[str, Any]
Payload = dict[str, Any]


def empty_summary(user_id: str) -> Summary:
    """The summary of a user with nothing open (its id is the user's: one summary per user)."""
    return {"id": user_id, "userId": user_id, "openLoans": [], "openFeesFines": []}


def is_empty(summary: Summary) -> bool:
    return not summary["openLoans"] and not summary["openFeesFines"]


def _loan(summary: Summary, loan_id: str | None) -> dict[str, Any] | None:
    return next((loan for loan in summary["openLoans"] if loan.get("loanId") == loan_id), None)


def _checked_out(summary: Summary, event: Payload) -> None:
    if _loan(summary, event["loanId"]) is not None:
        return  # mod-patron-blocks: "Open loan ... already exists", the event is ignored
    loan: dict[str, Any] = {
        "loanId": event["loanId"],
        "dueDate": event["dueDate"],
        "recall": False,
        "itemLost": False,
        "itemClaimedReturned": False,
    }
    if isinstance(event.get("gracePeriod"), dict):
        loan["gracePeriod"] = event["gracePeriod"]
    summary["openLoans"].append(loan)


def _closed(summary: Summary, event: Payload) -> None:
    summary["openLoans"] = [loan for loan in summary["openLoans"] if loan.get("loanId") != event["loanId"]]


def _lost(summary: Summary, event: Payload) -> None:
    loan = _loan(summary, event["loanId"])
    if loan is not None:
        loan["itemLost"], loan["itemClaimedReturned"] = True, False


def _claimed_returned(summary: Summary, event: Payload) -> None:
    loan = _loan(summary, event["loanId"])
    if loan is not None:
        loan["itemClaimedReturned"], loan["itemLost"] = True, False


def _due_date_changed(summary: Summary, event: Payload) -> None:
    loan = _loan(summary, event["loanId"])
    if loan is None:
        return
    loan["dueDate"] = event["dueDate"]
    loan["recall"] = bool(event["dueDateChangedByRecall"])
    if event["dueDateChangedByRecall"] is False:
        loan["itemLost"] = False


def _balance_changed(summary: Summary, event: Payload) -> None:
    fees = summary["openFeesFines"]
    fee = next((f for f in fees if f.get("feeFineId") == event["feeFineId"]), None)
    if Decimal(str(event["balance"])) == 0:
        if fee is not None:
            fees.remove(fee)
        return
    if fee is None:
        fee = {"feeFineId": event["feeFineId"]}
        if event.get("feeFineTypeId") is not None:
            fee["feeFineTypeId"] = event["feeFineTypeId"]
        fees.append(fee)
    fee["balance"] = event["balance"]
    # As mod-patron-blocks: the loan is the latest event's (none if it names none).
    fee.pop("loanId", None)
    if event.get("loanId") is not None:
        fee["loanId"] = event["loanId"]


_CHANGES: dict[ev.EventType, Callable[[Summary, Payload], None]] = {
    ev.ITEM_CHECKED_OUT: _checked_out,
    ev.ITEM_CHECKED_IN: _closed,
    ev.LOAN_CLOSED: _closed,
    ev.ITEM_DECLARED_LOST: _lost,
    ev.ITEM_AGED_TO_LOST: _lost,
    ev.ITEM_CLAIMED_RETURNED: _claimed_returned,
    ev.LOAN_DUE_DATE_CHANGED: _due_date_changed,
    ev.FEE_FINE_BALANCE_CHANGED: _balance_changed,
}


def apply_event(summary: Summary | None, user_id: str, event_type: ev.EventType, event: Payload) -> Summary | None:
    """The summary after ``event`` (a new object; ``summary`` is not changed); None when nothing is open.

    ``summary`` is the user's stored summary or None when there is none.
    """
    after = copy.deepcopy(summary) if summary is not None else empty_summary(user_id)
    _CHANGES[event_type](after, event)
    return None if is_empty(after) else after


def same_content(a: Summary | None, b: Summary | None) -> bool:
    """Whether two summaries hold the same loans and fees/fines (metadata and versions aside)."""
    if a is None or b is None:
        return a is b
    return a["openLoans"] == b["openLoans"] and a["openFeesFines"] == b["openFeesFines"]


# mod-circulation's item statuses that the synchronisation reads from a loan (mod-patron-blocks'
# LoanEventsGenerationService: "Claimed returned" in any letter case, the others exactly).
_LOST_STATUSES = ("Declared lost", "Aged to lost")


def summary_from_records(
    user_id: str, loans: list[dict[str, Any]], accounts: list[dict[str, Any]], previous: Summary | None
) -> Summary | None:
    """The summary the open ``loans`` (loan-storage records) and open ``accounts`` (feesfines records)
    of a user amount to; None when nothing is open. A loan keeps the grace period ``previous`` had for
    it: loan records do not carry one (it was the loan policy's at check-out)."""
    graces = {
        loan.get("loanId"): loan["gracePeriod"]
        for loan in (previous or {}).get("openLoans", ())
        if "gracePeriod" in loan
    }
    summary = empty_summary(user_id)
    for loan in loans:
        status = str(loan.get("itemStatus") or "")
        open_loan: dict[str, Any] = {
            "loanId": loan["id"],
            "dueDate": loan["dueDate"],
            "recall": loan.get("dueDateChangedByRecall") is True,
            "itemLost": status in _LOST_STATUSES,
            "itemClaimedReturned": status.lower() == "claimed returned",
        }
        if loan["id"] in graces:
            open_loan["gracePeriod"] = graces[loan["id"]]
        summary["openLoans"].append(open_loan)
    for account in accounts:
        if Decimal(str(account["remaining"])) == 0:
            continue
        fee = {"feeFineId": account["id"], "balance": account["remaining"]}
        if account.get("feeFineId") is not None:
            fee["feeFineTypeId"] = account["feeFineId"]
        if account.get("loanId") is not None:
            fee["loanId"] = account["loanId"]
        summary["openFeesFines"].append(fee)
    return None if is_empty(summary) else summary
