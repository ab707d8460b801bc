/** GraphiQL served by the service itself: the bundle and its styles come from /static, the
 * operations go to /graphql with the tab's key (from the workbench's sign-in) unless the
 * headers editor names another. */

import "graphiql/style.css";

import { GraphiQL, type GraphiQLProps } from "graphiql";
import { createRoot } from "react-dom/client";

import { storedKey } from "../workbench/session";

const DEFAULT_QUERY = `# Every operation needs an API key: sign in at /analyst in this tab, or put
# {"Authorization": "Bearer YOUR_KEY"} in the Headers tab below.
{
  searchCustomers(idPrefix: "C00000", first: 5) { id displayName riskBand knownFraud }
}
`;

const fetcher: GraphiQLProps["fetcher"] = async (params, options) => {
  const own = (options?.headers ?? {}) as Record<string, string>;
  const named = Object.keys(own).some((name) => name.toLowerCase() === "authorization");
  const key = named ? null : storedKey();
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: "application/graphql-response+json, application/json",
    ...(key ? { authorization: `Bearer ${key}` } : {}),
    ...own,
  };
  const response = await fetch("/graphql", {
    method: "POST",
    headers,
    body: JSON.stringify(params),
    credentials: "omit",
    cache: "no-store",
  });
  return response.json();
};

const root = document.getElementById("graphiql");
if (root === null) throw new Error("#graphiql is missing from the page");
// tabs, history and headers last as long as the tab, like the key: no customer id or query
// stays behind in localStorage
createRoot(root).render(
  <GraphiQL fetcher={fetcher} defaultQuery={DEFAULT_QUERY} storage={sessionStorage} />,
);
