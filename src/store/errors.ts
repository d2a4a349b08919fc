// API errors carry what the apiserver would return: an HTTP code and a metav1.Status body.
export interface StatusCause {
  reason: string;
  message: string;
  field?: string;
}

export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  details?: { name?: string; group?: string; kind?: string; causes?: StatusCause[] };
  code: number;
}

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusBody['details'],
  ) {
    super(message);
  }

  toStatus(): StatusBody {
    const body: StatusBody = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      code: this.code,
    };
    if (this.details) body.details = this.details;
    return body;
  }
}

/** `group` is '' for core; `resource` is the plural, as in the apiserver's messages. */
export function notFound(group: string, resource: string, name: string): ApiError {
  const gr = group ? `${resource}.${group}` : resource;
  return new ApiError(404, 'NotFound', `${gr} "${name}" not found`, { name, group, kind: resource });
}

export function alreadyExists(group: string, resource: string, name: string): ApiError {
  const gr = group ? `${resource}.${group}` : resource;
  return new ApiError(409, 'AlreadyExists', `${gr} "${name}" already exists`, { name, group, kind: resource });
}

export function conflict(group: string, resource: string, name: string): ApiError {
  const gr = group ? `${resource}.${group}` : resource;
  return new ApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${gr} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { name, group, kind: resource },
  );
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, 'BadRequest', message);
}
