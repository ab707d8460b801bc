/** The neighbourhood on screen: cytoscape, nodes by risk band and known fraud, edges by
 * relation type. New nodes take free places beside the node they came from and the nodes
 * already there keep theirs; fcose (incremental, from the current places) tidies on demand. */

import cytoscape from "cytoscape";
import fcose from "cytoscape-fcose";

import { edgeLabel, freeSpot, ringPositions } from "./model";
import type { GraphEdge, GraphNode } from "./operations";

cytoscape.use(fcose);


const STYLE: cytoscape.StylesheetJson = [
  {
    selector: "node",
    style: {
      label: "data(label)",
      "text-valign": "bottom",
      "text-margin-y": 4,
      "font-size": 10,
      "min-zoomed-font-size": 7,
      width: 26,
      height: 26,
      "background-color": "#9e9e9e",
      "border-width": 1,
      "border-color": "#424242",
    },
  },
  { selector: "node.band-LOW", style: { "background-color": "#43a047" } },
  { selector: "node.band-MEDIUM", style: { "background-color": "#fb8c00" } },
  { selector: "node.band-HIGH", style: { "background-color": "#e53935" } },
  { selector: "node.band-UNSCORED", style: { "background-color": "#bdbdbd" } },
  {
    selector: "node.fraud",
    style: { shape: "diamond", "border-width": 4, "border-color": "#000", width: 32, height: 32 },
  },
  { selector: "node.center", style: { width: 38, height: 38, "font-weight": "bold" } },
  {
    selector: "edge",
    style: {
      width: 2,
      "curve-style": "bezier",
      "line-color": "#90a4ae",
      label: "data(label)",
      "font-size": 8,
      "min-zoomed-font-size": 9,
      "text-rotation": "autorotate",
      color: "#455a64",
    },
  },
  { selector: "edge.type-KIN", style: { "line-color": "#1e88e5", width: 3 } },
  { selector: "edge.type-SOCIAL", style: { "line-color": "#8e24aa", "line-style": "dotted" } },
  {
    selector: "edge.type-TRANSFER",
    style: { "line-color": "#f4511e", "target-arrow-shape": "triangle", "target-arrow-color": "#f4511e" },
  },
  {
    selector: "edge.type-VOUCH",
    style: { "line-color": "#2e7d32", "target-arrow-shape": "vee", "target-arrow-color": "#2e7d32" },
  },
  { selector: "edge.type-SHARED_PHONE", style: { "line-color": "#6d4c41", "line-style": "dashed" } },
  { selector: "edge.type-SHARED_DEVICE", style: { "line-color": "#546e7a", "line-style": "dashed" } },
  { selector: ".faded", style: { opacity: 0.2 } },
  { selector: "edge.path, edge.ring", style: { width: 6, "line-color": "#d81b60", "z-index": 10 } },
  {
    selector: "node.path, node.ring",
    style: { "overlay-color": "#d81b60", "overlay-opacity": 0.25, "overlay-padding": 6 },
  },
  {
    selector: "node:selected",
    style: { "overlay-color": "#1565c0", "overlay-opacity": 0.3, "overlay-padding": 8 },
  },
];

export interface Added {
  nodes: string[];
  edges: string[];
}

export class GraphView {
  readonly cy: cytoscape.Core;
  private readonly nodes = new Map<string, GraphNode>();
  private readonly edges = new Map<string, GraphEdge>();

  constructor(container: HTMLElement, onSelect: (id: string | null) => void) {
    this.cy = cytoscape({
      container,
      style: STYLE,
      minZoom: 0.05,
      maxZoom: 4,
      textureOnViewport: true,
      hideEdgesOnViewport: true,
    });
    this.cy.on("tap", "node", (event) => onSelect(event.target.id() as string));
    this.cy.on("tap", (event) => {
      if (event.target === this.cy) onSelect(null);
    });
  }

  has(id: string): boolean {
    return this.nodes.has(id);
  }

  get size(): number {
    return this.nodes.size;
  }

  node(id: string): GraphNode | undefined {
    return this.nodes.get(id);
  }

  /** What the view shows, for the CSV table. */
  table(): { nodes: GraphNode[]; edges: GraphEdge[] } {
    return { nodes: [...this.nodes.values()], edges: [...this.edges.values()] };
  }

