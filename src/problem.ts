/**
 * Writing application/problem+json answers: through Fastify (the admin port and the
 * control plane), onto a traffic response, or straight onto a socket (client errors
 * and failed upgrades happen before there is a request). Bodies never carry stack
 * traces or internal addresses.
 */
import { STATUS_CODES, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyReply } from 'fastify'
import { PROBLEM_CONTENT_TYPE, problemBody, type ErrorDef } from './errors.js'

export function sendProblem (reply: FastifyReply, error: ErrorDef, detail: string, closeConnection = false): FastifyReply {
  reply.code(error.status).header('content-type', PROBLEM_CONTENT_TYPE)
  if (closeConnection) reply.header('connection', 'close')
  return reply.send(problemJson(error, detail, String(reply.request.id)))
}

function problemJson (error: ErrorDef, detail: string, requestId: string): string {
  return JSON.stringify(problemBody(error, detail, requestId))
}

/** A problem as the traffic port's answer; nothing when the response has already begun. */
export function respondProblem (res: ServerResponse, requestId: string, error: ErrorDef, detail: string, closeConnection = false): void {
  if (res.headersSent) return
  const body = problemJson(error, detail, requestId)
  res.statusCode = error.status
  // As Fastify writes it on the admin port: one content type for every problem over HTTP.
  res.setHeader('content-type', `${PROBLEM_CONTENT_TYPE}; charset=utf-8`)
  res.setHeader('content-length', Buffer.byteLength(body))
  if (closeConnection) res.setHeader('connection', 'close')
  res.end(body)
}

/** A complete HTTP/1.1 response for a raw socket; the connection is closed after it. */
export function rawProblemResponse (error: ErrorDef, detail: string, requestId: string): string {
  const body = problemJson(error, detail, requestId)
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
