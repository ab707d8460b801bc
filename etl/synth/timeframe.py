"""The synthetic bank's clock: a fixed "now" and history window, never the wall clock.

All times are epoch seconds (UTC) until they are written.
"""

from __future__ import annotations

from graph.vocab import S_PER_DAY

DAY = S_PER_DAY
HOUR = 3_600
# 365.25 days, not graph/vocab.py's Gregorian DAYS_PER_YEAR: ages and ties drawn in years would
# shift by seconds and the generated files would change.
YEAR = 31_557_600
REFERENCE_TIME = 1_782_777_600  # 2026-06-30T00:00:00Z: the generated bank's "now"
HISTORY_DAYS = 548  # about 18 months of transfers, calls and vouches before REFERENCE_TIME
HISTORY_START = REFERENCE_TIME - HISTORY_DAYS * DAY
NO_TIME = -(2**62)  # an unknown optional time (written empty); births before 1970 are < 0
