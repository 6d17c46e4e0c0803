"""Which automated blocks a summary raises, and why: a pure function of (summary, limits, conditions, now).

The rules are mod-patron-blocks' (``ActionBlocks.byLimit``, ``OverduePeriodCalculator``), including
what its history settled (MODPATBLK-20, -34): only "Maximum number of items charged out" blocks
*borrowing* when the limit is reached (``>=``: the next check-out would pass it); everything else, and
renewals and requests for charged-out items, block when the limit is *exceeded* (``>``).

- Loans whose item is claimed returned count for nothing, and neither do fees/fines of such loans.
- A loan is overdue when more minutes have passed since its due date than its grace period has; then all
  those minutes count (the grace period defers, it does not discount). Days overdue are the overdue
  minutes divided by 1440, rounded up; a grace period in months counts 31 days per month.
- A condition blocks an action when its limit says so *and* the condition's flag for that action is set.
- Only the six conditions FOLIO defines (by their ids) are computed; a limit on any other condition, or
  on a condition that no longer exists, blocks nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from mod_users.resources.automated_blocks.events import parse_instant

MAX_NUMBER_OF_ITEMS_CHARGED_OUT = "3d7c52dc-c732-4223-8bf8-e5917801386f"
MAX_NUMBER_OF_LOST_ITEMS = "72b67965-5b73-4840-bc0b-be8f3f6e047e"
MAX_NUMBER_OF_OVERDUE_ITEMS = "584fbd4f-6a34-4730-a6ca-73a6a6a9d845"
MAX_NUMBER_OF_OVERDUE_RECALLS = "e5b45031-a202-4abb-917b-e1df9346fe2c"
RECALL_OVERDUE_BY_MAX_NUMBER_OF_DAYS = "08530ac4-07f2-48e6-9dda-a97bc2bf7053"
MAX_OUTSTANDING_FEE_FINE_BALANCE = "cf7a0d5f-a327-4ca1-aa9e-dc55ec006b8a"

MINUTES_PER_DAY = 1440
_PERIOD_MINUTES = {"Minutes": 1, "Hours": 60, "Days": MINUTES_PER_DAY, "Weeks": 7 * MINUTES_PER_DAY}
_PERIOD_MINUTES["Months"] = 31 * MINUTES_PER_DAY  # mod-patron-blocks' Period: a month is 31 days
ACTIONS = ("borrowing", "renewals", "requests")
_FLAGS = {"borrowing": "blockBorrowing", "renewals": "blockRenewals", "requests": "blockRequests"}
_WORDS = {">=": "at least", ">": "more than"}


def grace_minutes(loan: dict[str, Any]) -> int:
    """The loan's grace period in minutes (0 without one, or with an interval FOLIO does not know)."""
    period = loan.get("gracePeriod")
    if not isinstance(period, dict) or not isinstance(period.get("duration"), int):
        return 0
    return period["duration"] * _PERIOD_MINUTES.get(period.get("intervalId"), 0)


@dataclass(frozen=True, slots=True)
class LoanFacts:
    """A loan as the rules see it at one moment (worked out once: six rules look at every loan)."""

    loan: dict[str, Any]
    overdue_minutes: int  # 0 unless overdue past its grace period
    past_due: bool  # its due date has passed (perhaps still within the grace period)
    claimed_returned: bool
    lost: bool
    recall: bool

    @property
    def overdue(self) -> bool:
        return self.overdue_minutes > 0

    @property
    def overdue_days(self) -> int:
        return math.ceil(self.overdue_minutes / MINUTES_PER_DAY)

    def describe(self) -> dict[str, Any]:
        out = {k: self.loan[k] for k in ("loanId", "dueDate") if k in self.loan}
        out.update(
            recall=self.recall,
            itemLost=self.lost,
            itemClaimedReturned=self.claimed_returned,
            overdueMinutes=self.overdue_minutes,
            overdueDays=self.overdue_days,
        )
        if "gracePeriod" in self.loan:
            out["gracePeriod"] = self.loan["gracePeriod"]
        return out


