/** `Status` objects, the shape every Kubernetes API error (and some successes) takes on the wire. */

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: { reason?: string; message?: string; field?: string }[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: { continue?: string };
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

/** Reasons the API server uses for each code (k8s.io/apimachinery/pkg/apis/meta/v1 StatusReason). */
const REASON_BY_CODE: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Expired',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

export function failure(code: number, message: string, reason = REASON_BY_CODE[code] ?? 'Unknown', details?: StatusDetails): Status {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

/** An API error carrying the Status the server answers with. */
export class ApiError extends Error {
  readonly status: Status;
  constructor(status: Status) {
    super(status.message ?? status.reason ?? String(status.code));
    this.status = status;
  }
}

export function apiError(code: number, message: string, reason?: string, details?: StatusDetails): ApiError {
  return new ApiError(failure(code, message, reason, details));
}

/** The Status a watch sends (as an ERROR event) or a list answers (as HTTP 410) for a compacted resourceVersion. */
export function tooOldResourceVersion(requested: string, oldest: number): Status {
  return failure(410, `too old resource version: ${requested} (${oldest})`, 'Expired');
}
