import { existsSync } from 'node:fs';
import path from 'node:path';
import type { RequestHandler } from 'express';

/** Encodings a build may have written next to a file, in the order they are preferred. */
const ENCODINGS = [
  { name: 'br', suffix: '.br' },
  { name: 'gzip', suffix: '.gz' },
] as const;

const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8' };

/**
 * Names this handler serves: plain segments, none starting with a dot and no percent-escapes, so
 * the name checked on disk is exactly the name sent (anything else is left to the static files).
 */
const PLAIN_PATH = /^(?:\/[A-Za-z0-9_-][A-Za-z0-9._-]*)+$/;

/**
 * Serves `file.js.br` or `file.js.gz` from `dir`, when the build wrote one and the client accepts
 * it, for a request of `file.js` (the SDK bundle): compressed once at build time, at the highest
 * level, instead of on every request or not at all. Anything else falls through to the static
 * files.
 */
export function precompressed(dir: string, maxAge: string): RequestHandler {
  const root = path.resolve(dir);
  return (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const type = TYPES[path.extname(req.path)];
    if (!type || !PLAIN_PATH.test(req.path)) return next();
    const relative = req.path.slice(1);
    // The answer depends on Accept-Encoding, whichever representation is sent.
    res.vary('Accept-Encoding');
    // Brotli first where both are accepted (browsers list gzip first, but br is smaller).
    const encoding = ENCODINGS.find(
      (e) => req.acceptsEncodings(e.name, 'identity') === e.name && existsSync(path.join(root, relative + e.suffix)),
    );
    if (!encoding) return next();
    res.setHeader('Content-Type', type);
    res.setHeader('Content-Encoding', encoding.name);
    // With `root`, `dotfiles` judges only the requested part of the path: the folder the server
    // is installed in may itself sit under a dot-folder (`~/.local/…`), which must not matter.
    res.sendFile(relative + encoding.suffix, { root, maxAge, acceptRanges: false, dotfiles: 'deny' }, (error) => {
      if (error) next(error);
    });
  };
}
