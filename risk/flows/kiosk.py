"""Flow A end to end: assess, candidate guarantors, assisted authentication, decide, outcome.

Each step reads what it needs from the store (each data category only under consent), calls
the pure rules of `risk.scorecard` and `risk.eligibility`, and writes its result with its audit
record in one statement, so any API replica can serve any step. Failures on the decision path
(`assess`, `decide`) never approve: the API turns them into refusals with a reason code.
The steps live in kiosk_assess, kiosk_assist and kiosk_decide, over kiosk_base.
"""

from __future__ import annotations

from risk.flows.kiosk_assess import AssessSteps
from risk.flows.kiosk_assist import AssistSteps
from risk.flows.kiosk_decide import DecideSteps


class KioskFlow(AssessSteps, AssistSteps, DecideSteps):
    """The steps of Flow A over one store and one policy."""
