import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { AgentService } from './agents/agent-service';
import { registerAgentModel } from './agents/agent-model';
import { agentRoutes } from './agents/agent-routes';
import { MemoryStandingStore, RedisStandingStore } from './agents/agent-standing';
import { registerPendingStandingModel, StandingSync } from './agents/standing-sync';
import { PasswordHasher, SCRYPT_COST } from './agents/password';
import { authRoutes } from './auth/auth-routes';
import { AuthService } from './auth/auth-service';
import { TokenService } from './auth/token-service';
import { ConfigError, loadConfig, type Config } from './config';
import { ConversationService } from './conversations/conversation-service';
import { ConversationList } from './conversations/conversation-list';
import { registerConversationModel } from './conversations/conversation-model';
import { ConversationWorkflow } from './conversations/conversation-workflow';
import { ReadPositions } from './conversations/read-positions';
import { StatusNotes } from './conversations/status-notes';
import { migrateConversationStatuses } from './conversations/status-migration';
import { systemSweepClock, WorkflowSweeper } from './conversations/workflow-sweeper';
import { registerCannedResponseModel } from './canned-responses/canned-response-model';
import { CannedResponseService } from './canned-responses/canned-response-service';
import { cannedResponseRoutes } from './canned-responses/canned-response-routes';
import { createHttpApp, createMetricsApp } from './http/app';
import { contractRoutes, docsRoutes } from './http/contract-routes';
import { listRoutes, type RegisteredRoute } from './http/route-list';
import { healthRoutes } from './http/health-routes';
import { answerClientErrors } from './http/client-errors';
import { metricsRoutes } from './http/metrics-routes';
import { HttpAuth } from './http/http-auth';
import { openDatabase } from './infra/database';
import { Clock } from './infra/clock';
import { EventBus } from './infra/event-bus';
import { createLogger, type Logger } from './infra/logger';
import { Metrics } from './infra/metrics';
import { createRateLimits } from './infra/rate-limits';
import { LeaseLocks, registerLockModel } from './infra/lease-lock';
import { connectRedis } from './infra/redis';
import { LeadService } from './leads/lead-service';
import { LeadSearch } from './leads/lead-search';
import { LeadMerge } from './leads/lead-merge';
import { LeadErasure } from './leads/lead-erasure';
import { leadRoutes } from './leads/lead-routes';
import { LeadBlock } from './leads/lead-block';
import { leadBlockRoutes } from './leads/lead-block-routes';
import { MemoryBlockGate, RedisBlockGate } from './leads/visitor-block-gate';
import { registerNoteModel } from './notes/note-model';
import { NoteService } from './notes/note-service';
import { noteRoutes } from './notes/note-routes';
import { registerPropertyModels } from './properties/property-model';
import { PropertyService } from './properties/property-service';
import { propertyRoutes } from './properties/property-routes';
import { LeadFilterSearch } from './leads/lead-filter-search';
import { leadFilterRoutes } from './leads/lead-filter-routes';
import { LeadBulk } from './leads/lead-bulk';
import { backfillEmailDomains } from './leads/lead-email-domain';
import { backfillPropIndex } from './leads/lead-prop-index';
import { registerSegmentModel } from './segments/segment-model';
import { SegmentService } from './segments/segment-service';
import { segmentRoutes } from './segments/segment-routes';
import { conversationRoutes } from './conversations/conversation-routes';
import { registerLeadModel } from './leads/lead-model';
import { MessageService } from './messages/message-service';
import { registerMessageModel } from './messages/message-model';
import { adminRoutes } from './projects/admin-routes';
import { ProjectService } from './projects/project-service';
import { projectRoutes } from './projects/project-routes';
import { registerProjectModel } from './projects/project-model';
import { setupAgentNamespace } from './realtime/agent-namespace';
import { attachBroadcaster } from './realtime/broadcaster';
import { createSocketServer } from './realtime/socket-server';
import { setupVisitorNamespace } from './realtime/visitor-namespace';
import { capConnections, ConnectionCaps } from './realtime/connection-caps';
import { SendBufferGuard } from './realtime/send-buffer-guard';
import { addressResolver } from './http/client-address';
import { seedDemo, type DemoCredentials } from './seed/demo-seed';
import { PresenceService } from './presence/presence-service';
import { presenceTiming } from './presence/presence-store';
import { MemoryPresenceStore } from './presence/memory-presence-store';
import { RedisPresenceStore } from './presence/redis-presence-store';
import { registerTeamModel } from './teams/team-model';
import { TeamService } from './teams/team-service';
import { teamRoutes } from './teams/team-routes';
import { registerAgentRoutingModel } from './routing/agent-routing-model';
import { registerRoutingSettingsModel } from './routing/routing-settings-model';
import { RoutingSettingsService } from './routing/routing-settings-service';
import { AgentSlots } from './routing/agent-slots';
import { Queue } from './routing/queue';
import { Assigner } from './routing/assigner';
import { RoutingService } from './routing/routing-service';
import { routingRoutes } from './routing/routing-routes';
import { registerBusinessHoursModel } from './hours/business-hours-model';
import { BusinessHoursService } from './hours/business-hours-service';
import { AvailabilityService } from './hours/availability-service';
import { hoursRoutes } from './hours/hours-routes';
import { printBanner } from './banner';
import { dropRetiredDeliveryIndexes, registerDeliveryModel } from './webhooks/delivery-model';
import { DeliveryWorker } from './webhooks/delivery-worker';
import { DestinationGuard } from './webhooks/destination-guard';
import { Outbox } from './webhooks/outbox';
import { LoadGauge } from './infra/load-gauge';
import { OutboxSweeper } from './webhooks/outbox-sweeper';
import { WebhookDirectory } from './webhooks/webhook-directory';
import { registerWebhookModel } from './webhooks/webhook-model';
import { webhookRoutes } from './webhooks/webhook-routes';
import { WebhookSender } from './webhooks/webhook-sender';
import { WebhookService } from './webhooks/webhook-service';
import { registerImportModels } from './imports/import-model';
import { ImportRunner } from './imports/import-runner';
import { ImportService } from './imports/import-service';
import { ImportWriter } from './imports/import-writer';
import { importRoutes } from './imports/import-routes';
import { registerActivityModel } from './activity/activity-model';
import { ActivityService } from './activity/activity-service';
import { activityRoutes } from './activity/activity-routes';
import { MemoryLastSeenThrottle, RedisLastSeenThrottle } from './activity/last-seen';
import { LiveVisitors, MemoryLiveVisitorStore, RedisLiveVisitorStore } from './activity/live-visitors';
import { registerLeadHistoryModel } from './leads/lead-history-model';
import { LeadHistory } from './leads/lead-history';
import { LeadTimeline } from './leads/lead-timeline';

