import type { RequestHandler } from 'express';
import type { Metrics } from '../infra/metrics';

/** Latency by route pattern (not by URL, which would give every lead id its own series). */
export function requestMetrics(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const stop = metrics.httpRequests.startTimer();
    res.on('finish', () => {
      const route = req.route ? `${req.baseUrl}${String((req.route as { path: unknown }).path)}` : 'unmatched';
      stop({ method: req.method, route, status: String(res.statusCode) });
    });
    next();
  };
}
