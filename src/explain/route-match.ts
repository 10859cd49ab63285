import type { Route } from '../envoy/messages.ts';

/**
 * Which of the generated routes a request with these headers would take: the same first-match walk Envoy and
 * gRPC do, over the header matchers infermesh emits (exact_match, present_match on prefix "/").
 */
export function firstMatchingRoute(routes: readonly Route[], headers: Readonly<Record<string, string>>): Route | undefined {
  return routes.find((route) => {
    const match = route.match;
    if (match?.prefix !== '/') return false;
    return (match.headers ?? []).every((header) => {
      const value = header.name === undefined ? undefined : headers[header.name];
      if (header.present_match) return value !== undefined;
      return header.exact_match !== undefined && value === header.exact_match;
    });
  });
}
