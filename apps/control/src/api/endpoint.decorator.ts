import { applyDecorators, Get, HttpCode, Post, SetMetadata } from '@nestjs/common';
import { ENDPOINTS, type EndpointName } from './endpoints.js';

/** Metadata key of the endpoint a handler serves. */
export const ENDPOINT = 'sscontrol:endpoint';

/** Binds a handler to its entry in {@link ENDPOINTS}: route, status, roles (read by the guard). */
export function Endpoint(name: EndpointName): MethodDecorator {
  const e = ENDPOINTS[name];
  return applyDecorators(
    e.method === 'GET' ? Get(e.path) : Post(e.path),
    HttpCode(e.status),
    SetMetadata(ENDPOINT, name),
  );
}