  /** Add what is not there yet (a node seen again gets its newer values), new nodes placed
   * around `around`; nothing already shown moves. */
  add(nodes: readonly GraphNode[], edges: readonly GraphEdge[], around: string | null): Added {
    const added: Added = { nodes: [], edges: [] };
    const fresh = nodes.filter((n) => !this.nodes.has(n.id));
    for (const n of nodes) {
      if (this.nodes.has(n.id)) {
        this.nodes.set(n.id, n);
        this.cy.getElementById(n.id).data("label", n.id);
      }
    }
    const anchor = around !== null && this.has(around) ? this.cy.getElementById(around) : null;
    const center = anchor ? anchor.position() : { x: 0, y: 0 };
    const star = edges.every((e) => e.source === around || e.target === around);
    // a page of the anchor's neighbours goes on the rings around it, outside those already
    // there; anything else (a path, a ring) goes beside a node it is tied to, clear of the rest
    const places = star ? ringPositions(center, anchor ? anchor.neighborhood("node").length : 0, fresh.length) : [];
    const taken = star ? [] : this.cy.nodes().map((n) => ({ ...n.position() }));
    this.cy.batch(() => {
      fresh.forEach((n, i) => {
        let place = n.id === around ? { ...center } : places[i];
        if (place === undefined) {
          place = freeSpot(this.placedNeighbour(n.id, edges) ?? center, taken);
          taken.push(place);
        }
        this.nodes.set(n.id, n);
        this.cy.add({ group: "nodes", data: { id: n.id, label: n.id }, position: place,
          classes: nodeClasses(n) });
        added.nodes.push(n.id);
      });
      for (const e of edges) {
        if (this.edges.has(e.id) || !this.nodes.has(e.source) || !this.nodes.has(e.target)) continue;
        this.edges.set(e.id, e);
        this.cy.add({ group: "edges", data: { id: e.id, source: e.source, target: e.target,
          label: edgeLabel(e) }, classes: `type-${e.type}` });
        added.edges.push(e.id);
      }
    });
    if (anchor === null) this.cy.fit(undefined, 40);
    return added;
  }

  /** Where a node already shown that `id` is tied to stands (the first in `edges`). */
  private placedNeighbour(id: string, edges: readonly GraphEdge[]): { x: number; y: number } | null {
    for (const e of edges) {
      const other = e.source === id ? e.target : e.target === id ? e.source : null;
      if (other !== null && this.nodes.has(other)) return { ...this.cy.getElementById(other).position() };
    }
    return null;
  }

  /** Tidy the view: fcose from the current places (randomize: false), so the picture keeps its
   * shape while overlaps open up. */
  tidy(): void {
    const options = {
      name: "fcose",
      randomize: false,
      animate: false,
      fit: false,
      quality: "default",
      nodeDimensionsIncludeLabels: false,
      idealEdgeLength: 90,
      nodeRepulsion: 8000,
      numIter: 1500,
    } as cytoscape.LayoutOptions;
    this.cy.layout(options).run();
  }

  /** Take away what a step added (undo). */
  remove(nodes: readonly string[], edges: readonly string[]): void {
    this.cy.batch(() => {
      for (const id of edges) {
        this.cy.getElementById(id).remove();
        this.edges.delete(id);
      }
      for (const id of nodes) {
        const node = this.cy.getElementById(id);
        node.connectedEdges().forEach((e) => {
          this.edges.delete(e.id());
        });
        node.remove();
        this.nodes.delete(id);
      }
    });
  }

  clear(): void {
    this.cy.elements().remove();
    this.nodes.clear();
    this.edges.clear();
  }

  markCenter(id: string): void {
    this.cy.nodes(".center").removeClass("center");
    this.cy.getElementById(id).addClass("center");
  }

  select(id: string | null): void {
    this.cy.nodes(":selected").unselect();
    if (id !== null) this.cy.getElementById(id).select();
  }

  /** Highlight a path or a ring (class `kind`), fading the rest; null ids clear it. */
  highlight(kind: "path" | "ring", nodes: readonly string[] | null, edges: readonly string[] = []): void {
    this.cy.elements().removeClass("path ring faded");
    if (nodes === null) return;
    const lit = this.cy.collection();
    for (const id of [...nodes, ...edges]) lit.merge(this.cy.getElementById(id));
    this.cy.elements().difference(lit).addClass("faded");
    lit.addClass(kind);
  }

  fit(): void {
    this.cy.fit(undefined, 40);
  }

  png(): Blob {
    return this.cy.png({ output: "blob", full: true, bg: "#ffffff", scale: 2, maxWidth: 4000 });
  }
}

function nodeClasses(n: GraphNode): string {
  return `band-${n.riskBand}${n.knownFraud ? " fraud" : ""}`;
}
