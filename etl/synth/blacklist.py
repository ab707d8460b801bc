"""The blacklist: known fraudsters and mules, court and debt cases, and non-customers."""

from __future__ import annotations

import numpy as np

from etl.synth.bank import Bank, filled
from etl.synth.codes import LABEL_CODE
from etl.synth.rates import BLACKLIST_RATE
from etl.synth.timeframe import REFERENCE_TIME, YEAR
from graph.vocab import LabelKind


def blacklist(rng: np.random.Generator, bank: Bank, id_extra: int) -> None:
    """Blacklist entries naming a customer, an ID number or both; id_extra non-customers."""
    n, kind = bank.n, filled(bank.true_kind, "true_kind")
    label_ts = bank.tables["labels"]["ts"]
    known = filled(bank.label, "label") == 1
    p = np.select(
        [
            known & (kind == LABEL_CODE[LabelKind.FRAUD]),
            known & (kind == LABEL_CODE[LabelKind.MULE]),
        ],
        [0.3, 0.1],
        BLACKLIST_RATE,
    )
    who = np.flatnonzero(rng.random(n) < p)
    bad = known[who]
    reason = np.where(
        bad,
        np.where(kind[who] == LABEL_CODE[LabelKind.MULE], 1, rng.choice([0, 2], size=len(who))),
        rng.choice([3, 4, 5], size=len(who), p=(0.45, 0.5, 0.05)),
    )
    lo = np.where(bad, label_ts[who], REFERENCE_TIME - 4 * YEAR)
    listed = lo + (rng.random(len(who)) * (REFERENCE_TIME - lo)).astype(np.int64)
    form = rng.choice(3, size=len(who), p=(0.5, 0.2, 0.3))  # both / customer id / id number
    # People who are not customers, named by ID number only.
    ext = n + np.arange(id_extra)
    bank.tables["blacklist"] = {
        "customer": np.concatenate([np.where(form == 2, -1, who), np.full(id_extra, -1)]),
        "id_row": np.concatenate([np.where(form == 1, -1, who), ext]),
        "reason": np.concatenate([reason, rng.choice([0, 2, 3, 5], size=id_extra)]),
        "listed": np.concatenate(
            [listed, REFERENCE_TIME - (rng.random(id_extra) * 5 * YEAR).astype(np.int64)]
        ),
    }
