"""What the API tests send: the flow's operations (api.operations) and the consents."""

from api.operations import ASSESS, DECIDE, RECORD, REQUEST, RESPOND

__all__ = ["ASSESS", "CONSENTS", "DECIDE", "RECORD", "REQUEST", "RESPOND"]

CONSENTS = ["BASIC_INFO", "FACE", "IDENTITY", "REJECTION_HISTORY", "TRANSACTIONS", "CREDIT"]
