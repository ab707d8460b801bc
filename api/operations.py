"""The kiosk flow's GraphQL operations as a kiosk backend sends them.

One copy for everyone who drives the flow from outside: the HTTP tests, the API benchmark, and
integrators reading for an example (README.md shows the same operations with literal values).
"""

CANDIDATES = """
query($id: ID!, $business: Business!, $first: Int) {
  candidateGuarantors(customerId: $id, business: $business, first: $first) {
    customerId handle displayName relationship eligible reasons channels
    paths { type kind source direction }
  }
}"""

ASSESS = """
mutation($input: AssessInput!) {
  assess(input: $input) {
    id outcome reasons policyVersion
    score { total threshold items { code points evidence } }
    candidates { handle displayName relationship eligible reasons channels
                 paths { type kind source direction } }
  }
}"""

REQUEST = """
mutation($id: ID!, $guarantors: [ID!]!, $channel: Channel) {
  requestAssistedAuth(assessmentId: $id, guarantors: $guarantors, channel: $channel) {
    id status candidate channel expiresAt
  }
}"""

ASSIST_DETAILS = """
query($id: ID!, $guarantor: ID!, $token: String!) {
  assistRequest(requestId: $id, guarantorId: $guarantor, token: $token) {
    id business applicantDisplayName relationship channel status expiresAt
  }
}"""

RESPOND = """
mutation($id: ID!, $guarantor: ID!, $token: String!, $accept: Boolean!,
         $verification: GuarantorVerificationInput) {
  respondAssistedAuth(requestId: $id, guarantorId: $guarantor, token: $token, accept: $accept,
                      verification: $verification) { id status }
}"""

DECIDE = """
mutation($id: ID!) {
  decide(assessmentId: $id) {
    id outcome reasons guarantors
    score { total threshold items { code points } }
  }
}"""

RECORD = """
mutation($id: ID!, $outcome: Outcome!) {
  recordOutcome(decisionId: $id, outcome: $outcome) { id reportedOutcome }
}"""
