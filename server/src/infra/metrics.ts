import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface WebhookQueueProbe {
  depth(): Promise<number>;
  oldestAgeSeconds(): Promise<number>;
}

/**
 * Prometheus metrics, on a registry of our own (not prom-client's global one) so that several
 * servers can run in one process, as tests do.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly connections = new Gauge({
    name: 'parley_socket_connections',
    help: 'Open Socket.IO connections by namespace',
    labelNames: ['namespace'] as const,
    registers: [this.registry],
  });

  readonly commands = new Histogram({
    name: 'parley_command_duration_seconds',
    help: 'Socket.IO command latency by namespace, command and outcome',
    labelNames: ['namespace', 'command', 'outcome'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly httpRequests = new Histogram({
    name: 'parley_http_request_duration_seconds',
    help: 'REST request latency by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly errors = new Counter({
    name: 'parley_errors_total',
    help: 'Errors answered to clients, by protocol code and transport',
    labelNames: ['code', 'transport'] as const,
    registers: [this.registry],
  });

  readonly domainEvents = new Counter({
    name: 'parley_domain_events_total',
    help: 'Domain events published, by name',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });

  readonly slowConsumerDisconnects = new Counter({
    name: 'parley_slow_consumer_disconnects_total',
    help: 'Connections closed because more than SOCKET_SEND_BUFFER_LIMIT waited for a client that did not read',
    registers: [this.registry],
  });

  readonly socketSendBufferPeak = new Gauge({
    name: 'parley_socket_send_buffer_peak_bytes',
    help: 'The most bytes that ever waited to be sent to one connection since the start',
    registers: [this.registry],
  });

  readonly clusterPendingPushes = new Gauge({
    name: 'parley_cluster_pending_pushes',
    help: 'Broadcasts waiting for Redis to carry them to the other nodes',
    registers: [this.registry],
  });

  readonly clusterPendingBytes = new Gauge({
    name: 'parley_cluster_pending_bytes',
    help: 'Encoded size of the broadcasts waiting for Redis',
    registers: [this.registry],
  });

  readonly clusterDroppedPushes = new Counter({
    name: 'parley_cluster_dropped_pushes_total',
    help: 'Broadcasts not sent to the other nodes because too many were waiting for Redis',
    registers: [this.registry],
  });

  readonly clusterStreamGaps = new Counter({
    name: 'parley_cluster_stream_gaps_total',
    help: 'Times stream entries were trimmed away (or lost by Redis) before this node read them',
    registers: [this.registry],
  });

  readonly syncReloads = new Counter({
    name: 'parley_sync_reloads_total',
    help: 'sync.reload signals sent to sockets because pushes may have been lost, by namespace and reason',
    labelNames: ['namespace', 'reason'] as const,
    registers: [this.registry],
  });

  readonly routingSweeps = new Counter({
    name: 'parley_routing_sweeps_total',
    help: 'Routing sweeps this node finished (every automatically routed project looked at), by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly workflowSweeps = new Counter({
    name: 'parley_workflow_sweeps_total',
    help: 'Workflow sweeps this node finished (due snoozes woken, stale status notes written)',
    registers: [this.registry],
  });

  readonly webhookAttempts = new Counter({
    name: 'parley_webhook_attempts_total',
    help: 'Webhook delivery attempts by result: success, http_error, timeout, network_error, refused (SSRF guard)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly webhookDeliveries = new Counter({
    name: 'parley_webhook_deliveries_total',
    help: 'Webhook deliveries that ended, by status: delivered, or failed (attempts exhausted, 410, webhook off)',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });

  readonly webhookAttemptDuration = new Histogram({
    name: 'parley_webhook_attempt_duration_seconds',
    help: 'Webhook attempt latency, request sent to answer read (or failure)',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly webhookInFlight = new Gauge({
    name: 'parley_webhook_in_flight',
    help: 'Webhook requests in flight from this node',
    registers: [this.registry],
  });

  /** Reads the outbox's queue at scrape time (set by the webhook worker). */
  private webhookQueueProbe?: WebhookQueueProbe;

  readonly webhookQueueDepth = new Gauge({
    name: 'parley_webhook_queue_depth',
    help: 'Pending webhook deliveries, all nodes (read from the database at scrape time)',
    registers: [this.registry],
    collect: async () => {
      if (this.webhookQueueProbe) this.webhookQueueDepth.set(await this.webhookQueueProbe.depth());
    },
  });

  readonly webhookOldestPending = new Gauge({
    name: 'parley_webhook_oldest_pending_seconds',
    help: 'Age of the oldest pending webhook delivery, all nodes (read from the database at scrape time)',
    registers: [this.registry],
    collect: async () => {
      if (this.webhookQueueProbe) this.webhookOldestPending.set(await this.webhookQueueProbe.oldestAgeSeconds());
    },
  });

  setWebhookQueueProbe(probe: WebhookQueueProbe): void {
    this.webhookQueueProbe = probe;
  }

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'parley_' });
  }
}
