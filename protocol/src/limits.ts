/** Bounds shared by the schemas, the server and the SDK. */
export const LIMITS = {
  /** Default longest message text; the server may lower or raise it up to `messageTextHardMax`. */
  messageTextDefaultMax: 4000,
  /** No configuration can accept longer texts: Socket.IO frames are capped at 64 KB. */
  messageTextHardMax: 16000,
  attributesMax: 50,
  attributeKeyMax: 64,
  attributeValueMax: 1000,
  nameMax: 200,
  emailMax: 254,
  phoneMax: 40,
  tagMax: 50,
  tagsMax: 50,
  clientKeyMax: 128,
  idMax: 64,
  pageLimitMax: 100,
  /** An agent's note on a lead (issue 15). */
  noteTextMax: 10_000,
  pageLimitDefault: 20,
  historyLimitMax: 200,
  historyLimitDefault: 50,
  searchQueryMax: 100,
  mergeSourcesMax: 50,
  tokenMax: 8192,
  passwordMin: 10,
  passwordMax: 200,
  allowedOriginsMax: 50,
  preChatFieldsMax: 20,
  /** The furthest a conversation can be snoozed ahead. */
  snoozeMaxDays: 365,
  shortCodeMax: 50,
  cannedResponseTextMax: 4000,
  /** `seq`s are at most this large (a conversation of a billion messages is not a chat). */
  seqMax: 1_000_000_000,
  webhooksPerProject: 20,
  webhookUrlMax: 2048,
  webhookDescriptionMax: 500,
  /** Visitor activity (issue 15): page views and custom events the SDK reports. */
  activityUrlMax: 2048,
  activityTitleMax: 500,
  activityNameMax: 100,
  activityPropsMax: 20,
  activityPropValueMax: 500,
  /** The live visitors list answers at most this many (the most recently active first). */
  liveVisitorsMax: 500,
} as const;