export interface RunningServer {
  url: string;
  port: number;
  config: Config;
  demo?: DemoCredentials;
  /** Every route registered on the HTTP app (the contract test checks each is documented). */
  routes: RegisteredRoute[];
  /** Stops accepting, closes sockets, waits for work in flight, disconnects. Idempotent. */
  stop(): Promise<void>;
}

/** How long a shutdown waits for open HTTP requests before cutting them. */
const SHUTDOWN_GRACE_MS = 5000;

/**
 * Wires every piece together: the only place that knows them all. Services get models and the
 * event bus; routes and socket namespaces get services; the broadcaster joins the bus to the
 * namespaces.
 */
export async function startServer(
  config: Config,
  logger: Logger = createLogger(config.logLevel),
): Promise<RunningServer> {
  const metrics = new Metrics();
  const database = await openDatabase(config, logger);
  const redis = config.redisUrl ? connectRedis(config.redisUrl, logger) : undefined;

  // Before the models are registered: registering one starts building its indexes.
  const retired = await dropRetiredDeliveryIndexes(database.connection);
  if (retired.length > 0) logger.info({ indexes: retired }, 'dropped webhook delivery indexes of an earlier version');
  const models = {
    projects: registerProjectModel(database.connection),
    agents: registerAgentModel(database.connection),
    leads: registerLeadModel(database.connection),
    notes: registerNoteModel(database.connection),
    conversations: registerConversationModel(database.connection),
    messages: registerMessageModel(database.connection),
    locks: registerLockModel(database.connection),
    pendingStandings: registerPendingStandingModel(database.connection),
    cannedResponses: registerCannedResponseModel(database.connection),
    teams: registerTeamModel(database.connection),
    agentRouting: registerAgentRoutingModel(database.connection),
    routingSettings: registerRoutingSettingsModel(database.connection),
    businessHours: registerBusinessHoursModel(database.connection),
    webhooks: registerWebhookModel(database.connection),
    deliveries: registerDeliveryModel(database.connection),
    ...registerPropertyModels(database.connection),
    segments: registerSegmentModel(database.connection),
    activities: registerActivityModel(database.connection),
    leadHistory: registerLeadHistoryModel(database.connection),
  };
  const importModels = registerImportModels(database.connection);
  // Unique indexes carry correctness (one lead per user, no duplicate seq): build them before serving.
  await Promise.all([...Object.values(models), ...Object.values(importModels)].map((model) => model.init()));
  // Statuses of the previous version (assigned, closed) become this version's before anything reads them.
  await migrateConversationStatuses(database.connection, models.conversations, logger);

  const bus = new EventBus({
    onPublish: (name) => metrics.domainEvents.inc({ event: name }),
    onListenerError: (error, name) => logger.error({ err: error, event: name }, 'event listener failed'),
  });
  // What every node writes and another judges (token expiries, leases) runs on one clock: the
  // database's, when it is a server of its own (see Clock).
  const clock = new Clock();
  if (config.mongodbUri) await clock.follow(() => database.serverTime(), logger);
  const tokens = new TokenService(config.jwt, clock);
  const rateLimits = createRateLimits(config, redis?.command);
  const projects = new ProjectService(models.projects, config.secretRotationGraceSeconds, clock);
  const passwords = new PasswordHasher({ ...SCRYPT_COST, N: config.passwordScryptN });
  // The agents' standing (exists, role, credential version) that every node checks each token
  // against: in Redis when there are several nodes, else in this single node's memory.
  const standings = redis
    ? new RedisStandingStore(redis.command, config.redisKeyPrefix, config.jwt.agentTtlSeconds * 1000)
    : new MemoryStandingStore();
  const standingSync = new StandingSync(models.pendingStandings, models.agents, standings, clock, logger);
  standingSync.start();
  const locks = new LeaseLocks(models.locks, clock);
  const agents = new AgentService(models.agents, bus, passwords, standings, standingSync, locks);
  // Webhooks: the outbox records the events that leave the system before their change is
  // acknowledged (it listens on the bus, and services mark their changes through it); the worker
  // on every node sends them; the sweeper records what a crash left unrecorded.
  const webhookDirectory = new WebhookDirectory(models.webhooks);
  // Deliveries give way to messages while messages keep this node busy (see LoadGauge).
  const loadGauge = new LoadGauge();
  loadGauge.start();
  const outbox = new Outbox(
    models.deliveries,
    webhookDirectory,
    { leads: models.leads, conversations: models.conversations, messages: models.messages },
    logger,
    clock,
  );
  const detachOutbox = outbox.attach(bus);
  const destinationGuard = new DestinationGuard(config.webhooks.allowPrivate);
  const webhookSender = new WebhookSender(destinationGuard, config.webhooks.timeoutMs);
  const deliveryWorker = new DeliveryWorker(
    models.deliveries,
    models.webhooks,
    webhookDirectory,
    webhookSender,
    bus,
    metrics,
    logger,
    config.webhooks,
    clock,
    loadGauge,
  );
  outbox.setWaker(() => deliveryWorker.wake());
  const outboxSweeper = new OutboxSweeper(
    {
      leads: models.leads,
      conversations: models.conversations,
      messages: models.messages,
      deliveries: models.deliveries,
    },
    outbox,
    locks,
    logger,
    clock,
  );

  const properties = new PropertyService(models.properties, models.propertySettings, models.leads);
  // Edits and merges, for contacts' timelines (issue 15).
  const leadHistory = new LeadHistory(models.leadHistory, models.leads);
  const leads = new LeadService(models.leads, models.conversations, bus, outbox, properties, leadHistory);
  const messages = new MessageService(models.messages, models.conversations, bus, config.messageMaxLength, {
    resolvedReply: (projectId) => projects.resolvedConversationReply(projectId),
    outbox,
    load: loadGauge,
  });
  const reads = new ReadPositions(models.conversations, models.messages, bus);
  // Presence: in Redis across nodes (a killed node's agents go offline after the grace period),
  // else in this node's memory.
  const timing = presenceTiming(config.presenceGraceMs);
  const presenceStore = redis
    ? new RedisPresenceStore(redis.command, config.redisKeyPrefix, timing)
    : new MemoryPresenceStore(config.presenceGraceMs);
  const presence = new PresenceService(presenceStore, bus, logger, timing);
  const businessHours = new BusinessHoursService(models.businessHours);
  const availability = new AvailabilityService(businessHours, presence, logger);
  const conversations = new ConversationService(models.conversations, leads, messages, reads, bus, {
    startFields: (projectId, now) => availability.startFields(projectId, now),
    outbox,
  });
  const teams = new TeamService(models.teams, agents, bus);
  const routingSettings = new RoutingSettingsService(models.routingSettings);
  const slots = new AgentSlots(models.agentRouting);
  const queue = new Queue(models.conversations);
  const routing = new RoutingService({
    conversations: models.conversations,
    slots,
    assigner: new Assigner({ conversations: models.conversations, slots, queue, teams, presence, bus, outbox }),
    settings: routingSettings,
    teams,
    agents,
    presence,
    bus,
    outbox,
    logger,
    metrics,
    sweepMs: config.routingSweepMs,
  });
  // Snoozes are set by one node and ended by another: both read the time from the shared clock.
  const workflow = new ConversationWorkflow(models.conversations, bus, () => clock.now(), outbox);
  const statusNotes = new StatusNotes(models.conversations, messages, bus, logger);
  const sweeper = new WorkflowSweeper(
    models.conversations,
    workflow,
    statusNotes,
    bus,
    logger,
    config.workflowSweepIntervalMs,
    { ...systemSweepClock, now: () => clock.now() },
    () => metrics.workflowSweeps.inc(),
  );
  const conversationList = new ConversationList(models.conversations, reads);
  const cannedResponses = new CannedResponseService(models.cannedResponses, models.conversations, leads, agents);
  const leadSearch = new LeadSearch(models.leads);
  const leadFilterSearch = new LeadFilterSearch(models.leads, properties);
  const segments = new SegmentService(models.segments, properties, leadFilterSearch);
  const propertyKeys = async (projectId: string) => (await properties.list(projectId)).items.map((p) => p.key);
  // Leads stored before `emailDomain` existed: filled in the background (see lead-email-domain.ts).
  backfillEmailDomains(models.leads, logger).catch((error: unknown) =>
    logger.warn({ err: error }, 'email domain backfill stopped; it runs again at the next start'),
  );
  // Leads stored before `propIndex` existed: filled in the background (see lead-prop-index.ts).
  backfillPropIndex(models.leads, logger).catch((error: unknown) =>
    logger.warn({ err: error }, 'property index backfill stopped; it runs again at the next start'),
  );
  // Blocked contacts (issue 15): one shared check per visitor command, on every node.
  const blockGate = redis
    ? new RedisBlockGate(redis.command, config.redisKeyPrefix, models.leads, clock)
    : new MemoryBlockGate(models.leads);
  const leadBlock = new LeadBlock(models.leads, blockGate, locks, bus, outbox, leadHistory);
  const leadMerge = new LeadMerge(
    models.leads,
    models.conversations,
    leads,
    locks,
    bus,
    outbox,
    leadBlock,
    models.notes,
    [models.activities, models.leadHistory],
    leadHistory,
  );
  const leadErasure = new LeadErasure(
    models.leads,
    models.conversations,
    models.messages,
    leads,
    locks,
    bus,
    outbox,
    models.notes,
    [models.activities, models.leadHistory],
  );
  const noteService = new NoteService(models.notes, models.leads, bus);
  // Visitor activity (issue 15): the live list in Redis across nodes (a dead node's visitors
  // expire after LIVE_VISITOR_TTL), else in this node's memory.
  const liveVisitors = new LiveVisitors(
    redis
      ? new RedisLiveVisitorStore(redis.command, config.redisKeyPrefix, config.activity.liveTtlMs)
      : new MemoryLiveVisitorStore(config.activity.liveTtlMs),
    config.activity.liveTtlMs,
    logger,
  );
  const activity = new ActivityService(
    models.activities,
    leads,
    bus,
    liveVisitors,
    redis
      ? new RedisLastSeenThrottle(redis.command, config.redisKeyPrefix, config.activity.lastSeenIntervalMs)
      : new MemoryLastSeenThrottle(config.activity.lastSeenIntervalMs),
    config.activity.maxPerLead,
    logger,
  );
  const leadTimeline = new LeadTimeline(
    models.leads,
    models.conversations,
    models.notes,
    models.activities,
    models.leadHistory,
    leadHistory,
    (projectId, userIds, leadId) => activity.adopt(projectId, userIds, leadId),
  );
  const detachActivity = activity.attach(bus);
  // Contact imports: any node runs any job, under a lease (see imports/import-runner.ts).
  const importRunner = new ImportRunner(
    importModels,
    new ImportWriter(models.leads, leads, leadMerge, locks),
    bus,
    clock,
    logger,
    config.imports,
  );
  const imports = new ImportService(importModels, clock, config.imports, () => importRunner.wake());
  const webhookService = new WebhookService(
    models.webhooks,
    models.deliveries,
    webhookDirectory,
    destinationGuard,
    outbox,
    projects,
    clock,
  );

  const authService = new AuthService({
    settings: config,
    tokens,
    projects,
    agents,
    leads,
    rateLimits,
    clock,
    availability: (projectId) => availability.of(projectId),
    blocks: blockGate,
  });

  const auth = new HttpAuth(tokens, agents, config.adminToken);
  const api = [
    authRoutes({ auth, authService }),
    adminRoutes({ auth, projects, agents }),
    projectRoutes({ auth, projects }),
    agentRoutes({ auth, agents }),
    leadRoutes({
      auth,
      logger,
      leads,
      search: leadSearch,
      merge: leadMerge,
      erasure: leadErasure,
      conversations: conversationList,
      propertyKeys,
    }),
    leadBlockRoutes({ auth, blocking: leadBlock }),
    noteRoutes({ auth, notes: noteService }),
    activityRoutes({ auth, timeline: leadTimeline, live: liveVisitors }),
    conversationRoutes({ auth, conversations: conversationList, messages }),
    cannedResponseRoutes({ auth, responses: cannedResponses }),
    teamRoutes({ auth, teams }),
    routingRoutes({ auth, routing, queue, presence, agents }),
    hoursRoutes({ auth, hours: businessHours }),
    webhookRoutes({ auth, webhooks: webhookService }),
    propertyRoutes({
      auth,
      properties,
      beforeDelete: (projectId, key) => segments.assertPropertyUnused(projectId, key),
    }),
    segmentRoutes({ auth, segments }),
    leadFilterRoutes({
      auth,
      logger,
      search: leadFilterSearch,
      bulk: new LeadBulk(models.leads, leadFilterSearch, properties, leadErasure, bus, leadHistory),
      propertyKeys,
    }),
    importRoutes({ auth, logger, imports }),
  ];
  const metricsRouter = metricsRoutes({
    metrics,
    ...(config.metricsToken ? { metricsToken: config.metricsToken } : {}),
  });
  const app = createHttpApp({
    config,
    logger,
    metrics,
    health: healthRoutes({ database, ...(redis ? { redis } : {}) }),
    ...(config.metricsPort === undefined ? { metricsRouter } : {}),
    api: [...api, contractRoutes()],
    pages: [docsRoutes(path.join(__dirname, '..', 'public', 'docs'))],
    staticDirs: [
      { mount: '/', dir: path.join(__dirname, '..', 'public') },
      // The SDK's <script> bundle, so the demo pages and any website can load it from the server.
      {
        mount: '/sdk',
        dir: path.join(__dirname, '..', '..', 'client-sdk', 'dist', 'browser'),
        precompressed: true,
      },
    ],
  });

  const httpServer = createServer(app);
  answerClientErrors(httpServer, metrics);
  const io = createSocketServer(httpServer, config, logger, metrics, redis);
  const sendBuffer = new SendBufferGuard({ limitBytes: config.socketSendBufferLimit, logger, metrics });
  sendBuffer.attach(io);
  const visitorNamespace = setupVisitorNamespace(io, {
    logger,
    metrics,
    tokens,
    projects,
    leads,
    conversations,
    reads,
    messages,
    rateLimits,
    sendBuffer,
    clock,
    blocks: blockGate,
    activity,
    live: liveVisitors,
  });
  const agentNamespace = setupAgentNamespace(io, {
    config,
    logger,
    metrics,
    tokens,
    agents,
    conversations,
    workflow,
    reads,
    messages,
    rateLimits,
    sendBuffer,
    clock,
    presence,
    routing,
  });
  const detachBroadcaster = attachBroadcaster(bus, visitorNamespace, agentNamespace);
  const connectionCaps = new ConnectionCaps(
    { ...config.connectionCaps, keyPrefix: config.redisKeyPrefix },
    logger,
    redis?.command,
  );
  capConnections(connectionCaps, addressResolver(app), visitorNamespace, agentNamespace);
  connectionCaps.start();
  sweeper.start();
  presence.start();
  routing.start();
  liveVisitors.start();

  // On by default only on embedded defaults; SEED_DEMO=true asks for it on any database.
  const demo = config.seedDemo ? await seedDemo(config.dataDir, projects, agents) : undefined;
  const metricsServer =
    config.metricsPort === undefined ? undefined : createServer(createMetricsApp(logger, metrics, metricsRouter));
  if (metricsServer) answerClientErrors(metricsServer, metrics);
  if (metricsServer) await listen(metricsServer, config.metricsPort ?? 0, config.host, 'METRICS_PORT');
  await listen(httpServer, config.port, config.host);
  deliveryWorker.start();
  outboxSweeper.start();
  importRunner.start();
  const { port } = httpServer.address() as AddressInfo;
  const metricsPort = metricsServer ? (metricsServer.address() as AddressInfo).port : undefined;
  const url = `http://${config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host}:${port}`;
  logger.info({ url, port, metricsPort, database: database.description, redis: redis ? 'on' : 'off' }, 'listening');

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      logger.info('shutting down');
      await routing.stop();
      // Between two rows: the job's lease is freed so that another node continues it at once.
      await importRunner.stop();
      detachBroadcaster();
      liveVisitors.stop();
      detachActivity();
      standingSync.stop();
      await sweeper.stop();
      clock.stop();
      // io.close() disconnects every socket and closes the HTTP server to new connections. Its
      // callback runs once the HTTP server has closed (later than its own promise settles); a
      // rejection of that promise fails the shutdown instead of going unhandled.
      const closed = new Promise<void>((resolve, reject) => {
        io.close(() => resolve()).catch(reject);
      });
      const cut = setTimeout(() => httpServer.closeAllConnections(), SHUTDOWN_GRACE_MS);
      httpServer.closeIdleConnections();
      await closed;
      clearTimeout(cut);
      // Nothing is published any more: what was, is written; then the sends in flight are cut
      // and handed back to the other nodes.
      await outbox.drain();
      detachOutbox();
      await deliveryWorker.stop();
      loadGauge.stop();
      await outboxSweeper.stop();
      webhookSender.close();
      await connectionCaps.stop();
      // After the sockets closed: this node leaves presence, so its agents' grace periods start now.
      await presence.stop();
      if (metricsServer) {
        metricsServer.closeAllConnections();
        await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
      }
      await redis?.close();
      await database.close();
      logger.info('stopped');
    })());

  return { url, port, config, ...(demo ? { demo } : {}), routes: listRoutes(app), stop };
}