def loan_facts(loan: dict[str, Any], now: datetime) -> LoanFacts:
    """How overdue ``loan`` is at ``now`` (``OverduePeriodCalculator``: whole minutes, truncated)."""
    flags = (loan.get("itemClaimedReturned") is True, loan.get("itemLost") is True, loan.get("recall") is True)
    due = parse_instant(loan.get("dueDate"))
    if due is None or due >= now:
        return LoanFacts(loan, 0, False, *flags)
    minutes = int((now - due).total_seconds() // 60)
    return LoanFacts(loan, minutes if minutes > grace_minutes(loan) else 0, True, *flags)


@dataclass
class Measured:
    """What one rule measured: the value compared with the limit, what counted, what was left out."""

    value: int | Decimal
    loans: list[LoanFacts] = field(default_factory=list)
    fees: list[dict[str, Any]] = field(default_factory=list)
    excluded: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Rule:
    """How one FOLIO condition measures a summary and compares with its limit, per action."""

    measure: str  # what the value counts, for people
    borrowing: str
    renewals: str
    requests: str
    measured: Callable[[list[LoanFacts], list[dict[str, Any]]], Measured]

    def comparison(self, action: str) -> str:
        return str(getattr(self, action))


def _counted(loans: list[LoanFacts], keep: Callable[[LoanFacts], bool], grace_matters: bool = False) -> Measured:
    out = Measured(0)
    for facts in loans:
        if facts.claimed_returned:
            out.excluded.append({"loanId": facts.loan.get("loanId"), "reason": "item claimed returned"})
        elif keep(facts):
            out.loans.append(facts)
        elif grace_matters and facts.past_due and not facts.overdue_minutes:
            out.excluded.append({"loanId": facts.loan.get("loanId"), "reason": "within its grace period"})
    out.value = len(out.loans)
    return out


def _charged_out(loans: list[LoanFacts], fees: list[dict[str, Any]]) -> Measured:
    return _counted(loans, lambda f: True)


def _lost(loans: list[LoanFacts], fees: list[dict[str, Any]]) -> Measured:
    return _counted(loans, lambda f: f.lost)


def _overdue(loans: list[LoanFacts], fees: list[dict[str, Any]]) -> Measured:
    return _counted(loans, lambda f: f.overdue_minutes > 0, grace_matters=True)


def _overdue_recalls(loans: list[LoanFacts], fees: list[dict[str, Any]]) -> Measured:
    return _counted(loans, lambda f: f.recall and f.overdue_minutes > 0, grace_matters=True)


def _days_overdue(loans: list[LoanFacts], fees: list[dict[str, Any]]) -> Measured:
    out = _overdue_recalls(loans, fees)
    out.value = max((f.overdue_days for f in out.loans), default=0)
    return out


def _balance(loans: list[LoanFacts], fees: list[dict[str, Any]]) -> Measured:
    claimed = {f.loan.get("loanId") for f in loans if f.claimed_returned}
    out = Measured(Decimal(0))
    for fee in fees:
        if fee.get("loanId") is not None and fee.get("loanId") in claimed:
            out.excluded.append({"feeFineId": fee.get("feeFineId"), "reason": "fee/fine of a loan claimed returned"})
            continue
        out.fees.append(fee)
        out.value += Decimal(str(fee.get("balance", 0)))
    return out


RULES: dict[str, Rule] = {
    MAX_NUMBER_OF_ITEMS_CHARGED_OUT: Rule("items charged out", ">=", ">", ">", _charged_out),
    MAX_NUMBER_OF_LOST_ITEMS: Rule("lost items", ">", ">", ">", _lost),
    MAX_NUMBER_OF_OVERDUE_ITEMS: Rule("overdue items", ">", ">", ">", _overdue),
    MAX_NUMBER_OF_OVERDUE_RECALLS: Rule("overdue recalled items", ">", ">", ">", _overdue_recalls),
    RECALL_OVERDUE_BY_MAX_NUMBER_OF_DAYS: Rule("days the most overdue recall is overdue", ">", ">", ">", _days_overdue),
    MAX_OUTSTANDING_FEE_FINE_BALANCE: Rule("outstanding fee/fine balance", ">", ">", ">", _balance),
}


def _passes(value: int | Decimal, comparison: str, limit: Decimal) -> bool:
    return value >= limit if comparison == ">=" else value > limit


def _number(value: int | Decimal) -> int | float:
    """A value as JSON writes it (a balance with its cents, a count as an integer)."""
    return value if isinstance(value, int) else float(value)


@dataclass
class Evaluation:
    """The blocks a summary raises, and per limit of the patron group the reasoning behind them."""

    blocks: list[dict[str, Any]]
    conditions: list[dict[str, Any]]
    notes: list[str]


def evaluate(
    summary: dict[str, Any] | None,
    limits: list[dict[str, Any]],
    conditions: list[dict[str, Any]],
    now: datetime,
    explain: bool = True,
) -> Evaluation:
    """The automated blocks of the user whose ``summary`` this is (None: nothing open), given the
    ``limits`` of the user's patron group and all patron block ``conditions``, at the moment ``now``;
    with ``explain``, also the reasoning per condition (without, ``conditions`` stays empty: the blocks
    alone are asked for before every loan, and describing 200 loans would be most of the work)."""
    notes: list[str] = []
    if summary is None:
        notes.append("The user has no open loans and no open fees/fines: nothing can block.")
        summary = {"openLoans": [], "openFeesFines": []}
    if not limits:
        notes.append("The user's patron group has no patron block limits: nothing is checked.")
    by_id = {c["id"]: c for c in conditions}
    loans = [loan_facts(loan, now) for loan in summary.get("openLoans") or ()]
    fees = list(summary.get("openFeesFines") or ())
    blocks: list[dict[str, Any]] = []
    explained: list[dict[str, Any]] = []
    for limit in sorted(limits, key=lambda x: str(x.get("conditionId"))):
        condition = by_id.get(limit.get("conditionId"))
        rule = RULES.get(str(limit.get("conditionId")))
        if condition is None:
            notes.append(f"Limit {limit.get('id')} names condition {limit.get('conditionId')}, which does not exist.")
            continue
        if rule is None:
            notes.append(
                f"Condition {condition['id']} ({condition.get('name')}) has a limit but no automated rule: "
                "only FOLIO's six conditions are computed."
            )
            continue
        entry, block = _explain(rule, condition, limit, loans, fees, explain)
        if entry is not None:
            explained.append(entry)
        if block is not None:
            blocks.append(block)
    return Evaluation(blocks, explained, notes)


def _explain(
    rule: Rule,
    condition: dict[str, Any],
    limit: dict[str, Any],
    loans: list[LoanFacts],
    fees: list[dict[str, Any]],
    explain: bool,
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """One condition's reasoning (None unless ``explain``), and the block it raises (or None)."""
    measured = rule.measured(loans, fees)
    limit_value = Decimal(str(limit["value"]))
    actions = {}
    for action in ACTIONS:
        comparison = rule.comparison(action)
        reached = _passes(measured.value, comparison, limit_value)
        flag = condition.get(_FLAGS[action]) is True
        actions[action] = {
            "comparison": comparison,
            "limitReached": reached,
            "conditionBlocks": flag,
            "blocked": reached and flag,
        }
    blocked = [a for a in ACTIONS if actions[a]["blocked"]]
    block = None
    if blocked:
        block = {
            "patronBlockConditionId": condition["id"],
            "blockBorrowing": actions["borrowing"]["blocked"],
            "blockRenewals": actions["renewals"]["blocked"],
            "blockRequests": actions["requests"]["blocked"],
            "message": condition.get("message") or "",
        }
    if not explain:
        return None, block
    shown = _number(measured.value)
    rules = "; ".join(f"{a}: {_WORDS[actions[a]['comparison']]} {limit['value']}" for a in ACTIONS)
    reason = f"{rule.measure}: {shown}; the patron group's limit counts {rules}"
    reason += f"; blocked: {', '.join(blocked)}" if blocked else "; nothing is blocked"
    entry: dict[str, Any] = {
        "patronBlockConditionId": condition["id"],
        "name": condition.get("name", ""),
        "patronBlockLimitId": limit.get("id"),
        "limit": limit["value"],
        "measure": rule.measure,
        "currentValue": shown,
        "actions": actions,
        "reason": reason,
        "loans": [f.describe() for f in measured.loans],
        "feesFines": measured.fees,
        "excluded": measured.excluded,
    }
    if "message" in condition:
        entry["message"] = condition["message"]
    return entry, block
