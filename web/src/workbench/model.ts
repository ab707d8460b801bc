/** The workbench's rules, values in and values out: labels, paging, CSV, undo, placement. */

import type { GraphEdge, GraphNode, GraphPath, RelationType } from "./operations";

export const PAGE_SIZE = 20;
/** The most nodes a view holds: past it the page asks the analyst to narrow the view first. */
export const MAX_VISIBLE_NODES = 2500;

const NUMBER = new Intl.NumberFormat("en-US");

/** "12 of 3,480 — show 20 more", or "all 12" once every neighbour is shown. */
export function pageLabel(shown: number, total: number, pageSize: number = PAGE_SIZE): string {
  if (shown >= total) return `all ${NUMBER.format(total)}`;
  const more = Math.min(pageSize, total - shown);
  return `${NUMBER.format(shown)} of ${NUMBER.format(total)} — show ${NUMBER.format(more)} more`;
}

/** How one expansion (a node, a relation type or all of them) stands: shown so far, the true
 * total, where the next page starts (null: nothing left). */
export interface Paging {
  shown: number;
  total: number;
  nextOffset: number | null;
}

export function pagingKey(customerId: string, type: RelationType | null): string {
  return `${customerId}|${type ?? "ALL"}`;
}

/** The paging after a page of `count` neighbours from `offset` arrived. */
export function advance(offset: number, count: number, total: number, next: number | null): Paging {
  return { shown: Math.min(total, offset + count), total, nextOffset: next };
}

export const RELATION_LABELS: Record<RelationType, string> = {
  KIN: "kin",
  SOCIAL: "social",
  TRANSFER: "transfer",
  VOUCH: "vouch",
  SHARED_PHONE: "shared phone",
  SHARED_DEVICE: "shared device",
};

/** An edge's label on the graph: its type, its kind, and for transfers the money moved. */
export function edgeLabel(edge: GraphEdge): string {
  const parts = [edge.kind ?? RELATION_LABELS[edge.type]];
  if (edge.type === "TRANSFER" && edge.amount !== null) {
    const times = edge.count !== null && edge.count > 1 ? ` ×${edge.count}` : "";
    parts.push(`${NUMBER.format(Math.round(edge.amount * 100) / 100)}${times}`);
  }
  return parts.join(" ");
}

/** The path in words: "A —kin spouse— G1 —social friend— B". */
export function describePath(path: GraphPath): string {
  if (path.nodes.length === 0) return "";
  const words = [path.nodes[0]!.id];
  for (let i = 1; i < path.nodes.length; i += 1) {
    const before = path.nodes[i - 1]!.id;
    const here = path.nodes[i]!.id;
    const edge = path.edges.find(
      (e) => (e.source === before && e.target === here) || (e.source === here && e.target === before),
    );
    const relation = edge ? `${RELATION_LABELS[edge.type]}${edge.kind ? ` ${edge.kind}` : ""}` : "?";
    words.push(`—${relation}— ${here}`);
  }
  return words.join(" ");
}

const CSV_COLUMNS = [
  "element",
  "id",
  "display_name",
  "risk_band",
  "graph_risk",
  "known_fraud",
  "status",
  "source",
  "target",
  "type",
  "kind",
  "at",
  "amount",
  "count",
] as const;

/** One CSV cell: quoted when it must be, and never read as a formula by a spreadsheet. */
export function csvCell(value: string | number | boolean | null): string {
  if (value === null) return "";
  let text = String(value);
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The view's table: one row per node, then one per edge. */
export function viewCsv(nodes: readonly GraphNode[], edges: readonly GraphEdge[]): string {
  const rows: (string | number | boolean | null)[][] = [[...CSV_COLUMNS]];
  for (const n of nodes) {
    rows.push(["node", n.id, n.displayName, n.riskBand, n.graphRisk, n.knownFraud, n.status]);
  }
  for (const e of edges) {
    rows.push(["edge", e.id, null, null, null, null, null, e.source, e.target, e.type, e.kind,
      e.at, e.amount, e.count]);
  }
  return rows.map((row) => {
    const full = CSV_COLUMNS.map((_, i) => csvCell(row[i] ?? null));
    return full.join(",");
  }).join("\r\n") + "\r\n";
}

/** What one step added, so that undo can take exactly that away again. */
export interface Step<P> {
  label: string;
  nodes: string[];
  edges: string[];
  paging: Map<string, P | undefined>; // the paging before the step, per key it changed
}

/** The undo stack: the last `limit` steps. */
export class History<P> {
  private readonly steps: Step<P>[] = [];
  constructor(private readonly limit: number = 100) {}

  push(step: Step<P>): void {
    this.steps.push(step);
    if (this.steps.length > this.limit) this.steps.shift();
  }

  pop(): Step<P> | undefined {
    return this.steps.pop();
  }

  get size(): number {
    return this.steps.length;
  }

  clear(): void {
    this.steps.length = 0;
  }
}

export interface Point {
  x: number;
  y: number;
}

/** Starting places for `count` new neighbours around `center`, on rings outside the ones
 * already there (`already` neighbours placed before), so new nodes never land on old ones. */
export function ringPositions(center: Point, already: number, count: number, gap = 70): Point[] {
  const places: Point[] = [];
  for (let i = 0; i < count; i += 1) {
    const index = already + i;
    // ring r holds 8·r places: 8 on the first, 16 on the second, ...
    let ring = 1;
    let first = 0;
    while (index >= first + 8 * ring) {
      first += 8 * ring;
      ring += 1;
    }
    const angle = (2 * Math.PI * (index - first)) / (8 * ring) + ring * 0.3;
    places.push({ x: center.x + ring * gap * Math.cos(angle), y: center.y + ring * gap * Math.sin(angle) });
  }
  return places;
}

/** A date range from two date inputs: null ends are open; a reversed range is an error. */
export function timeRange(since: string, until: string): { since: string | null; until: string | null } {
  const from = since.trim() || null;
  const to = until.trim() || null;
  if (from && to && from > to) throw new RangeError("the start date is after the end date");
  return { since: from, until: to };
}

/** Money as the panels show it. */
export function money(amount: number): string {
  return NUMBER.format(Math.round(amount * 100) / 100);
}

/** The first place on the rings around `center` at least `gap` away from every taken place
 * (a new node beside the one it is tied to, clear of the nodes already shown). */
export function freeSpot(center: Point, taken: readonly Point[], gap = 45, tries = 400): Point {
  const clear = (p: Point) => taken.every((t) => Math.hypot(t.x - p.x, t.y - p.y) >= gap);
  const candidates = ringPositions(center, 0, tries, 60);
  return candidates.find(clear) ?? candidates[candidates.length - 1]!;
}
