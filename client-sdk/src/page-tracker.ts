import { LIMITS, type PageViewInput } from '@parley/protocol';

interface BrowserGlobals {
  location?: { href: string };
  document?: { title?: string; referrer?: string };
  history?: { pushState: (...args: unknown[]) => void; replaceState: (...args: unknown[]) => void };
  addEventListener?: (type: string, listener: () => void) => void;
  removeEventListener?: (type: string, listener: () => void) => void;
}

const globals = globalThis as BrowserGlobals;

/** Only what the server accepts: an http(s) URL within the limit (a `file:` page reports nothing). */
function pageUrl(url: string | undefined): string | undefined {
  return url && /^https?:\/\//.test(url) && url.length <= LIMITS.activityUrlMax ? url : undefined;
}

/** The page this document is on now, or undefined outside a browser (Node). */
export function currentPage(): PageViewInput | undefined {
  const url = pageUrl(globals.location?.href);
  if (!url) return undefined;
  const title = globals.document?.title?.slice(0, LIMITS.activityTitleMax);
  const referrer = pageUrl(globals.document?.referrer);
  return { url, ...(title ? { title } : {}), ...(referrer ? { referrer } : {}) };
}

/** The URL of the page now (for events), if in a browser. */
export function currentUrl(): string | undefined {
  return pageUrl(globals.location?.href);
}

/**
 * Calls `report` when a single-page app moves to another URL: `history.pushState`/`replaceState`
 * (wrapped, and put back by the returned function) and `popstate`/`hashchange`. A change to the
 * same URL reports nothing. Does nothing outside a browser.
 */
export function watchNavigation(report: () => void): () => void {
  const { history } = globals;
  if (!history || !globals.addEventListener || !globals.location) return () => undefined;
  let last = globals.location.href;
  const changed = () => {
    const now = globals.location?.href;
    if (!now || now === last) return;
    last = now;
    report();
  };
  const originalPush = history.pushState;
  const originalReplace = history.replaceState;
  history.pushState = function (this: unknown, ...args: unknown[]) {
    originalPush.apply(this, args);
    changed();
  };
  history.replaceState = function (this: unknown, ...args: unknown[]) {
    originalReplace.apply(this, args);
    changed();
  };
  globals.addEventListener('popstate', changed);
  globals.addEventListener('hashchange', changed);
  return () => {
    history.pushState = originalPush;
    history.replaceState = originalReplace;
    globals.removeEventListener?.('popstate', changed);
    globals.removeEventListener?.('hashchange', changed);
  };
}
