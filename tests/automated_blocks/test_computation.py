"""The computation and the summary's changes as pure functions: no database, no HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mod_users.resources.automated_blocks import computation as c
from mod_users.resources.automated_blocks import events as ev
from mod_users.resources.automated_blocks.summary import apply_event, summary_from_records
from tests.automated_blocks.support import condition_body, new_id

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
USER = "2205005b-ca51-4a04-87fd-938eefa8f6de"


def due(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).isoformat().replace("+00:00", "Z")


def loan(minutes_ago: float = -60, **flags) -> dict:
    return {"loanId": new_id(), "dueDate": due(minutes_ago), "recall": False, **flags}


def summary(loans=(), fees=()) -> dict:
    return {"id": USER, "userId": USER, "openLoans": list(loans), "openFeesFines": list(fees)}


def limit(condition_id: str, value) -> dict:
    return {"id": new_id(), "patronGroupId": new_id(), "conditionId": condition_id, "value": value}


def blocks_for(condition_id, value, the_summary, **flags):
    condition = condition_body(
        condition_id, "Double" if condition_id == c.MAX_OUTSTANDING_FEE_FINE_BALANCE else "Integer", **flags
    )
    return c.evaluate(the_summary, [limit(condition_id, value)], [condition], NOW)


def actions(evaluation) -> tuple[bool, bool, bool]:
    if not evaluation.blocks:
        return (False, False, False)
    (block,) = evaluation.blocks
    return (block["blockBorrowing"], block["blockRenewals"], block["blockRequests"])


@pytest.mark.parametrize(
    ("open_loans", "expected"),
    [(1, (False, False, False)), (2, (True, False, False)), (3, (True, True, True))],
)
def test_items_charged_out_blocks_borrowing_when_reached_the_rest_when_exceeded(open_loans, expected):
    # MODPATBLK-20/-34: with 2 loans at a limit of 2 the next check-out would exceed it.
    evaluation = blocks_for(c.MAX_NUMBER_OF_ITEMS_CHARGED_OUT, 2, summary([loan() for _ in range(open_loans)]))
    assert actions(evaluation) == expected
    assert evaluation.conditions[0]["currentValue"] == open_loans
    assert evaluation.conditions[0]["actions"]["borrowing"]["comparison"] == ">="
    assert evaluation.conditions[0]["actions"]["renewals"]["comparison"] == ">"


def test_claimed_returned_items_count_for_nothing_and_neither_do_their_fees():
    returned = loan(itemClaimedReturned=True, itemLost=False)
    loans = [loan(), returned]
    assert actions(blocks_for(c.MAX_NUMBER_OF_ITEMS_CHARGED_OUT, 2, summary(loans))) == (False, False, False)
    fees = [{"feeFineId": new_id(), "balance": 50, "loanId": returned["loanId"]}, {"feeFineId": new_id(), "balance": 5}]
    evaluation = blocks_for(c.MAX_OUTSTANDING_FEE_FINE_BALANCE, 10, summary(loans, fees))
    assert actions(evaluation) == (False, False, False)
    assert evaluation.conditions[0]["currentValue"] == 5
    assert evaluation.conditions[0]["excluded"] == [
        {"feeFineId": fees[0]["feeFineId"], "reason": "fee/fine of a loan claimed returned"}
    ]


@pytest.mark.parametrize(("lost", "expected"), [(2, False), (3, True)])
def test_lost_items_block_when_exceeded(lost, expected):
    loans = [loan(itemLost=True) for _ in range(lost)] + [loan()]
    assert actions(blocks_for(c.MAX_NUMBER_OF_LOST_ITEMS, 2, summary(loans))) == (expected,) * 3


def test_overdue_counts_past_the_grace_period_only():
    grace = {"duration": 1, "intervalId": "Hours"}
    within = loan(59, gracePeriod=grace)
    past = loan(61, gracePeriod=grace)
    evaluation = blocks_for(c.MAX_NUMBER_OF_OVERDUE_ITEMS, 0, summary([within, past, loan(-5)]))
    assert actions(evaluation) == (True, True, True)
    explained = evaluation.conditions[0]
    assert explained["currentValue"] == 1
    # the grace period defers, it does not discount: all 61 minutes count
    assert [(x["loanId"], x["overdueMinutes"]) for x in explained["loans"]] == [(past["loanId"], 61)]
    assert explained["excluded"] == [{"loanId": within["loanId"], "reason": "within its grace period"}]


def test_a_month_of_grace_is_31_days():
    grace = {"duration": 1, "intervalId": "Months"}
    assert c.grace_minutes({"gracePeriod": grace}) == 31 * 1440
    assert not blocks_for(c.MAX_NUMBER_OF_OVERDUE_ITEMS, 0, summary([loan(30 * 1440, gracePeriod=grace)])).blocks
    assert blocks_for(c.MAX_NUMBER_OF_OVERDUE_ITEMS, 0, summary([loan(31 * 1440 + 1, gracePeriod=grace)])).blocks


@pytest.mark.parametrize(("minutes", "days", "blocked"), [(1440, 1, False), (1441, 2, True), (2880, 2, True)])
def test_days_overdue_round_up_and_block_when_exceeded(minutes, days, blocked):
    recalled = loan(minutes, recall=True)
    evaluation = blocks_for(c.RECALL_OVERDUE_BY_MAX_NUMBER_OF_DAYS, 1, summary([recalled, loan(10 * 1440)]))
    assert evaluation.conditions[0]["currentValue"] == days
    assert bool(evaluation.blocks) is blocked


def test_overdue_recalls_count_recalled_overdue_loans_only():
    loans = [loan(100, recall=True), loan(100, recall=True), loan(100), loan(-100, recall=True)]
    evaluation = blocks_for(c.MAX_NUMBER_OF_OVERDUE_RECALLS, 1, summary(loans))
    assert evaluation.conditions[0]["currentValue"] == 2 and evaluation.blocks


@pytest.mark.parametrize(("balances", "blocked"), [((10.1, 0.2), False), ((10.1, 0.21), True), ((3,), False)])
def test_fee_fine_balance_blocks_when_exceeded_in_exact_decimals(balances, blocked):
    fees = [{"feeFineId": new_id(), "balance": b} for b in balances]
    evaluation = blocks_for(c.MAX_OUTSTANDING_FEE_FINE_BALANCE, 10.3, summary(fees=fees))
    assert bool(evaluation.blocks) is blocked  # 10.1 + 0.2 is 10.3 exactly, not 10.299999...


def test_a_condition_blocks_only_the_actions_it_flags():
    evaluation = blocks_for(
        c.MAX_NUMBER_OF_LOST_ITEMS, 0, summary([loan(itemLost=True)]), blockBorrowing=False, blockRequests=False
    )
    assert actions(evaluation) == (False, True, False)
    assert evaluation.conditions[0]["actions"]["borrowing"] == {
        "comparison": ">",
        "limitReached": True,
        "conditionBlocks": False,
        "blocked": False,
    }
    assert evaluation.blocks[0]["message"] == condition_body(c.MAX_NUMBER_OF_LOST_ITEMS)["message"]


def test_conditions_without_a_rule_or_without_a_record_block_nothing_and_say_so():
    custom = condition_body(new_id())
    missing = new_id()
    evaluation = c.evaluate(
        summary([loan(100) for _ in range(5)]), [limit(custom["id"], 0), limit(missing, 0)], [custom], NOW
    )
    assert evaluation.blocks == [] and evaluation.conditions == []
    assert any("no automated rule" in n for n in evaluation.notes)
    assert any(missing in n and "does not exist" in n for n in evaluation.notes)


def test_no_summary_no_limits_no_blocks():
    assert c.evaluate(None, [], [], NOW).blocks == []
    evaluation = c.evaluate(summary([loan(100)]), [], [], NOW)
    assert evaluation.blocks == [] and "no patron block limits" in evaluation.notes[0]


# -- the summary's changes -------------------------------------------------------------------------------
def test_the_summary_follows_a_loan_through_its_events():
    loan_id = new_id()
    s = apply_event(None, USER, ev.ITEM_CHECKED_OUT, {"userId": USER, "loanId": loan_id, "dueDate": due(-60)})
    assert [x["loanId"] for x in s["openLoans"]] == [loan_id]
    again = apply_event(s, USER, ev.ITEM_CHECKED_OUT, {"userId": USER, "loanId": loan_id, "dueDate": due(-999)})
    assert again == s  # already open: ignored
    lost = apply_event(s, USER, ev.ITEM_DECLARED_LOST, {"userId": USER, "loanId": loan_id})
    assert lost["openLoans"][0]["itemLost"] is True and s["openLoans"][0]["itemLost"] is False  # a new object
    claimed = apply_event(lost, USER, ev.ITEM_CLAIMED_RETURNED, {"userId": USER, "loanId": loan_id})
    assert (claimed["openLoans"][0]["itemLost"], claimed["openLoans"][0]["itemClaimedReturned"]) == (False, True)
    relost = apply_event(claimed, USER, ev.ITEM_AGED_TO_LOST, {"userId": USER, "loanId": loan_id})
    assert (relost["openLoans"][0]["itemLost"], relost["openLoans"][0]["itemClaimedReturned"]) == (True, False)
    recalled = apply_event(
        relost,
        USER,
        ev.LOAN_DUE_DATE_CHANGED,
        {"userId": USER, "loanId": loan_id, "dueDate": due(10), "dueDateChangedByRecall": True},
    )
    assert recalled["openLoans"][0]["recall"] is True and recalled["openLoans"][0]["itemLost"] is True
    renewed = apply_event(
        recalled,
        USER,
        ev.LOAN_DUE_DATE_CHANGED,
        {"userId": USER, "loanId": loan_id, "dueDate": due(-10), "dueDateChangedByRecall": False},
    )
    assert (renewed["openLoans"][0]["recall"], renewed["openLoans"][0]["itemLost"]) == (False, False)
    assert apply_event(renewed, USER, ev.LOAN_CLOSED, {"userId": USER, "loanId": loan_id}) is None


def test_a_balance_of_zero_closes_the_fee_fine():
    fee = new_id()
    s = apply_event(None, USER, ev.FEE_FINE_BALANCE_CHANGED, {"feeFineId": fee, "userId": USER, "balance": 5})
    s = apply_event(s, USER, ev.FEE_FINE_BALANCE_CHANGED, {"feeFineId": fee, "userId": USER, "balance": 2.5})
    assert s["openFeesFines"] == [{"feeFineId": fee, "balance": 2.5}]
    assert apply_event(s, USER, ev.FEE_FINE_BALANCE_CHANGED, {"feeFineId": fee, "userId": USER, "balance": 0}) is None


def test_events_about_loans_the_summary_does_not_hold_create_nothing():
    for event_type in (ev.ITEM_CHECKED_IN, ev.ITEM_DECLARED_LOST, ev.ITEM_CLAIMED_RETURNED, ev.LOAN_CLOSED):
        assert apply_event(None, USER, event_type, {"userId": USER, "loanId": new_id()}) is None


def test_a_summary_from_loan_and_account_records_keeps_known_grace_periods():
    kept, other = new_id(), new_id()
    grace = {"duration": 2, "intervalId": "Days"}
    previous = summary([{"loanId": kept, "dueDate": due(0), "recall": False, "gracePeriod": grace}])
    loans = [
        {"id": kept, "userId": USER, "dueDate": due(5), "itemStatus": "Declared lost"},
        {
            "id": other,
            "userId": USER,
            "dueDate": due(5),
            "itemStatus": "claimed returned",
            "dueDateChangedByRecall": True,
        },
    ]
    accounts = [{"id": new_id(), "userId": USER, "remaining": 0, "feeFineId": new_id()}]
    built = summary_from_records(USER, loans, accounts, previous)
    assert built["openLoans"][0]["gracePeriod"] == grace and built["openLoans"][0]["itemLost"] is True
    assert built["openLoans"][1]["itemClaimedReturned"] is True and built["openLoans"][1]["recall"] is True
    assert built["openFeesFines"] == []  # nothing remaining: closed
    assert summary_from_records(USER, [], accounts, previous) is None


# -- what makes one event one ----------------------------------------------------------------------------
def test_event_identity():
    payload = {"userId": USER, "loanId": new_id(), "dueDate": due(0)}
    assert ev.event_log_id(ev.ITEM_CHECKED_OUT, payload) == ev.event_log_id(ev.ITEM_CHECKED_OUT, dict(payload))
    assert ev.event_log_id(ev.ITEM_CHECKED_OUT, payload) != ev.event_log_id(ev.ITEM_CHECKED_IN, payload)
    # a repeatable event without id or time is not identified by its content ...
    lost = {"userId": USER, "loanId": payload["loanId"]}
    assert ev.event_log_id(ev.ITEM_DECLARED_LOST, lost) is None
    # ... but by its id, its time, or the Kafka record it came in
    assert ev.event_log_id(ev.ITEM_DECLARED_LOST, {**lost, "id": "A" * 8}) is not None
    assert ev.event_log_id(ev.ITEM_DECLARED_LOST, {**lost, "metadata": {"createdDate": due(0)}}) is not None
    assert ev.event_log_id(ev.ITEM_DECLARED_LOST, lost, "t:0:5") == ev.event_log_id(
        ev.ITEM_DECLARED_LOST, lost, "t:0:5"
    )
    assert ev.event_log_id(ev.ITEM_DECLARED_LOST, lost, "t:0:5") != ev.event_log_id(
        ev.ITEM_DECLARED_LOST, lost, "t:0:6"
    )


def test_topics():
    assert ev.ITEM_CHECKED_OUT.topic("folio", "diku") == "folio.diku.circulation.ITEM_CHECKED_OUT"
    assert ev.FEE_FINE_BALANCE_CHANGED.topic("folio", "diku") == "folio.diku.feesfines.FEE_FINE_BALANCE_CHANGED"
    assert ev.parse_topic("folio", "folio.diku.circulation.LOAN_CLOSED") == ("diku", ev.LOAN_CLOSED)
    assert ev.parse_topic("folio", "folio.diku.feesfines.LOAN_CLOSED") is None
    assert ev.parse_topic("folio", "other.diku.circulation.LOAN_CLOSED") is None
    import re

    pattern = re.compile(ev.topic_pattern("folio"))
    assert all(pattern.match(t.topic("folio", "diku")) for t in ev.EVENT_TYPES)
    assert not pattern.match("folio.diku.circulation.LOG_RECORD")
    assert not pattern.match("folioX.diku.circulation.LOAN_CLOSED")
