/** Explore: search a customer, their neighbourhood as a graph, expansion by relation type in
 * pages with the true counts, undo, a time range, the path between two customers, the rings
 * around one, the side panel and the exports. */

import { explain, request } from "./api";
import { button, byId, download, h } from "./dom";
import { GraphView } from "./graph";
import {
  advance,
  describePath,
  History,
  MAX_VISIBLE_NODES,
  money,
  PAGE_SIZE,
  type Paging,
  pageLabel,
  pagingKey,
  RELATION_LABELS,
  timeRange,
  viewCsv,
} from "./model";
import {
  CUSTOMER_PATH,
  CUSTOMER_PROFILE,
  type CustomerPathData,
  type CustomerProfileData,
  NEIGHBOURS,
  type NeighboursData,
  RELATION_TYPES,
  type RelationCount,
  type RelationType,
  RINGS,
  type RingsData,
  SEARCH_CUSTOMERS,
  type SearchCustomersData,
} from "./operations";
import { profileView } from "./panel";

export class Explorer {
  readonly graph: GraphView;
  private center: string | null = null;
  private selected: string | null = null;
  private range: { since: string | null; until: string | null } = { since: null, until: null };
  private readonly paging = new Map<string, Paging>();
  private readonly counts = new Map<string, RelationCount[]>();
  private readonly history = new History<Paging>();
  private readonly status = byId("explore-status", HTMLElement);
  private readonly results = byId("search-results", HTMLUListElement);
  private readonly undoButton = byId("undo", HTMLButtonElement);
  private readonly expandPanel = byId("expand-panel", HTMLElement);
  private readonly pathPanel = byId("path-panel", HTMLElement);
  private readonly ringPanel = byId("ring-panel", HTMLElement);
  private readonly profilePanel = byId("profile-panel", HTMLElement);
  private profileRequest = 0;

  constructor(
    private readonly onOpen: (id: string) => void,
    private readonly onUnauthenticated: (error: unknown) => boolean,
  ) {
    this.graph = new GraphView(byId("graph", HTMLDivElement), (id) => this.select(id));
    byId("search-form", HTMLFormElement).addEventListener("submit", (event) => {
      event.preventDefault();
      void this.search(byId("search-id", HTMLInputElement).value.trim());
    });
    byId("range-form", HTMLFormElement).addEventListener("submit", (event) => {
      event.preventDefault();
      this.applyRange();
    });
    byId("path-form", HTMLFormElement).addEventListener("submit", (event) => {
      event.preventDefault();
      void this.path(byId("path-to", HTMLInputElement).value.trim());
    });
    this.undoButton.addEventListener("click", () => this.undo());
    byId("fit", HTMLButtonElement).addEventListener("click", () => this.graph.fit());
    byId("tidy", HTMLButtonElement).addEventListener("click", () => this.graph.tidy());
    byId("export-png", HTMLButtonElement).addEventListener("click", () => this.exportPng());
    byId("export-csv", HTMLButtonElement).addEventListener("click", () => this.exportCsv());
  }

  private fail(error: unknown): void {
    if (!this.onUnauthenticated(error)) this.say(explain(error), true);
  }

  private say(text: string, error = false): void {
    this.status.textContent = text;
    this.status.classList.toggle("error", error);
  }

  async search(prefix: string): Promise<void> {
    this.results.replaceChildren();
    if (!prefix) return;
    try {
      const data = await request<SearchCustomersData>(SEARCH_CUSTOMERS, { idPrefix: prefix, first: 10 });
      const found = data.searchCustomers;
      this.say(found.length ? `${found.length} customer(s) whose id starts with ${prefix}` :
        `No customer's id starts with ${prefix}.`);
      this.results.replaceChildren(...found.map((n) => h("li", {},
        button(`${n.id} · ${n.displayName} · ${n.riskBand}${n.knownFraud ? " · known fraud" : ""}`,
          () => this.onOpen(n.id), { class: "result", "data-customer": n.id }))));
    } catch (error) {
      this.fail(error);
    }
  }

