/**
 * Writing application/problem+json answers, through Fastify or straight onto a
 * socket (client errors and failed upgrades happen before Fastify sees a request).
 * Bodies never carry stack traces or internal addresses.
 */
import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyReply } from 'fastify'
import { PROBLEM_CONTENT_TYPE, problemBody, type ErrorDef } from './errors.js'

export function sendProblem (reply: FastifyReply, error: ErrorDef, detail: string, closeConnection = false): FastifyReply {
  reply.code(error.status).header('content-type', PROBLEM_CONTENT_TYPE)
  if (closeConnection) reply.header('connection', 'close')
  return reply.send(JSON.stringify(problemBody(error, detail, String(reply.request.id))))
}

/** A complete HTTP/1.1 response for a raw socket; the connection is closed after it. */
export function rawProblemResponse (error: ErrorDef, detail: string, requestId: string): string {
  const body = JSON.stringify(problemBody(error, detail, requestId))
  return `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? ''}\r\n` +
    `content-type: ${PROBLEM_CONTENT_TYPE}\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\n` +
    `x-request-id: ${requestId}\r\n` +
    'connection: close\r\n\r\n' + body
}

export function writeRawProblem (socket: Duplex, error: ErrorDef, detail: string, requestId: string): void {
  if (socket.writable) socket.end(rawProblemResponse(error, detail, requestId))
  else socket.destroy()
}
