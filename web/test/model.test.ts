import assert from "node:assert/strict";
import { test } from "node:test";

import {
  advance,
  csvCell,
  describePath,
  freeSpot,
  History,
  pageLabel,
  ringPositions,
  timeRange,
  viewCsv,
} from "../src/workbench/model";
import type { GraphEdge, GraphNode } from "../src/workbench/operations";

const node = (id: string, extra: Partial<GraphNode> = {}): GraphNode => ({
  id, displayName: `${id}***`, riskBand: "LOW", graphRisk: 0.1, knownFraud: false, status: "active", ...extra,
});
const edge = (source: string, target: string, extra: Partial<GraphEdge> = {}): GraphEdge => ({
  id: `KIN:${source}:${target}`, source, target, type: "KIN", kind: "spouse", at: null, amount: null,
  count: null, ...extra,
});

test("a page label gives the true total and how many more the next page shows", () => {
  assert.equal(pageLabel(12, 3480), "12 of 3,480 — show 20 more");
  assert.equal(pageLabel(0, 7), "0 of 7 — show 7 more");
  assert.equal(pageLabel(40, 45), "40 of 45 — show 5 more");
  assert.equal(pageLabel(45, 45), "all 45");
});

test("paging counts what arrived from the page's offset, never past the total", () => {
  assert.deepEqual(advance(20, 20, 3480, 40), { shown: 40, total: 3480, nextOffset: 40 });
  assert.deepEqual(advance(40, 5, 45, null), { shown: 45, total: 45, nextOffset: null });
});

test("a CSV cell is quoted when it must be and never starts a spreadsheet formula", () => {
  assert.equal(csvCell('say "hi", then'), '"say ""hi"", then"');
  assert.equal(csvCell("=HYPERLINK(1)"), "'=HYPERLINK(1)");
  assert.equal(csvCell(-3), "-3");
  assert.equal(csvCell(null), "");
  assert.equal(csvCell(true), "true");
});

test("the view's CSV has a row per node then per edge, all with every column", () => {
  const csv = viewCsv([node("A"), node("B", { knownFraud: true })], [edge("A", "B")]);
  const rows = csv.trimEnd().split("\r\n");
  assert.equal(rows.length, 4);
  assert.ok(rows[0]!.startsWith("element,id,display_name"));
  assert.equal(rows[2], "node,B,B***,LOW,0.1,true,active,,,,,,,");
  assert.equal(rows[3], "edge,KIN:A:B,,,,,,A,B,KIN,spouse,,,");
  for (const row of rows) assert.equal(row.split(",").length, 14);
});

test("a path reads as its relations in order", () => {
  const path = { nodes: [node("A"), node("G1"), node("B")], hops: 2,
    edges: [edge("G1", "A", { type: "SOCIAL", kind: "colleague" }), edge("G1", "B")] };
  assert.equal(describePath(path), "A —social colleague— G1 —kin spouse— B");
});

test("undo gives back the last steps first and forgets past its limit", () => {
  const history = new History<number>(2);
  for (const label of ["one", "two", "three"]) history.push({ label, nodes: [], edges: [], paging: new Map() });
  assert.equal(history.size, 2);
  assert.equal(history.pop()?.label, "three");
  assert.equal(history.pop()?.label, "two");
  assert.equal(history.pop(), undefined);
});

test("new neighbours get places of their own, outside those already taken", () => {
  const first = ringPositions({ x: 0, y: 0 }, 0, 30);
  const more = ringPositions({ x: 0, y: 0 }, 30, 20);
  const keys = new Set([...first, ...more].map((p) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`));
  assert.equal(keys.size, 50);
  const radius = (p: { x: number; y: number }) => Math.hypot(p.x, p.y);
  assert.ok(Math.min(...more.map(radius)) >= Math.max(...first.slice(0, 24).map(radius)) - 1e-9);
});

test("a time range keeps open ends open and refuses a reversed one", () => {
  assert.deepEqual(timeRange("", " "), { since: null, until: null });
  assert.deepEqual(timeRange("2026-01-01", ""), { since: "2026-01-01", until: null });
  assert.throws(() => timeRange("2026-02-01", "2026-01-01"), RangeError);
});

test("a free spot keeps clear of every node already placed", () => {
  const taken = ringPositions({ x: 0, y: 0 }, 0, 8, 60);
  const spot = freeSpot({ x: 0, y: 0 }, [{ x: 0, y: 0 }, ...taken], 45);
  for (const t of taken) assert.ok(Math.hypot(t.x - spot.x, t.y - spot.y) >= 45);
});
