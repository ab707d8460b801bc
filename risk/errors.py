"""The errors of the decision flow; each maps to one GraphQL error code."""

from __future__ import annotations


class FlowError(Exception):
    """A request the flow refuses, with a code the API reports in `extensions.code`."""

    code = "BAD_REQUEST"


class InvalidInput(FlowError):
    """An argument is missing or malformed (the message names it)."""

    code = "BAD_USER_INPUT"


class NotFound(FlowError):
    """The named assessment, request, decision or customer does not exist."""

    code = "NOT_FOUND"


class ConsentMissing(FlowError):
    """A data category would be read without the customer's consent."""

    code = "CONSENT_MISSING"


class Conflict(FlowError):
    """The step does not fit the state the workflow is in (e.g. deciding twice differently)."""

    code = "CONFLICT"


class RequestRejected(FlowError):
    """An assisted-authentication response that is expired, repeated, refused or forged."""

    code = "ASSIST_REJECTED"


class DeadlineExceeded(TimeoutError):
    """A step ran past its deadline; nothing more of it is written (a store failure to the
    caller: the step fails closed)."""
