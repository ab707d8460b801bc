/** The side panel's customer view: risk with its model version and top relations, vouching
 * history as a timeline, assessments and decisions with every score item and reason code. */

import { h, when } from "./dom";
import { RELATION_LABELS } from "./model";
import type { Assessment, CustomerProfile, Decision, Score } from "./operations";

export function profileView(profile: CustomerProfile, open: (id: string) => void): HTMLElement {
  const c = profile.customer;
  const risk = profile.risk;
  const relations = risk.topRelations.length
    ? h("table", { class: "compact", "aria-label": "top contributing relations" },
        h("thead", {}, h("tr", {}, h("th", {}, "customer"), h("th", {}, "relation"), h("th", {}, "weight"))),
        h("tbody", {}, ...risk.topRelations.map((r) =>
          h("tr", {}, h("td", {}, link(r.customerId, open)), h("td", {}, RELATION_LABELS[r.type]),
            h("td", { class: "num" }, r.weight.toFixed(3))))))
    : h("p", { class: "muted" }, "No contributing relations recorded.");
  return h("div", { class: "profile", "data-customer": c.id },
    h("h2", { id: "profile-title" }, `${c.id} · ${c.displayName}`),
    h("p", {},
      h("span", { class: `band band-${c.riskBand}` }, c.riskBand),
      c.knownFraud ? h("span", { class: "fraud-flag" }, "known fraud") : null,
      ` status ${c.status ?? "—"}, customer since ${when(profile.openedAt)}`),
    h("section", { "aria-label": "graph risk" },
      h("h3", {}, "Graph risk"),
      h("dl", { class: "facts" },
        h("dt", {}, "probability"), h("dd", { id: "risk-probability" },
          risk.probability === null ? "unscored" : risk.probability.toFixed(3)),
        h("dt", {}, "band"), h("dd", {}, risk.band),
        h("dt", {}, "model version"), h("dd", { id: "risk-model" }, risk.modelVersion ?? "none")),
      relations),
    h("section", { "aria-label": "vouching history" },
      h("h3", {}, `Vouching history (${profile.vouches.length})`),
      profile.vouches.length
        ? h("ol", { class: "timeline" }, ...profile.vouches.map((v) =>
            h("li", {}, h("time", {}, when(v.at)), " ", link(v.voucherId, open), " vouched for ",
              link(v.voucheeId, open), ` · ${v.business} · `,
              h("span", { class: `outcome outcome-${v.outcome}` }, v.outcome),
              v.decisionId ? ` · ${v.decisionId}` : "")))
        : h("p", { class: "muted" }, "No vouches given or received.")),
    h("section", { "aria-label": "assessments" },
      h("h3", {}, `Assessments (${profile.assessments.length})`),
      ...profile.assessments.map(assessmentView)),
    h("section", { "aria-label": "decisions" },
      h("h3", {}, `Decisions (${profile.decisions.length})`),
      ...profile.decisions.map(decisionView)),
  );
}

function link(id: string, open: (id: string) => void): HTMLElement {
  const a = h("a", { href: `/analyst/customer/${encodeURIComponent(id)}`, class: "customer-link" }, id);
  a.addEventListener("click", (event) => {
    event.preventDefault();
    open(id);
  });
  return a;
}

function assessmentView(a: Assessment): HTMLElement {
  return h("details", { class: "record" },
    h("summary", {}, `${when(a.createdAt)} · ${a.business} · ${a.outcome}`),
    h("p", {}, `${a.id} · policy ${a.policyVersion} · model ${a.modelVersion ?? "none"}`),
    reasons(a.reasons), scoreView(a.score));
}

function decisionView(d: Decision): HTMLElement {
  return h("details", { class: "record" },
    h("summary", {}, `${when(d.createdAt)} · ${d.business} · ${d.outcome}` +
      (d.reportedOutcome ? ` · reported ${d.reportedOutcome}` : "")),
    h("p", {}, `${d.id} (assessment ${d.assessmentId}) · policy ${d.policyVersion} · ` +
      `model ${d.modelVersion ?? "none"} · guarantors ${(d.guarantorIds ?? []).join(", ") || "none"}`),
    reasons(d.reasons), scoreView(d.score));
}

function reasons(codes: string[]): HTMLElement {
  return h("p", { class: "reasons" }, "reasons: ",
    ...(codes.length ? codes.map((c) => h("code", {}, c)) : ["none"]));
}

function scoreView(score: Score): HTMLElement {
  return h("table", { class: "compact score" },
    h("caption", {}, `score ${score.total} / threshold ${score.threshold}`),
    h("thead", {}, h("tr", {}, h("th", {}, "item"), h("th", {}, "points"), h("th", {}, "evidence"))),
    h("tbody", {}, ...score.items.map((item) =>
      h("tr", {}, h("td", {}, h("code", {}, item.code), item.guarantorId ? ` (${item.guarantorId})` : ""),
        h("td", { class: "num" }, String(item.points)),
        h("td", {}, h("pre", {}, JSON.stringify(item.evidence, null, 1)))))));
}
