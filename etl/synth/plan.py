"""Building the whole bank in memory: the generators in their one random sequence."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa

from etl.synth.bank import Bank, Relations
from etl.synth.blacklist import blacklist
from etl.synth.calls import calls
from etl.synth.consents import consents
from etl.synth.credit import credit, rejections
from etl.synth.devices import apps, devices, phones
from etl.synth.formatting import id_strings
from etl.synth.identity import id_numbers
from etl.synth.people import people as make_people
from etl.synth.planted import plant, plant_relations
from etl.synth.rates import MIN_CUSTOMERS
from etl.synth.relations import RelationBuffer, relations
from etl.synth.transfers import transfers
from etl.synth.vouches import labels, vouches


def plan_bank(
    customers: int, seed: int, progress: Callable[[str, int, int], None] | None = None
) -> Bank:
    """Build the whole synthetic bank in memory (without writing it) for (customers, seed)."""
    if customers < MIN_CUSTOMERS:
        raise ValueError(f"customers must be at least {MIN_CUSTOMERS}")
    # One generator, drawn from in a fixed order: the order of the calls below is part of the
    # output (moving a step changes every file after it).
    rng = np.random.default_rng(seed)
    steps = 9

    def step(k: int) -> None:
        if progress is not None:
            progress("plan", k, steps)

    step(0)
    people = make_people(rng, customers)
    bank = Bank(customers, seed, pa.array([], pa.string()), people, Relations(*[np.zeros(0)] * 5))
    plant(rng, bank)
    _number_customers(bank)
    step(1)
    buf = RelationBuffer()
    relations(rng, people, buf)
    tied = plant_relations(rng, bank, buf)
    bank.relations = buf.build(people["rank"])
    step(2)
    _, n_own, n_external = phones(rng, bank)
    devices(rng, bank)
    apps(rng, bank)
    step(3)
    transfers(rng, bank)
    step(4)
    calls(rng, bank, n_own, n_external)
    step(5)
    collusion_known = vouches(rng, bank, tied)
    labels(rng, bank, collusion_known)
    step(6)
    rejections(rng, bank)
    credit(rng, bank)
    step(7)
    consents(rng, bank)
    step(8)
    id_extra = max(5, customers // 1000)
    blacklist(rng, bank, id_extra)
    id_numbers(rng, bank, id_extra)
    step(steps)
    return bank


def _number_customers(bank: Bank) -> None:
    """Customer ids follow account opening (the oldest account is C0000001); files list rows in
    customer id order."""
    people, customers = bank.people, bank.n
    rank = np.empty(customers, np.int64)
    rank[np.argsort(people["opened"], kind="stable")] = np.arange(customers)
    people["rank"] = rank
    people["by_rank"] = np.argsort(rank)
    bank.customer_ids = id_strings("C", rank + 1, max(7, len(str(customers))))