  /** Start a new view on `id` (the URL already says which). */
  async open(id: string): Promise<void> {
    this.results.replaceChildren();
    this.graph.clear();
    this.paging.clear();
    this.counts.clear();
    this.history.clear();
    this.undoButton.disabled = true;
    this.pathPanel.replaceChildren();
    this.ringPanel.replaceChildren();
    this.center = id;
    this.selected = id;
    this.expandPanel.replaceChildren(h("h2", { id: "customer-title" }, `Customer ${id}`));
    this.say(`Loading ${id}…`);
    this.showProfile(id);
    const page = await this.page(id, null, 0);
    if (page === null) return;
    this.graph.markCenter(id);
    this.graph.select(id);
    this.graph.fit();
    this.renderExpand();
  }

  /** One page of `id`'s neighbours (of `type`, or all) from `offset`, added to the view. */
  private async page(id: string, type: RelationType | null, offset: number): Promise<boolean | null> {
    const key = pagingKey(id, type);
    try {
      const data = await request<NeighboursData>(NEIGHBOURS, { customerId: id, type, first: PAGE_SIZE,
        offset, ...this.range });
      const page = data.neighbours;
      const added = this.graph.add([page.center, ...page.nodes], page.edges, id);
      const before = this.paging.get(key);
      const changed = new Map<string, Paging | undefined>([[key, before]]);
      this.paging.set(key, advance(page.offset, page.nodes.length, page.total, page.nextOffset));
      this.counts.set(id, page.counts);
      this.history.push({ label: `${id} ${type ?? "all"}`, nodes: added.nodes, edges: added.edges,
        paging: changed });
      this.undoButton.disabled = false;
      this.say(`${this.graph.size} customers in view.`);
      return true;
    } catch (error) {
      this.fail(error);
      return null;
    }
  }

  async expand(id: string, type: RelationType | null): Promise<void> {
    if (this.graph.size >= MAX_VISIBLE_NODES) {
      this.say(`The view holds ${this.graph.size} customers: undo or narrow the time range first.`, true);
      return;
    }
    const paging = this.paging.get(pagingKey(id, type));
    if (paging && paging.nextOffset === null) return;
    await this.page(id, type, paging?.nextOffset ?? 0);
    this.renderExpand();
  }

  undo(): void {
    const step = this.history.pop();
    if (!step) return;
    const keep = step.nodes.filter((n) => n !== this.center);
    this.graph.remove(keep, step.edges);
    for (const [key, before] of step.paging) {
      if (before === undefined) this.paging.delete(key);
      else this.paging.set(key, before);
    }
    this.undoButton.disabled = this.history.size === 0;
    if (this.selected !== null && !this.graph.has(this.selected)) this.select(this.center);
    else this.renderExpand();
    this.say(`Undone: ${step.label}. ${this.graph.size} customers in view.`);
  }

  private select(id: string | null): void {
    this.selected = id;
    this.graph.select(id);
    this.renderExpand();
    if (id !== null) this.showProfile(id);
  }

  private renderExpand(): void {
    const id = this.selected;
    if (id === null) {
      this.expandPanel.replaceChildren(h("p", { class: "muted" }, "Pick a customer on the graph."));
      return;
    }
    const counts = this.counts.get(id);
    const rows: HTMLElement[] = [];
    if (counts === undefined) {
      rows.push(h("li", {}, button("Expand", () => void this.expand(id, null), { id: "expand-all" })));
    } else {
      const all = this.paging.get(pagingKey(id, null));
      const total = counts.reduce((sum, c) => sum + c.total, 0);
      rows.push(this.expandRow(id, null, "all relations", all, total));
      for (const type of RELATION_TYPES) {
        const count = counts.find((c) => c.type === type)?.total ?? 0;
        if (count > 0) rows.push(this.expandRow(id, type, RELATION_LABELS[type], this.paging.get(pagingKey(id, type)), count));
      }
    }
    const title = id === this.center ? h("h2", { id: "customer-title" }, `Customer ${id}`) : h("h2", {}, id);
    this.expandPanel.replaceChildren(title,
      h("ul", { class: "expand", id: "expand-list" }, ...rows),
      h("p", {}, button("Rings around this customer", () => void this.rings(id), { id: "show-rings" }),
        " ", id !== this.center ? button("Open as centre", () => this.onOpen(id), { id: "open-center" }) : ""));
  }

