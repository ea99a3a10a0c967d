/**
 * What each backend declares it serves, read from its OpenAPI 3 document (file or
 * URL; parsed and validated by @readme/openapi-parser) or from a list of
 * "METHOD /path/{param}" lines. A source that cannot be read is reported, never
 * guessed at: its backend then counts as declaring nothing known.
 */
import { readFile } from 'node:fs/promises'
import { request } from 'undici'
import { parse as parseYaml } from 'yaml'
import { compileErrors, dereference, validate, type ParserOptions } from '@readme/openapi-parser'
import type { DeclaredSource } from '../config/config.js'
import { DECLARED_METHODS, endpointKey, parseListLine, templateProblem, type Endpoint } from './endpoint.js'

export interface Declaration {
  readonly backend: string
  readonly kind: DeclaredSource['kind']
  readonly location: string
  readonly endpoints: readonly Endpoint[]
  /** Why the source could not be read; endpoints is then empty. */
  readonly error: string | null
  readonly loadedAt: string
}

/** How long a URL may take to answer. */
const FETCH_TIMEOUT_MS = 5_000

export async function loadDeclaration (backend: string, source: DeclaredSource, now = Date.now()): Promise<Declaration> {
  const base = { backend, kind: source.kind, location: source.location, loadedAt: new Date(now).toISOString() }
  try {
    const endpoints = source.kind === 'list' ? await readList(source.location) : await readOpenApi(source.location)
    return { ...base, endpoints: unique(endpoints), error: null }
  } catch (err) {
    return { ...base, endpoints: [], error: (err as Error).message }
  }
}

function unique (endpoints: readonly Endpoint[]): Endpoint[] {
  const seen = new Map<string, Endpoint>()
  for (const e of endpoints) if (!seen.has(endpointKey(e.method, e.template))) seen.set(endpointKey(e.method, e.template), e)
  return [...seen.values()]
}

async function readList (file: string): Promise<Endpoint[]> {
  const lines = (await readFile(file, 'utf8')).split('\n')
  const out: Endpoint[] = []
  lines.forEach((line, i) => {
    const parsed = parseListLine(line)
    if (typeof parsed === 'string') throw new Error(`${file}:${i + 1}: ${parsed}`)
    if (parsed !== undefined) out.push(parsed)
  })
  return out
}

interface OpenApiDocument {
  readonly openapi?: string
  readonly servers?: ReadonlyArray<{ readonly url?: string }>
  readonly paths?: Readonly<Record<string, Readonly<Record<string, unknown>> | undefined>>
}

/** A document larger than this is refused: memory stays bounded whatever a URL answers. */
const MAX_DOCUMENT_BYTES = 8 * 1024 * 1024
const OPTIONS: ParserOptions = { timeoutMs: FETCH_TIMEOUT_MS }
type Source = Parameters<typeof validate>[0]

/**
 * An app's document over HTTP. Read here rather than by the parser, whose resolver
 * refuses loopback and private addresses (where an app's document usually is; the URL
 * is the operator's own, from routes.yaml) and has no size limit. Must be
 * self-contained: $refs to other URLs are not followed.
 */
async function fetchDocument (url: string): Promise<Source> {
  const res = await request(url, { headersTimeout: FETCH_TIMEOUT_MS, bodyTimeout: FETCH_TIMEOUT_MS, maxRedirections: 0, headers: { accept: 'application/yaml, application/json;q=0.9, */*;q=0.5' } } as Parameters<typeof request>[1])
  if (res.statusCode !== 200) {
    await res.body.dump()
    throw new Error(`${url}: answered ${res.statusCode}`)
  }
  const chunks: Buffer[] = []
  let bytes = 0
  for await (const chunk of res.body) {
    bytes += (chunk as Buffer).length
    if (bytes > MAX_DOCUMENT_BYTES) {
      res.body.destroy()
      throw new Error(`${url}: larger than ${MAX_DOCUMENT_BYTES} bytes`)
    }
    chunks.push(chunk as Buffer)
  }
  const doc = parseYaml(Buffer.concat(chunks).toString('utf8')) as unknown
  if (typeof doc !== 'object' || doc === null) throw new Error(`${url}: not a YAML or JSON document`)
  return doc as Source
}

async function readOpenApi (location: string): Promise<Endpoint[]> {
  const source: Source = /^https?:\/\//i.test(location) ? await fetchDocument(location) : location
  // validate() dereferences the object it is given in place; the paths are read from a second copy.
  const result = await validate(typeof source === 'string' ? source : structuredClone(source), OPTIONS)
  if (!result.valid) throw new Error(`${location}: not a valid OpenAPI document: ${compileErrors(result).split('\n').filter((l) => l.trim() !== '').slice(0, 3).join(' ')}`)
  const doc = await dereference(source, OPTIONS) as OpenApiDocument
  if (typeof doc.openapi !== 'string' || !doc.openapi.startsWith('3.')) throw new Error(`${location}: an OpenAPI 3 document is expected (openapi: 3.x)`)
  const prefix = basePath(doc.servers?.[0]?.url)
  const out: Endpoint[] = []
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    const template = prefix + path
    const problem = templateProblem(template)
    if (problem !== undefined) throw new Error(`${location}: paths."${path}": ${problem}`)
    for (const method of Object.keys(item ?? {})) {
      if (DECLARED_METHODS.has(method.toUpperCase())) out.push({ method: method.toUpperCase(), template })
    }
  }
  return out
}

/** servers[0].url's path ("https://shop.example/v1" or "/v1" → "/v1"): paths are relative to it. */
function basePath (url: string | undefined): string {
  if (url === undefined) return ''
  const path = URL.canParse(url) ? new URL(url).pathname : url.split(/[?#]/)[0] as string
  return path.replace(/\/+$/, '').replace(/\{[^}]*\}/g, '')
}
