/** The alert queue: open, in progress, closed; take an alert, add a note, close it with an
 * outcome. */

import { explain, request } from "./api";
import { button, byId, h, when } from "./dom";
import {
  ALERTS,
  type Alert,
  type AlertOutcome,
  type AlertState,
  type AlertsData,
  CLOSE_ALERT,
  type CloseAlertData,
  UPDATE_ALERT,
  type UpdateAlertData,
} from "./operations";
import { analystName, keepAnalystName } from "./session";

const QUEUE_PAGE = 50;

export class CaseQueue {
  private alerts: Alert[] = [];
  private nextOffset: number | null = null;
  private selected: string | null = null;
  private readonly list = byId("alert-list", HTMLTableSectionElement);
  private readonly detail = byId("alert-detail", HTMLElement);
  private readonly filter = byId("alert-state", HTMLSelectElement);
  private readonly status = byId("cases-status", HTMLElement);
  private readonly more = byId("alerts-more", HTMLButtonElement);

  constructor(
    private readonly openCustomer: (id: string) => void,
    private readonly onUnauthenticated: (error: unknown) => boolean,
  ) {
    this.filter.addEventListener("change", () => void this.load());
    this.more.addEventListener("click", () => void this.load(true));
  }

  async load(append = false): Promise<void> {
    const state = (this.filter.value || null) as AlertState | null;
    const offset = append && this.nextOffset !== null ? this.nextOffset : 0;
    this.status.textContent = "Loading alerts…";
    try {
      const data = await request<AlertsData>(ALERTS, { state, first: QUEUE_PAGE, offset });
      const page = data.alerts;
      this.alerts = append ? [...this.alerts, ...page.alerts] : page.alerts;
      this.nextOffset = page.nextOffset;
      this.status.textContent = `${this.alerts.length} of ${page.total} alerts`;
      this.more.hidden = page.nextOffset === null;
      this.renderList();
      this.renderDetail();
    } catch (error) {
      if (this.onUnauthenticated(error)) return;
      this.status.textContent = explain(error);
    }
  }

  clear(): void {
    this.alerts = [];
    this.selected = null;
    this.list.replaceChildren();
    this.detail.replaceChildren();
    this.status.textContent = "";
  }

  private renderList(): void {
    this.list.replaceChildren(...this.alerts.map((a) => {
      const row = h("tr", { "data-alert": a.id, class: a.id === this.selected ? "chosen" : "" },
        h("td", {}, a.id), h("td", {}, a.kind), h("td", {}, a.customerId),
        h("td", {}, h("span", { class: `state state-${a.state}` }, a.state)),
        h("td", {}, a.assignee ?? "—"), h("td", {}, a.summary), h("td", {}, when(a.updatedAt)));
      row.addEventListener("click", () => {
        this.selected = a.id;
        this.renderList();
        this.renderDetail();
      });
      return row;
    }));
  }

  private renderDetail(): void {
    const alert = this.alerts.find((a) => a.id === this.selected);
    if (!alert) {
      this.detail.replaceChildren(h("p", { class: "muted" }, "Pick an alert from the queue."));
      return;
    }
    let evidence = alert.evidence;
    try {
      evidence = JSON.stringify(JSON.parse(alert.evidence), null, 2);
    } catch {
      // shown as it came
    }
    const name = h("input", { id: "alert-assignee", value: alert.assignee ?? analystName(),
      autocomplete: "off" });
    const note = h("textarea", { id: "alert-note", rows: 3 });
    const outcome = h("select", { id: "alert-outcome" },
      h("option", { value: "NO_ISSUE" }, "no issue"),
      h("option", { value: "FRAUD_CONFIRMED" }, "fraud confirmed"));
    const message = h("p", { id: "alert-message", role: "status" });
    const open = alert.state !== "CLOSED";
    this.detail.replaceChildren(
      h("h3", {}, `${alert.id} · ${alert.kind}`),
      h("p", {}, alert.summary),
      h("dl", { class: "facts" },
        h("dt", {}, "customer"), h("dd", {}, button(alert.customerId, () => this.openCustomer(alert.customerId),
          { class: "linkish", id: "alert-open-customer" })),
        h("dt", {}, "state"), h("dd", { id: "alert-state-value" }, alert.state),
        h("dt", {}, "assignee"), h("dd", {}, alert.assignee ?? "—"),
        h("dt", {}, "outcome"), h("dd", { id: "alert-outcome-value" }, alert.outcome ?? "—"),
        h("dt", {}, "created"), h("dd", {}, when(alert.createdAt)),
        h("dt", {}, "updated"), h("dd", {}, when(alert.updatedAt))),
      h("h4", {}, "Evidence"), h("pre", { class: "evidence" }, evidence),
      h("h4", {}, `Notes (${alert.notes.length})`),
      h("ol", { class: "notes" }, ...alert.notes.map((n) =>
        h("li", {}, h("time", {}, when(n.at)), ` ${n.author}: `, n.text))),
      open
        ? h("div", { class: "actions" },
            h("label", {}, "Assign to ", name),
            button("Take", () => void this.act(alert, message, { state: "IN_PROGRESS",
              assignee: this.nameFrom(name) }), { id: "alert-take" }),
            h("label", { class: "block" }, "Note", note),
            button("Add note", () => void this.note(alert, note, message), { id: "alert-add-note" }),
            h("label", {}, "Outcome ", outcome),
            button("Close with this note", () => void this.close(alert, outcome.value as AlertOutcome,
              note, message), { id: "alert-close" }))
        : h("p", { class: "muted" }, "This alert is closed."),
      message,
    );
  }

  private nameFrom(input: HTMLInputElement): string | null {
    const name = input.value.trim();
    if (name) keepAnalystName(name);
    return name || null;
  }

  private async note(alert: Alert, note: HTMLTextAreaElement, message: HTMLElement): Promise<void> {
    const text = note.value.trim();
    if (!text) {
      message.textContent = "Write a note first.";
      return;
    }
    await this.act(alert, message, { note: text });
  }

  private async close(alert: Alert, outcome: AlertOutcome, note: HTMLTextAreaElement,
    message: HTMLElement): Promise<void> {
    const text = note.value.trim();
    if (!text) {
      message.textContent = "Closing needs a note: say why.";
      return;
    }
    try {
      const data = await request<CloseAlertData>(CLOSE_ALERT, { id: alert.id, outcome, note: text });
      this.replace(data.closeAlert);
    } catch (error) {
      if (!this.onUnauthenticated(error)) message.textContent = explain(error);
    }
  }

  private async act(alert: Alert, message: HTMLElement, change: Record<string, unknown>): Promise<void> {
    try {
      const data = await request<UpdateAlertData>(UPDATE_ALERT, { id: alert.id, ...change });
      this.replace(data.updateAlert);
    } catch (error) {
      if (!this.onUnauthenticated(error)) message.textContent = explain(error);
    }
  }

  private replace(alert: Alert): void {
    this.alerts = this.alerts.map((a) => (a.id === alert.id ? alert : a));
    this.renderList();
    this.renderDetail();
  }
}
