/**
 * Every GraphQL document the workbench sends, and the shapes of their answers: the operations of
 * docs/workbench-api.md and nothing else, so a bank can build its own screens on the same API.
 */

export type RelationType = "KIN" | "SOCIAL" | "TRANSFER" | "VOUCH" | "SHARED_PHONE" | "SHARED_DEVICE";
export const RELATION_TYPES: readonly RelationType[] = [
  "KIN",
  "SOCIAL",
  "TRANSFER",
  "VOUCH",
  "SHARED_PHONE",
  "SHARED_DEVICE",
];
export type RiskBand = "LOW" | "MEDIUM" | "HIGH" | "UNSCORED";
export type AlertState = "OPEN" | "IN_PROGRESS" | "CLOSED";
export type AlertOutcome = "FRAUD_CONFIRMED" | "NO_ISSUE";

export interface GraphNode {
  id: string;
  displayName: string;
  riskBand: RiskBand;
  graphRisk: number | null;
  knownFraud: boolean;
  status: string | null;
}

export interface GraphEdge {
  id: string;
  source: string;
  target: string;
  type: RelationType;
  kind: string | null;
  at: string | null;
  amount: number | null;
  count: number | null;
}

export interface RelationCount {
  type: RelationType;
  total: number;
}

export interface NeighbourPage {
  center: GraphNode;
  nodes: GraphNode[];
  edges: GraphEdge[];
  counts: RelationCount[];
  total: number;
  offset: number;
  nextOffset: number | null;
}

export interface GraphPath {
  nodes: GraphNode[];
  edges: GraphEdge[];
  hops: number;
}

export interface Ring {
  id: string;
  size: number;
  knownFraud: number;
  totalMoved: number;
  members: GraphNode[];
  edges: GraphEdge[];
}

export interface ScoreItem {
  code: string;
  points: number;
  evidence: unknown;
  guarantorId: string | null;
}

export interface Score {
  total: number;
  threshold: number;
  items: ScoreItem[];
}

export interface Assessment {
  id: string;
  business: string;
  outcome: string;
  reasons: string[];
  policyVersion: string;
  modelVersion: string | null;
  createdAt: number;
  score: Score;
}

export interface Decision {
  id: string;
  assessmentId: string;
  business: string;
  outcome: string;
  reasons: string[];
  guarantorIds: string[] | null;
  policyVersion: string;
  modelVersion: string | null;
  createdAt: number;
  reportedOutcome: string | null;
  score: Score;
}

export interface VouchEvent {
  voucherId: string;
  voucheeId: string;
  business: string;
  at: string;
  outcome: string;
  decisionId: string | null;
}

export interface CustomerProfile {
  customer: GraphNode;
  openedAt: string | null;
  risk: {
    probability: number | null;
    band: RiskBand;
    modelVersion: string | null;
    topRelations: { customerId: string; type: RelationType; weight: number }[];
  };
  vouches: VouchEvent[];
  assessments: Assessment[];
  decisions: Decision[];
}

export interface AlertNote {
  author: string;
  at: string;
  text: string;
}

export interface Alert {
  id: string;
  kind: string;
  customerId: string;
  state: AlertState;
  assignee: string | null;
  summary: string;
  evidence: string;
  createdAt: string;
  updatedAt: string;
  notes: AlertNote[];
  outcome: AlertOutcome | null;
}

export interface AlertPage {
  alerts: Alert[];
  total: number;
  offset: number;
  nextOffset: number | null;
}

const NODE = "fragment Node on GraphNode { id displayName riskBand graphRisk knownFraud status }";
const EDGE = "fragment Edge on GraphEdge { id source target type kind at amount count }";
const SCORE = "score { total threshold items { code points evidence guarantorId } }";
const ALERT =
  "fragment AlertFields on Alert { id kind customerId state assignee summary evidence " +
  "createdAt updatedAt outcome notes { author at text } }";

export const SEARCH_CUSTOMERS = `query SearchCustomers($idPrefix: String!, $first: Int) {
  searchCustomers(idPrefix: $idPrefix, first: $first) { ...Node }
} ${NODE}`;
export interface SearchCustomersData {
  searchCustomers: GraphNode[];
}

export const NEIGHBOURS = `query Neighbours($customerId: ID!, $type: RelationType, $first: Int,
    $offset: Int, $since: String, $until: String) {
  neighbours(customerId: $customerId, type: $type, first: $first, offset: $offset,
             since: $since, until: $until) {
    center { ...Node } nodes { ...Node } edges { ...Edge } counts { type total }
    total offset nextOffset
  }
} ${NODE} ${EDGE}`;
export interface NeighboursData {
  neighbours: NeighbourPage;
}

export const CUSTOMER_PATH = `query CustomerPath($fromId: ID!, $toId: ID!, $maxHops: Int,
    $since: String, $until: String) {
  customerPath(fromId: $fromId, toId: $toId, maxHops: $maxHops, since: $since, until: $until) {
    nodes { ...Node } edges { ...Edge } hops
  }
} ${NODE} ${EDGE}`;
export interface CustomerPathData {
  customerPath: GraphPath | null;
}

export const RINGS = `query Rings($customerId: ID!, $since: String, $until: String) {
  rings(customerId: $customerId, since: $since, until: $until) {
    id size knownFraud totalMoved members { ...Node } edges { ...Edge }
  }
} ${NODE} ${EDGE}`;
export interface RingsData {
  rings: Ring[];
}

export const CUSTOMER_PROFILE = `query CustomerProfile($id: ID!) {
  customerProfile(id: $id) {
    customer { ...Node } openedAt
    risk { probability band modelVersion topRelations { customerId type weight } }
    vouches { voucherId voucheeId business at outcome decisionId }
    assessments { id business outcome reasons policyVersion modelVersion createdAt ${SCORE} }
    decisions { id assessmentId business outcome reasons guarantorIds policyVersion
                modelVersion createdAt reportedOutcome ${SCORE} }
  }
} ${NODE}`;
export interface CustomerProfileData {
  customerProfile: CustomerProfile | null;
}

export const ALERTS = `query Alerts($state: AlertState, $first: Int, $offset: Int) {
  alerts(state: $state, first: $first, offset: $offset) {
    alerts { ...AlertFields } total offset nextOffset
  }
} ${ALERT}`;
export interface AlertsData {
  alerts: AlertPage;
}

/** The sign-in check: any answer but 401 means the key is known; FORBIDDEN, its role is not
 * an analyst's. */
export const SIGN_IN_CHECK = `query SignInCheck { alerts(first: 1) { total } }`;

export const UPDATE_ALERT = `mutation UpdateAlert($id: ID!, $state: AlertState, $assignee: String,
    $note: String) {
  updateAlert(id: $id, state: $state, assignee: $assignee, note: $note) { ...AlertFields }
} ${ALERT}`;
export interface UpdateAlertData {
  updateAlert: Alert;
}

export const CLOSE_ALERT = `mutation CloseAlert($id: ID!, $outcome: AlertOutcome!, $note: String!) {
  closeAlert(id: $id, outcome: $outcome, note: $note) { ...AlertFields }
} ${ALERT}`;
export interface CloseAlertData {
  closeAlert: Alert;
}