  private expandRow(id: string, type: RelationType | null, name: string, paging: Paging | undefined,
    total: number): HTMLElement {
    const shown = paging?.shown ?? 0;
    const known = paging?.total ?? total;
    const label = pageLabel(shown, known);
    const more = paging === undefined || paging.nextOffset !== null;
    return h("li", { "data-type": type ?? "ALL" }, h("span", { class: "relation" }, `${name}: `),
      more ? button(label, () => void this.expand(id, type), { class: "more" }) : h("span", {}, label));
  }

  private showProfile(id: string): void {
    const ticket = (this.profileRequest += 1);
    this.profilePanel.replaceChildren(h("p", { class: "muted" }, `Loading ${id}…`));
    request<CustomerProfileData>(CUSTOMER_PROFILE, { id }).then((data) => {
      if (ticket !== this.profileRequest) return;
      const profile = data.customerProfile;
      this.profilePanel.replaceChildren(profile === null
        ? h("p", { class: "error" }, `No customer ${id}.`)
        : profileView(profile, (other) => this.onOpen(other)));
    }, (error: unknown) => {
      if (ticket !== this.profileRequest || this.onUnauthenticated(error)) return;
      this.profilePanel.replaceChildren(h("p", { class: "error" }, explain(error)));
    });
  }

  private applyRange(): void {
    try {
      this.range = timeRange(byId("since", HTMLInputElement).value, byId("until", HTMLInputElement).value);
    } catch (error) {
      this.say(explain(error), true);
      return;
    }
    if (this.center !== null) void this.open(this.center);
  }

  async path(to: string): Promise<void> {
    const from = this.selected ?? this.center;
    if (from === null || !to) {
      this.say("Open a customer, then name the other end of the path.", true);
      return;
    }
    try {
      const data = await request<CustomerPathData>(CUSTOMER_PATH, { fromId: from, toId: to, maxHops: 4,
        ...this.range });
      const path = data.customerPath;
      if (path === null) {
        this.graph.highlight("path", null);
        this.pathPanel.replaceChildren(h("p", { id: "path-result" }, `No path from ${from} to ${to} within 4 hops.`));
        return;
      }
      const added = this.graph.add(path.nodes, path.edges, from);
      this.history.push({ label: `path ${from}–${to}`, nodes: added.nodes, edges: added.edges, paging: new Map() });
      this.undoButton.disabled = false;
      this.graph.highlight("path", path.nodes.map((n) => n.id), path.edges.map((e) => e.id));
      this.pathPanel.replaceChildren(h("h3", {}, `Path ${from} → ${to} (${path.hops} hops)`),
        h("p", { id: "path-result" }, describePath(path)),
        button("Clear highlight", () => this.graph.highlight("path", null)));
    } catch (error) {
      this.fail(error);
    }
  }

  async rings(id: string): Promise<void> {
    try {
      const data = await request<RingsData>(RINGS, { customerId: id, ...this.range });
      const rings = data.rings;
      this.ringPanel.replaceChildren(h("h3", {}, `Rings around ${id} (${rings.length})`),
        rings.length === 0 ? h("p", { class: "muted", id: "ring-none" }, "None.") :
        h("ul", { id: "ring-list" }, ...rings.map((ring) => h("li", { "data-ring": ring.id },
          `${ring.size} members, ${ring.knownFraud} with known fraud, ${money(ring.totalMoved)} moved `,
          button("Show", () => {
            const added = this.graph.add(ring.members, ring.edges, id);
            this.history.push({ label: `ring ${ring.id}`, nodes: added.nodes, edges: added.edges, paging: new Map() });
            this.undoButton.disabled = false;
            this.graph.highlight("ring", ring.members.map((m) => m.id), ring.edges.map((e) => e.id));
          }, { class: "show-ring" })))));
    } catch (error) {
      this.fail(error);
    }
  }

  private exportPng(): void {
    if (this.graph.size === 0) return;
    download(this.graph.png(), `vouchgraph-${this.center ?? "view"}.png`);
  }

  private exportCsv(): void {
    const { nodes, edges } = this.graph.table();
    download(new Blob([viewCsv(nodes, edges)], { type: "text/csv" }), `vouchgraph-${this.center ?? "view"}.csv`);
  }

  reset(): void {
    this.center = null;
    this.selected = null;
    this.graph.clear();
    this.paging.clear();
    this.counts.clear();
    this.history.clear();
    for (const panel of [this.expandPanel, this.pathPanel, this.ringPanel, this.profilePanel, this.results]) {
      panel.replaceChildren();
    }
    this.say("");
  }
}
