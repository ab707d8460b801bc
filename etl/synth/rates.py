"""Rates of planted risk and background events: fractions of all customers unless said otherwise.

The tests check the generated files against these.
"""

from __future__ import annotations

from etl.synth.timeframe import DAY, HOUR

MULE_RATE = 0.005  # customers in mule rings
MULE_RING_SIZE = (4, 12)  # inclusive bounds on members per ring
MULE_RING_PAIR_P = 0.45  # chance that an ordered member pair of a ring moves money directly
MULE_RING_PHONE_SHARERS = (2, 4)  # members sharing the ring's burner number
COLLUSION_RATE = 0.003  # customers in collusive-guarantor groups
COLLUSION_GROUP_SIZE = (3, 6)
COLLUSION_BAD_OUTCOME_P = 0.8  # vouches inside a group ending FRAUD_REPORTED or DEFAULTED
TELECOM_VICTIM_RATE = 0.004
VICTIM_MIN_AMOUNT = 8_000.0  # the victim's outbound transfer to a mule is at least this
VICTIM_CONTACT_WINDOW = (HOUR // 4, 7 * DAY)  # abnormal contact this long before the transfer
FRAUD_RATE = 0.003  # plain individual fraud
LABEL_MISS_RATE = 0.05  # planted positives labelled 0 (fraud not (yet) discovered)
LABEL_FALSE_POSITIVE_RATE = 0.0005  # other customers labelled 1 (kind "fraud") by mistake
POSITIVE_RATE_BOUNDS = (0.01, 0.03)  # expected labelled-positive rate for >= 1,000 customers
MIN_CUSTOMERS = 50

# Background rates.
ABNORMAL_CONTACT_RATE = 0.006  # non-victims called by an abnormal number (failed attempts)
BLACKLIST_RATE = 0.003
REJECTION_RATE = 0.04
VOUCH_RATE = 0.05  # background vouches per customer
