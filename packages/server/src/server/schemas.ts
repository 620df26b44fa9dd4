// JSON schemas shared by several routes. Fastify validates requests against
// them, serialises responses with them, and @fastify/swagger publishes them.

export const email = { type: 'string', minLength: 3, maxLength: 254 } as const
// The policy (10-128 characters) is checked in code for a precise message; this only bounds the size.
export const password = { type: 'string', minLength: 1, maxLength: 1024 } as const
export const opaqueToken = { type: 'string', minLength: 1, maxLength: 1024 } as const
export const sessionIdParam = {
  type: 'object',
  required: ['session_id'],
  properties: { session_id: { type: 'string', minLength: 1, maxLength: 400 } },
} as const
export const userIdParam = {
  type: 'object',
  required: ['user_id'],
  properties: { user_id: { type: 'string', minLength: 1, maxLength: 200 } },
} as const

export const problem = {
  type: 'object',
  description: 'RFC 9457 problem details',
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string' },
  },
} as const

export const tokenResponse = {
  type: 'object',
  description: 'RFC 6749 section 5.1 token response, plus session_id. In browser cookie mode refresh_token is in the tessera_refresh cookie instead.',
  required: ['access_token', 'token_type', 'expires_in', 'session_id'],
  properties: {
    access_token: { type: 'string' },
    token_type: { type: 'string', enum: ['Bearer', 'DPoP'] },
    expires_in: { type: 'integer' },
    refresh_token: { type: 'string' },
    session_id: { type: 'string' },
  },
} as const

export const sessionItem = {
  type: 'object',
  properties: {
    session_id: { type: 'string' },
    created_at: { type: 'string', format: 'date-time' },
    last_seen_at: { type: 'string', format: 'date-time' },
    expires_at: { type: 'string', format: 'date-time' },
    device_name: { type: 'string' },
    user_agent: { type: 'string' },
    browser: { type: 'string' },
    os: { type: 'string' },
    ip: { type: 'string' },
    current: { type: 'boolean' },
    dpop_bound: { type: 'boolean' },
  },
} as const

export const sessionList = { type: 'object', properties: { sessions: { type: 'array', items: sessionItem } } } as const

export const noContent = { type: 'null', description: 'No content' } as const
export const accepted = { type: 'null', description: 'Accepted' } as const
