/** The analyst's API key for this tab only: sessionStorage, never a URL, a cookie or
 * localStorage, gone at sign-out or when the tab closes. */

export const KEY_ITEM = "vouchgraph.apiKey";
const NAME_ITEM = "vouchgraph.analystName";

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY_ITEM);
}

export function keepKey(key: string): void {
  sessionStorage.setItem(KEY_ITEM, key);
}

export function forgetKey(): void {
  sessionStorage.removeItem(KEY_ITEM);
  sessionStorage.removeItem(NAME_ITEM);
}

/** The name an analyst takes alerts under (the API does not tell a key's name). */
export function analystName(): string {
  return sessionStorage.getItem(NAME_ITEM) ?? "";
}

export function keepAnalystName(name: string): void {
  sessionStorage.setItem(NAME_ITEM, name);
}
