"""Turns: at most n holders, and a freed slot goes to the oldest waiter, never to a newcomer."""

from __future__ import annotations

import threading

import pytest

from rag_index.server.turns import Turns
from tests.conftest import Occupancy, wait_until


def test_waiters_are_admitted_in_the_order_they_came() -> None:
    turns, order = Turns(1), []

    def visit(name: str) -> None:
        with turns:
            order.append(name)

    turns.__enter__()
    threads = []
    for i, name in enumerate("abcd"):
        threads.append(threading.Thread(target=visit, args=(name,)))
        threads[-1].start()
        wait_until(lambda i=i: turns.waiting == i + 1)  # queued: the next one comes after it
    turns.__exit__()
    for thread in threads:
        thread.join()
    assert order == list("abcd")


def test_a_caller_coming_back_at_once_queues_behind_the_waiter() -> None:
    # threading.Semaphore lets the releasing thread take the slot straight back (the waiter it woke has
    # not run yet); a server's client sending its next request right away would overtake everyone.
    turns, order = Turns(1), []

    def waiter() -> None:
        with turns:
            order.append("waiter")

    turns.__enter__()
    thread = threading.Thread(target=waiter)
    thread.start()
    wait_until(lambda: turns.waiting == 1)
    turns.__exit__()
    with turns:
        order.append("newcomer")
    thread.join()
    assert order == ["waiter", "newcomer"]


def test_no_more_than_slots_holders_at_once() -> None:
    turns, occupancy, gate = Turns(2), Occupancy(), threading.Event()

    def hold() -> None:
        with turns, occupancy:
            gate.wait()

    threads = [threading.Thread(target=hold) for _ in range(5)]
    for thread in threads:
        thread.start()
    wait_until(lambda: turns.waiting == 3 and occupancy.inside == 2)
    gate.set()
    for thread in threads:
        thread.join()
    assert occupancy.most == 2 and turns.waiting == 0


def test_at_least_one_slot() -> None:
    with pytest.raises(ValueError, match="slots"):
        Turns(0)
