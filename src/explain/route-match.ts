type Json = Record<string, unknown>;

interface HeaderMatcherJson {
  name: string;
  exact_match?: string;
  present_match?: boolean;
}

/**
 * Which of the generated routes a request with these headers would take: the same first-match walk Envoy and
 * gRPC do, over the header matchers infermesh emits (exact_match, present_match on prefix "/").
 */
export function firstMatchingRoute(routes: readonly Json[], headers: Readonly<Record<string, string>>): Json | undefined {
  return routes.find((route) => {
    const match = route['match'] as { prefix?: string; headers?: HeaderMatcherJson[] } | undefined;
    if (match?.prefix !== '/') return false;
    return (match.headers ?? []).every((header) => {
      const value = headers[header.name];
      if (header.present_match) return value !== undefined;
      return header.exact_match !== undefined && value === header.exact_match;
    });
  });
}
