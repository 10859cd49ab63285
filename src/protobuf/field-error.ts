/**
 * A problem with one field of a protobuf message or its JSON form. `path` uses proto field names, list
 * indexes and map keys from the resource root: `virtual_hosts[0].routes[1].match.prefix`,
 * `metadata.filter_metadata["envoy.lb"]`. The root itself is the empty path.
 */
export interface FieldError {
  path: string;
  message: string;
}

/** `base.name`, or `name` at the root. */
export function fieldPath(base: string, name: string): string {
  return base === '' ? name : `${base}.${name}`;
}

/** `base[index]`. */
export function indexPath(base: string, index: number): string {
  return `${base}[${index}]`;
}

/** `base["key"]` for a map entry. */
export function keyPath(base: string, key: string): string {
  return `${base}[${JSON.stringify(key)}]`;
}

/** One line per error, `path: message`, for logs and CLI output. */
export function formatFieldErrors(errors: readonly FieldError[]): string {
  return errors.map((error) => (error.path === '' ? error.message : `${error.path}: ${error.message}`)).join('\n');
}