/** The port is taken, or HOST is no address of this machine: a configuration problem, said in one line. */
export class ListenError extends Error {
  constructor(host: string, port: number, cause: NodeJS.ErrnoException, variable = 'PORT') {
    const why =
      cause.code === 'EADDRINUSE'
        ? `${variable} ${port} is already in use`
        : cause.code === 'ENOTFOUND' || cause.code === 'EADDRNOTAVAIL' || cause.code === 'EAI_AGAIN'
          ? `HOST ${host} is not an address of this machine`
          : `${cause.code ?? cause.message}`;
    super(`cannot listen on ${host}:${port}: ${why}`);
    this.name = 'ListenError';
  }
}

/**
 * Connections the kernel may hold for the process before it accepts them. Node's default (511)
 * is less than a reconnect wave or a page-load burst brings while the process is busy for a moment
 * (a GC pause, a burst of handshakes): the kernel then drops the SYNs beyond it, and each of those
 * clients waits 1 s, 3 s, 7 s… to try again, or gives up. The kernel caps it at
 * `net.core.somaxconn` (4096 on Linux 5.4 and later).
 */
const LISTEN_BACKLOG = 4096;

function listen(server: HttpServer, port: number, host: string, variable = 'PORT'): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (error: NodeJS.ErrnoException) => reject(new ListenError(host, port, error, variable));
    server.once('error', fail);
    server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', fail);
      resolve();
    });
  });
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`parley: invalid configuration: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection'));

  // Signals are handled from the start: a SIGTERM while starting up still shuts down cleanly.
  const boot: { starting?: Promise<RunningServer> } = {};
  const shutdown = (signal: string) => {
    logger.info({ signal }, 'signal received');
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    (boot.starting ?? Promise.reject(new Error('not started')))
      .then((server) => server.stop())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));

  const starting = startServer(config, logger);
  boot.starting = starting;
  let server: RunningServer;
  try {
    server = await starting;
  } catch (error) {
    if (error instanceof ListenError) process.stderr.write(`parley: ${error.message}\n`);
    else logger.fatal({ err: error }, 'could not start');
    process.exit(1);
  }
  if (config.env !== 'production') printBanner(server);
}

if (require.main === module) {
  void main();
}
