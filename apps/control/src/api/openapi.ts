import { z } from 'zod';
import { ENDPOINTS, responses, type Endpoint } from './endpoints.js';

const ERROR_STATUSES: Record<string, string> = {
  '400': 'invalid_json, invalid_body, unknown_field, invalid_request, key_store_unsuitable',
  '401': 'key_missing, api_key_invalid, api_key_revoked, api_key_expired',
  '403': 'forbidden: the role may not call this endpoint',
  '404': 'key_not_found, not_found',
  '409': 'key_not_usable',
  '413': 'body_too_large',
  '415': 'unsupported_media_type: send application/json',
  '429': 'throttled: too many failed authentications from this address (Retry-After)',
  '500':
    'internal_error, master_key_missing, master_key_invalid, master_key_mismatch, key_store_corrupt',
  '503':
    'audit_unavailable, key_store_unavailable, key_store_busy, secret_sync_failed, no_active_key',
};

function schemaOf(type: z.ZodType, io: 'input' | 'output'): unknown {
  return z.toJSONSchema(type, { io, unrepresentable: 'any' });
}

/**
 * The OpenAPI 3.1 document of the control API, generated from the same endpoint table and zod
 * schemas that route, authorise and validate requests, so it cannot drift from the code.
 */
export function openApiDocument(version: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [name, e] of Object.entries(ENDPOINTS) as [string, Endpoint][]) {
    const path = e.path.replace(/:([A-Za-z]+)/g, '{$1}');
    const params = [...e.path.matchAll(/:([A-Za-z]+)/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    const errors = Object.fromEntries(
      Object.entries(ERROR_STATUSES).map(([status, description]) => [
        status,
        {
          description,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
      ]),
    );
    paths[path] = {
      ...paths[path],
      [e.method.toLowerCase()]: {
        operationId: name,
        summary: e.summary,
        description: `Roles: ${e.roles.join(', ')}. Audit action: \`${e.action}\`${e.method === 'POST' ? ' (recorded as operator.actionPerformed, refusals as operator.accessDenied)' : ''}.`,
        tags: [e.path.split('/')[2]],
        security: [{ apiKey: [] }],
        ...(params.length ? { parameters: params } : {}),
        ...(e.body
          ? {
              requestBody: {
                required: true,
                content: { 'application/json': { schema: schemaOf(e.body, 'input') } },
              },
            }
          : {}),
        responses: {
          [String(e.status)]: {
            description: 'success',
            content: { 'application/json': { schema: schemaOf(e.response, 'output') } },
          },
          ...errors,
        },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'sscontrol control API',
      version,
      description:
        'Operator API of sscontrol: client tokens, TURN credentials, the key ring and operator API keys. Authenticate with `Authorization: Bearer ssc_…` (create the first admin key with `sscontrol init`). Errors are `{ "error": { "code", "message", "requestId" } }`; the codes are listed in docs/control-api.md.',
    },
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', bearerFormat: 'ssc_<key id>.<secret>' },
      },
      schemas: { Error: schemaOf(responses.error, 'output') },
    },
    paths,
  };
}
