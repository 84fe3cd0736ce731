/**
 * REST endpoints of the contacts CRM surface (typed properties, filters, segments), kept apart
 * from `rest-routes.ts` so that their rows read together; `REST_ROUTES` includes them.
 */
import type { z } from 'zod';
import {
  propertyCreateSchema,
  propertyListResponseSchema,
  propertyPatchSchema,
  propertySchema,
  propertySettingsResponseSchema,
  propertySettingsSchema,
} from '../schemas';
import type { RestRoute, SuccessResponse } from './rest-routes';

const json = (description: string, schema: z.ZodType): SuccessResponse => ({ description, schema });
const noContent: SuccessResponse = { description: 'Done; no body.' };

export const CONTACT_ROUTES: RestRoute[] = [
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
];
