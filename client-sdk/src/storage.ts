/** Where the visitor's token is kept: `localStorage` in a browser, memory in Node, or your own. */
export interface TokenStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export function memoryStorage(): TokenStorage {
  const items = new Map<string, string>();
  return {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
    removeItem: (key) => void items.delete(key),
  };
}

/** `localStorage` when there is a usable one (not in Node, not in a locked-down iframe). */
export function defaultStorage(): TokenStorage {
  try {
    const candidate = (globalThis as { localStorage?: TokenStorage }).localStorage;
    if (candidate) {
      const probe = '__parley_probe__';
      candidate.setItem(probe, '1');
      candidate.removeItem(probe);
      return candidate;
    }
  } catch {
    // Storage disabled (private mode, sandboxed iframe): fall back to memory.
  }
  return memoryStorage();
}
