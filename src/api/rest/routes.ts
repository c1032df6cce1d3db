/**
 * REST routes derived at start-up from the `google.api.http` annotations of the generated service
 * descriptors, so the gateway and the gRPC server share one handler map and cannot drift apart.
 * Watch is not exposed over REST (Permify's gateway never registers it; api-and-operations §1.3).
 */
import { getOption, type DescMethod, type DescService } from '@bufbuild/protobuf';
import { http as httpRule } from '../gen/google/api/annotations_pb.js';

export interface RestRoute {
  readonly httpMethod: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Template as annotated, e.g. `/v1/tenants/{tenant_id}/permissions/check`. */
  readonly template: string;
  /** Literal segments, or `{ param }` for a one-segment path parameter. */
  readonly segments: readonly (string | { readonly param: string })[];
  /** `*` (whole body into the request message) or "" (no body). */
  readonly body: string;
  readonly service: DescService;
  readonly method: DescMethod;
}

const NOT_SERVED_OVER_REST = new Set(['base.v1.Watch']);

/** Every REST route of `services`, in declaration order. */
export function deriveRoutes(services: readonly DescService[]): RestRoute[] {
  const routes: RestRoute[] = [];
  for (const service of services) {
    if (NOT_SERVED_OVER_REST.has(service.typeName)) continue;
    for (const method of service.methods) {
      const rule = getOption(method, httpRule);
      const p = rule.pattern;
      if (p.case === undefined || p.case === 'custom') continue;
      const template = p.value;
      const segments = template
        .split('/')
        .slice(1)
        .map((s) => {
          const m = /^\{([a-zA-Z_][a-zA-Z0-9_]*)\}$/.exec(s);
          return m ? { param: m[1] as string } : s;
        });
      routes.push({
        httpMethod: p.case.toUpperCase() as RestRoute['httpMethod'],
        template,
        segments,
        body: rule.body,
        service,
        method,
      });
    }
  }
  return routes;
}

export type RouteMatch =
  | { readonly kind: 'match'; readonly route: RestRoute; readonly params: Readonly<Record<string, string>> }
  | { readonly kind: 'method-not-allowed' }
  | { readonly kind: 'bad-param'; readonly param: string }
  /** A parameter segment that does not percent-decode to UTF-8 text (answered 400, not 404). */
  | { readonly kind: 'bad-escape'; readonly param: string }
  | { readonly kind: 'not-found' };

/** A matcher over `routes`: exact segment count, literals equal, parameters one percent-decoded segment. */
export function createRouter(routes: readonly RestRoute[]): (httpMethod: string, path: string) => RouteMatch {
  return (httpMethod, path) => {
    const parts = path.split('/').slice(1);
    let pathMatched = false;
    for (const route of routes) {
      if (route.segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      let badParam: string | undefined;
      let badEscape: string | undefined;
      for (let i = 0; i < parts.length && ok; i++) {
        const seg = route.segments[i] as RestRoute['segments'][number];
        const part = parts[i] as string;
        if (typeof seg === 'string') {
          ok = seg === part;
        } else if (part === '') {
          badParam ??= seg.param;
        } else {
          try {
            params[seg.param] = decodeURIComponent(part);
          } catch {
            badEscape ??= seg.param;
          }
        }
      }
      if (!ok) continue;
      if (route.httpMethod !== httpMethod) {
        pathMatched = true;
        continue;
      }
      if (badParam !== undefined) return { kind: 'bad-param', param: badParam };
      if (badEscape !== undefined) return { kind: 'bad-escape', param: badEscape };
      return { kind: 'match', route, params };
    }
    return pathMatched ? { kind: 'method-not-allowed' } : { kind: 'not-found' };
  };
}
