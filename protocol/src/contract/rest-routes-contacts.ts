/**
 * REST endpoints of the contacts CRM surface (typed properties, filters, segments), kept apart
 * from `rest-routes.ts` so that their rows read together; `REST_ROUTES` includes them.
 */
import type { z } from 'zod';
import {
  leadBulkCompletedEventSchema,
  leadBulkSchema,
  leadFilterExportSchema,
  leadSearchResponseSchema,
  leadSearchSchema,
  propertyCreateSchema,
  propertyListResponseSchema,
  propertyPatchSchema,
  propertySchema,
  propertySettingsResponseSchema,
  propertySettingsSchema,
  segmentCreateSchema,
  segmentLeadsQuerySchema,
  segmentListResponseSchema,
  segmentPatchSchema,
  segmentSchema,
  leadTimelinePageSchema,
  leadTimelineQuerySchema,
  liveVisitorsResponseSchema,
} from '../schemas';
import type { RestRoute, SuccessResponse } from './rest-routes';

const json = (description: string, schema: z.ZodType): SuccessResponse => ({ description, schema });
const noContent: SuccessResponse = { description: 'Done; no body.' };

export const CONTACT_ROUTES: RestRoute[] = [
  // ---- activity (issue 15) ----
  {
    method: 'get',
    path: '/v1/projects/:projectId/leads/:leadId/timeline',
    summary: "A contact's timeline",
    description:
      'Its conversations (when started), notes, page views and custom events, edits and merges, newest first, cursor-paged (stable while new items arrive: they come before the cursor).',
    tag: 'Leads',
    access: 'agent',
    query: leadTimelineQuerySchema,
    responses: { 200: json('One page of the timeline.', leadTimelinePageSchema) },
  },
  {
    method: 'get',
    path: '/v1/projects/:projectId/visitors/live',
    summary: 'Visitors on the site now',
    description:
      'Every visitor with an open socket on any node, once however many tabs, with its current page; the most recently active first (at most 500, `total` counts all). A visitor whose node died leaves the list after `LIVE_VISITOR_TTL`.',
    tag: 'Leads',
    access: 'agent',
    responses: { 200: json('The visitors on the site.', liveVisitorsResponseSchema) },
  },
  // ---- filters ----
  {
    method: 'post',
    path: '/v1/projects/:projectId/leads/search',
    summary: 'Search contacts by filter tree',
    description:
      'A filter tree (and/or of conditions on built-in fields and properties), free text `q`, a sort and cursor paging. `total` is exact up to 10,000, then 10,000 with `totalCapped`. BAD_REQUEST names the offending condition by its path.',
    tag: 'Leads',
    access: 'agent',
    body: leadSearchSchema,
    responses: { 200: json('One page of matches.', leadSearchResponseSchema) },
  },
  {
    method: 'post',
    path: '/v1/projects/:projectId/leads/export.csv',
    summary: 'Export the contacts a filter tree matches, as CSV',
    description: 'Streams every match, oldest first, with a column per property.',
    tag: 'Leads',
    access: 'owner',
    body: leadFilterExportSchema,
    responses: { 200: { description: 'CSV, one contact a row.', contentType: 'text/csv' } },
  },
  {
    method: 'post',
    path: '/v1/projects/:projectId/leads/bulk',
    summary: 'Act on every contact a filter tree matches',
    description:
      'Adds or removes tags, sets a property, or erases the contacts, in chunks; answers with the summary that the `lead.bulk.completed` event carries.',
    tag: 'Leads',
    access: 'owner',
    body: leadBulkSchema,
    responses: { 200: json('What the action did.', leadBulkCompletedEventSchema) },
  },
  // ---- properties ----
  {
    method: 'get',
    path: '/v1/projects/:projectId/properties',
    summary: 'List contact properties',
    description: 'Every definition, by key, and whether attribute keys without one are refused.',
    tag: 'Leads',
    access: 'agent',
    responses: { 200: json('The definitions.', propertyListResponseSchema) },
  },
  {
    method: 'post',
    path: '/v1/projects/:projectId/properties',
    summary: 'Define a contact property',
    description:
      'CONFLICT when the key is defined already, or when contacts hold values of the key that are not of the type.',
    tag: 'Leads',
    access: 'owner',
    body: propertyCreateSchema,
    responses: { 201: json('Created.', propertySchema) },
    errors: ['CONFLICT'],
  },
  {
    method: 'get',
    path: '/v1/projects/:projectId/properties/:propertyId',
    summary: 'Read a contact property',
    tag: 'Leads',
    access: 'agent',
    responses: { 200: json('The definition.', propertySchema) },
  },
  {
    method: 'patch',
    path: '/v1/projects/:projectId/properties/:propertyId',
    summary: 'Change a contact property',
    description:
      'A type or options change retypes every stored value; it is refused with CONFLICT while a contact holds a value that does not convert.',
    tag: 'Leads',
    access: 'owner',
    body: propertyPatchSchema,
    responses: { 200: json('The changed definition.', propertySchema) },
    errors: ['CONFLICT'],
  },
  {
    method: 'delete',
    path: '/v1/projects/:projectId/properties/:propertyId',
    summary: 'Delete a contact property and its values',
    description: 'Removes the value from every contact. CONFLICT while a saved segment filters on it.',
    tag: 'Leads',
    access: 'owner',
    responses: { 204: noContent },
    errors: ['CONFLICT'],
  },
  {
    method: 'put',
    path: '/v1/projects/:projectId/property-settings',
    summary: 'Set whether undefined attribute keys are refused',
    tag: 'Leads',
    access: 'owner',
    body: propertySettingsSchema,
    responses: { 200: json('The settings.', propertySettingsResponseSchema) },
  },
  // ---- segments ----
  {
    method: 'get',
    path: '/v1/projects/:projectId/segments',
    summary: 'List segments (saved contact filters)',
    tag: 'Leads',
    access: 'agent',
    responses: { 200: json('The segments, by name.', segmentListResponseSchema) },
  },
  {
    method: 'post',
    path: '/v1/projects/:projectId/segments',
    summary: 'Save a segment',
    description: 'The filter is checked like a search filter (BAD_REQUEST naming the condition).',
    tag: 'Leads',
    access: 'agent',
    body: segmentCreateSchema,
    responses: { 201: json('Created.', segmentSchema) },
    errors: ['CONFLICT'],
  },
  {
    method: 'get',
    path: '/v1/projects/:projectId/segments/:segmentId',
    summary: 'Read a segment',
    tag: 'Leads',
    access: 'agent',
    responses: { 200: json('The segment.', segmentSchema) },
  },
  {
    method: 'patch',
    path: '/v1/projects/:projectId/segments/:segmentId',
    summary: 'Change a segment',
    tag: 'Leads',
    access: 'agent',
    body: segmentPatchSchema,
    responses: { 200: json('The changed segment.', segmentSchema) },
  },
  {
    method: 'delete',
    path: '/v1/projects/:projectId/segments/:segmentId',
    summary: 'Delete a segment',
    tag: 'Leads',
    access: 'agent',
    responses: { 204: noContent },
  },
  {
    method: 'get',
    path: '/v1/projects/:projectId/segments/:segmentId/leads',
    summary: "A segment's contacts",
    description: "Runs the segment's filter with the search's sort and cursor paging.",
    tag: 'Leads',
    access: 'agent',
    query: segmentLeadsQuerySchema,
    responses: { 200: json('One page of matches.', leadSearchResponseSchema) },
  },
];
