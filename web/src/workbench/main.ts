/** The workbench page: sign-in, the Explore and Cases tabs, and the deep link
 * /analyst/customer/<id>. */

import { ApiError, explain, request } from "./api";
import { CaseQueue } from "./cases";
import { byId } from "./dom";
import { Explorer } from "./explore";
import { SIGN_IN_CHECK } from "./operations";
import { forgetKey, keepAnalystName, keepKey, storedKey } from "./session";

const DEEP_LINK = /^\/analyst\/customer\/([^/]+)\/?$/;

function linkedCustomer(): string | null {
  const match = DEEP_LINK.exec(location.pathname);
  return match ? decodeURIComponent(match[1]!) : null;
}

class Workbench {
  private readonly explorer: Explorer;
  private readonly cases: CaseQueue;
  private readonly signIn = byId("sign-in", HTMLElement);
  private readonly explore = byId("explore", HTMLElement);
  private readonly casesSection = byId("cases", HTMLElement);
  private readonly tabs = byId("tabs", HTMLElement);
  private readonly signOutButton = byId("sign-out", HTMLButtonElement);
  private readonly error = byId("sign-in-error", HTMLElement);

  constructor() {
    const unauthenticated = (error: unknown): boolean => {
      if (!(error instanceof ApiError) || error.code !== "UNAUTHENTICATED") return false;
      this.signOut("Your key is no longer accepted: sign in again.");
      return true;
    };
    this.explorer = new Explorer((id) => this.openCustomer(id), unauthenticated);
    this.cases = new CaseQueue((id) => this.openCustomer(id), unauthenticated);
    byId("sign-in-form", HTMLFormElement).addEventListener("submit", (event) => {
      event.preventDefault();
      void this.submit();
    });
    this.signOutButton.addEventListener("click", () => this.signOut(""));
    byId("tab-explore", HTMLButtonElement).addEventListener("click", () => this.show("explore"));
    byId("tab-cases", HTMLButtonElement).addEventListener("click", () => this.show("cases"));
    window.addEventListener("popstate", () => {
      const id = linkedCustomer();
      if (id !== null && storedKey()) void this.explorer.open(id);
    });
    if (storedKey()) this.enter();
  }

  private async submit(): Promise<void> {
    const keyInput = byId("api-key", HTMLInputElement);
    const key = keyInput.value.trim();
    this.error.textContent = "";
    if (!key) {
      this.error.textContent = "Enter an API key.";
      return;
    }
    try {
      await request(SIGN_IN_CHECK, {}, key);
    } catch (error) {
      // the key is checked before anything is parsed: past a 401 or 403 the key is good,
      // even where this server does not yet offer the alert queue
      const knownKey = error instanceof ApiError && (error.status === 200 || error.status === 400)
        && error.code !== "UNAUTHENTICATED" && error.code !== "FORBIDDEN";
      if (!knownKey) {
        this.error.textContent = explain(error);
        return;
      }
    }
    keyInput.value = "";
    keepKey(key);
    const name = byId("analyst-name", HTMLInputElement).value.trim();
    if (name) keepAnalystName(name);
    this.enter();
  }

  private enter(): void {
    this.signIn.hidden = true;
    this.tabs.hidden = false;
    this.signOutButton.hidden = false;
    this.show("explore");
    const id = linkedCustomer();
    if (id !== null) void this.explorer.open(id);
  }

  signOut(message: string): void {
    forgetKey();
    this.explorer.reset();
    this.cases.clear();
    this.explore.hidden = true;
    this.casesSection.hidden = true;
    this.tabs.hidden = true;
    this.signOutButton.hidden = true;
    this.signIn.hidden = false;
    this.error.textContent = message;
    byId("api-key", HTMLInputElement).focus();
  }

  private show(tab: "explore" | "cases"): void {
    this.explore.hidden = tab !== "explore";
    this.casesSection.hidden = tab !== "cases";
    byId("tab-explore", HTMLButtonElement).setAttribute("aria-pressed", String(tab === "explore"));
    byId("tab-cases", HTMLButtonElement).setAttribute("aria-pressed", String(tab === "cases"));
    if (tab === "cases") void this.cases.load();
    else this.explorer.graph.cy.resize();
  }

  private openCustomer(id: string): void {
    const url = `/analyst/customer/${encodeURIComponent(id)}`;
    if (location.pathname !== url) history.pushState(null, "", url);
    this.show("explore");
    void this.explorer.open(id);
  }

  /** What a test or benchmark reads of the view (ids and places, no personal data). */
  view(): { nodes: string[]; edges: string[]; position: (id: string) => { x: number; y: number } } {
    const cy = this.explorer.graph.cy;
    return {
      nodes: cy.nodes().map((n) => n.id()),
      edges: cy.edges().map((e) => e.id()),
      position: (id) => ({ ...cy.getElementById(id).position() }),
    };
  }
}

declare global {
  interface Window {
    workbench?: Workbench;
  }
}

window.workbench = new Workbench();
