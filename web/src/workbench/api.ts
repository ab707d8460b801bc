/** GraphQL over HTTP to this service's /graphql, with the tab's key as a bearer token. */

import { storedKey } from "./session";

/** A refused or failed operation: the first error's code (extensions.code) and message. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly status: number,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

interface GraphQLAnswer<T> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** Run one operation; its data, or an ApiError. `key` overrides the tab's key (sign-in). */
export async function request<T>(
  document: string,
  variables: Record<string, unknown> = {},
  key: string | null = storedKey(),
): Promise<T> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: "application/graphql-response+json, application/json",
  };
  if (key) headers.authorization = `Bearer ${key}`;
  let response: Response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers,
      body: JSON.stringify({ query: document, variables }),
      credentials: "omit",
      cache: "no-store",
    });
  } catch {
    throw new ApiError("the service cannot be reached", "NETWORK_ERROR", 0);
  }
  let answer: GraphQLAnswer<T>;
  try {
    answer = (await response.json()) as GraphQLAnswer<T>;
  } catch {
    throw new ApiError(`the service answered ${response.status}`, "BAD_RESPONSE", response.status);
  }
  const first = answer.errors?.[0];
  if (first) {
    // a server without the workbench's operations fails validation, which carries no code
    const missing = first.message.startsWith("Cannot query field") ? "NOT_OFFERED" : "ERROR";
    const code = first.extensions?.code ?? (response.status === 401 ? "UNAUTHENTICATED" : missing);
    throw new ApiError(first.message, code, response.status);
  }
  if (answer.data === undefined || answer.data === null) {
    throw new ApiError(`the service answered ${response.status}`, "BAD_RESPONSE", response.status);
  }
  return answer.data;
}

/** Words for an analyst: what went wrong and what to do. */
export function explain(error: unknown): string {
  if (!(error instanceof ApiError)) return error instanceof Error ? error.message : String(error);
  switch (error.code) {
    case "UNAUTHENTICATED":
      return "This API key is not valid (unknown or revoked).";
    case "FORBIDDEN":
      return "This key's role may not use the workbench: it needs an analyst or admin key.";
    case "RATE_LIMITED":
      return "Too many requests: wait a moment and try again.";
    case "NOT_OFFERED":
      return `This service does not offer the workbench's operations yet (${error.message}).`;
    default:
      return `${error.message} (${error.code})`;
  }
}
