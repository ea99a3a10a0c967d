// The baseline: bare Fastify + @fastify/http-proxy with their defaults, logging off.
// Usage: node bare.mjs PORT ORIGIN_URL
import Fastify from 'fastify'
import proxy from '@fastify/http-proxy'
import process from 'node:process'
const app = Fastify({ logger: false })
await app.register(proxy, { upstream: process.argv[3] })
await app.listen({ port: Number(process.argv[2]), host: '127.0.0.1' })
